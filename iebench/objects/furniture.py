"""Furniture: chair, table, sofa, bench, bed, lamp (metres, Y up, front towards +Z)."""

from __future__ import annotations

import numpy as np
from trimesh.transformations import rotation_matrix, translation_matrix

from iebench.objects.parts import (
    ACCENT,
    DETAIL,
    FRAME,
    MAIN,
    SIDES,
    Assembly,
    box,
    cone,
    cylinder,
    ellipsoid,
    lathe,
    rod,
    rotated,
    tube,
)


def _four_legs(
    a: Assembly, width: float, depth: float, top: float, radius: float, splay: float, sections: int
) -> None:
    for sx in SIDES:
        for sz in SIDES:
            upper = (sx * width / 2, top, sz * depth / 2)
            lower = (sx * (width / 2 + splay), 0.0, sz * (depth / 2 + splay))
            a.add(rod(lower, upper, radius, sections), FRAME)


def _chair_back(rng: np.random.Generator, width: float, height: float) -> Assembly:
    """An upright back standing on y=0 at z=0, before it is tilted and placed."""
    back = Assembly()
    kind = rng.choice(["slab", "slats", "ladder"])
    thickness = rng.uniform(0.025, 0.07)
    if kind == "slab":
        panel_width = width * rng.uniform(0.8, 1.0)
        back.add(box((panel_width, height, thickness), (0, height / 2, 0)), MAIN)
        return back
    post = rng.uniform(0.015, 0.03)
    for sx in SIDES:
        back.add(box((2 * post, height, 2 * post), (sx * (width / 2 - post), height / 2, 0)), FRAME)
    rail = rng.uniform(0.04, 0.12)
    back.add(box((width, rail, thickness), (0, height - rail / 2, 0)), MAIN)
    inner = width - 4 * post
    if kind == "slats":
        count = int(rng.integers(2, 6))
        slat = inner / count * rng.uniform(0.3, 0.6)
        for x in np.linspace(-inner / 2, inner / 2, count + 2)[1:-1]:
            back.add(box((slat, height - rail, thickness / 2), (x, (height - rail) / 2, 0)), MAIN)
    else:
        count = int(rng.integers(1, 4))
        for y in np.linspace(0, height - rail, count + 2)[1:-1]:
            back.add(box((inner, rail * 0.7, thickness / 2), (0, y, 0)), MAIN)
    return back


def chair(rng: np.random.Generator) -> Assembly:
    a = Assembly()
    width, depth = rng.uniform(0.4, 0.6), rng.uniform(0.38, 0.55)
    seat_t, seat_h = rng.uniform(0.03, 0.08), rng.uniform(0.4, 0.5)
    base = rng.choice(["four", "three", "pedestal", "sled"], p=[0.5, 0.15, 0.2, 0.15])
    round_seat = base in ("three", "pedestal") and rng.random() < 0.5
    if round_seat:
        depth = width
        a.add(cylinder(width / 2, seat_t, (0, seat_h - seat_t / 2, 0)), MAIN)
    else:
        a.add(box((width, seat_t, depth), (0, seat_h - seat_t / 2, 0)), MAIN)
    under = seat_h - seat_t
    if base == "four":
        inset = rng.uniform(0.01, 0.05)
        radius = rng.uniform(0.012, 0.03)
        legs_w, legs_d = width - 2 * inset, depth - 2 * inset
        _four_legs(a, legs_w, legs_d, under, radius, rng.uniform(0, 0.04), rng.choice([4, 12]))
        if rng.random() < 0.4:
            y = rng.uniform(0.08, 0.2)
            for sx in SIDES:
                a.add(
                    rod((sx * legs_w / 2, y, -legs_d / 2), (sx * legs_w / 2, y, legs_d / 2), 0.01),
                    FRAME,
                )
    elif base == "three":
        spread = width / 2 * rng.uniform(0.6, 0.9)
        # One leg at the back, under the backrest, so that the chair stands.
        for angle in np.arange(3) * 2 * np.pi / 3 - np.pi / 2:
            direction = np.array([np.cos(angle), 0.0, np.sin(angle)])
            top = direction * spread * 0.7 + (0, under, 0)
            a.add(rod(direction * spread * 1.1, top, rng.uniform(0.012, 0.025)), FRAME)
    elif base == "pedestal":
        hub = rng.uniform(0.05, 0.09)
        a.add(cylinder(rng.uniform(0.02, 0.035), under - hub, (0, (under + hub) / 2, 0)), FRAME)
        spokes = int(rng.choice([4, 5]))
        reach = rng.uniform(0.25, 0.33)
        for angle in np.arange(spokes) * 2 * np.pi / spokes:
            end = np.array([reach * np.cos(angle), 0.035, reach * np.sin(angle)])
            a.add(rod((0, hub, 0), end, 0.018, 6), FRAME)
            a.add(ellipsoid((0.025, 0.025, 0.025), end - (0, 0.01, 0), 8), DETAIL)
    else:  # sled: two bent runners
        for sx in SIDES:
            x = sx * width / 2 * rng.uniform(0.85, 1.0)
            path = np.array(
                [
                    (x, under, depth / 2),
                    (x, 0.01, depth / 2),
                    (x, 0.01, -depth / 2),
                    (x, under, -depth / 2),
                ]
            )
            a.add(tube(path, 0.012, 8), FRAME)
    back_h, tilt = rng.uniform(0.3, 0.6), rng.uniform(0.0, 0.25)
    back = _chair_back(rng, width, back_h)
    back.transform(_place_back(tilt, seat_h, -depth / 2 + 0.02))
    a.extend(back)
    if rng.random() < 0.4 and not round_seat:
        arm_h = seat_h + rng.uniform(0.17, 0.26)
        arm_w = rng.uniform(0.04, 0.08)
        for sx in SIDES:
            x = sx * (width / 2 - arm_w / 2)
            a.add(box((arm_w, 0.03, depth * 0.9), (x, arm_h, -depth * 0.05)), ACCENT)
            a.add(rod((x, seat_h, depth * 0.3), (x, arm_h, depth * 0.3), 0.015), FRAME)
    return a


def _place_back(tilt: float, seat_h: float, z: float) -> np.ndarray:
    return translation_matrix((0, seat_h, z)) @ rotation_matrix(-tilt, (1, 0, 0))


def table(rng: np.random.Generator) -> Assembly:
    """A top on legs, trestles or a pedestal; thick enough to read as a table at 64 px."""
    a = Assembly()
    height = rng.uniform(0.68, 0.78) if rng.random() < 0.8 else rng.uniform(0.4, 0.5)
    top_t = rng.uniform(0.035, 0.07)
    under = height - top_t
    if rng.random() < 0.25:
        radius = rng.uniform(0.4, 0.6)
        a.add(cylinder(radius, top_t, (0, height - top_t / 2, 0), sections=32), MAIN)
        if rng.random() < 0.5:
            a.add(cylinder(rng.uniform(0.05, 0.09), under, (0, under / 2, 0)), FRAME)
            foot = rng.uniform(0.25, 0.38)
            a.add(lathe([(0, 0), (foot, 0), (foot * 0.3, rng.uniform(0.05, 0.1)), (0, 0.1)]), FRAME)
        else:
            legs = int(rng.choice([3, 4]))
            leg = rng.uniform(0.03, 0.045)
            for angle in np.arange(legs) * 2 * np.pi / legs + np.pi / 4:
                d = np.array([np.cos(angle), 0, np.sin(angle)])
                a.add(rod(d * radius * 0.75, d * radius * 0.6 + (0, under, 0), leg), FRAME)
        return a
    width, depth = rng.uniform(0.9, 1.8), rng.uniform(0.6, 1.0)
    a.add(box((width, top_t, depth), (0, height - top_t / 2, 0)), MAIN)
    base = rng.choice(["legs", "trestle", "pedestal"], p=[0.65, 0.2, 0.15])
    inset = rng.uniform(0.03, 0.12)
    if base == "legs":
        leg = rng.uniform(0.05, 0.09)
        inset = max(inset, leg)  # the legs stay under the top
        legs_w, legs_d = width - 2 * inset, depth - 2 * inset
        _four_legs(a, legs_w, legs_d, under, leg / 2, 0.0, rng.choice([4, 16]))
        if rng.random() < 0.7:  # apron under the top
            apron = rng.uniform(0.07, 0.14)
            y = under - apron / 2
            a.add(box((legs_w, apron, 0.025), (0, y, legs_d / 2)), FRAME)
            a.add(box((legs_w, apron, 0.025), (0, y, -legs_d / 2)), FRAME)
            a.add(box((0.025, apron, legs_d), (legs_w / 2, y, 0)), FRAME)
            a.add(box((0.025, apron, legs_d), (-legs_w / 2, y, 0)), FRAME)
        if rng.random() < 0.3:
            a.add(box((legs_w, 0.025, legs_d), (0, rng.uniform(0.1, 0.25), 0)), ACCENT)
    elif base == "trestle":
        panel = rng.uniform(0.06, 0.12)
        inset = max(inset, panel)  # the feet stay under the top
        for sx in SIDES:
            x = sx * (width / 2 - inset)
            a.add(box((panel, under, depth * 0.8), (x, under / 2, 0)), FRAME)
            a.add(box((panel * 1.5, 0.05, depth * 0.9), (x, 0.025, 0)), FRAME)
        a.add(box((width - 2 * inset, 0.08, 0.05), (0, under * rng.uniform(0.2, 0.6), 0)), FRAME)
    else:
        for sx in SIDES if width > 1.3 else (0.0,):
            x = sx * width / 4
            a.add(box((0.12, under, 0.12), (x, under / 2, 0)), FRAME)
            a.add(box((0.35, 0.05, depth * 0.75), (x, 0.025, 0)), FRAME)
    return a


def sofa(rng: np.random.Generator) -> Assembly:
    a = Assembly()
    seats = int(rng.integers(1, 4))
    width = seats * rng.uniform(0.55, 0.75) + 0.3
    depth, seat_h = rng.uniform(0.8, 1.0), rng.uniform(0.38, 0.46)
    feet = rng.uniform(0.03, 0.12) if rng.random() < 0.7 else 0.0
    cushion = rng.uniform(0.1, 0.18)
    base_top = seat_h - cushion
    back_t, back_h = rng.uniform(0.15, 0.25), rng.uniform(0.72, 0.95)
    arm_w = rng.uniform(0.1, 0.25) if rng.random() < 0.85 else 0.0
    a.add(box((width, base_top - feet, depth), (0, (base_top + feet) / 2, 0)), MAIN)
    a.add(
        box((width, back_h - feet, back_t), (0, (back_h + feet) / 2, -(depth - back_t) / 2)), MAIN
    )
    inner = width - 2 * arm_w
    seat_d = depth - back_t
    for x in (np.arange(seats) + 0.5) * inner / seats - inner / 2:
        size = (inner / seats - 0.01, cushion, seat_d - 0.02)
        a.add(box(size, (x, base_top + cushion / 2, back_t / 2)), ACCENT)
        if rng.random() < 0.6:
            pillow = (inner / seats - 0.03, (back_h - seat_h) * 0.8, 0.12)
            a.add(box(pillow, (x, seat_h + pillow[1] / 2, -depth / 2 + back_t + 0.06)), ACCENT)
    if arm_w:
        arm_h = rng.uniform(0.55, 0.7)
        rolled = rng.random() < 0.4
        for sx in SIDES:
            x = sx * (width - arm_w) / 2
            a.add(box((arm_w, arm_h - feet, depth), (x, (arm_h + feet) / 2, 0)), MAIN)
            if rolled:
                a.add(cylinder(arm_w * 0.6, depth, (x, arm_h, 0), axis="z"), MAIN)
    if rng.random() < 0.25:  # a chaise along one side
        side = rng.choice(SIDES)
        reach = rng.uniform(0.5, 0.8)
        x = side * (width / 2 - arm_w - 0.35)
        a.add(
            box((0.7, base_top - feet, reach), (x, (base_top + feet) / 2, (depth + reach) / 2)),
            MAIN,
        )
        a.add(box((0.68, cushion, reach), (x, base_top + cushion / 2, (depth + reach) / 2)), ACCENT)
    if feet:
        for sx in SIDES:
            for sz in SIDES:
                at = (sx * (width / 2 - 0.06), feet / 2, sz * (depth / 2 - 0.06))
                a.add(cylinder(0.025, feet, at, sections=8), FRAME)
    return a


def bench(rng: np.random.Generator) -> Assembly:
    """A long seat on panels, legs or A-frames, with a backrest at the back (-Z), so that
    its front shows, and sometimes armrests."""
    a = Assembly()
    length, depth = rng.uniform(1.0, 1.7), rng.uniform(0.38, 0.55)
    seat_h, seat_t = rng.uniform(0.4, 0.48), rng.uniform(0.04, 0.07)
    under = seat_h - seat_t
    if rng.random() < 0.5:
        a.add(box((length, seat_t, depth), (0, seat_h - seat_t / 2, 0)), MAIN)
    else:
        slats = int(rng.integers(3, 6))
        pitch = depth / slats
        for z in (np.arange(slats) + 0.5) * pitch - depth / 2:
            a.add(box((length, seat_t, pitch * 0.8), (0, seat_h - seat_t / 2, z)), MAIN)
    supports = rng.choice(["panels", "legs", "aframe"])
    inset = rng.uniform(0.06, 0.2)
    if supports == "panels":
        panel = rng.uniform(0.05, 0.09)
        for sx in SIDES:
            x = sx * (length / 2 - inset)
            a.add(box((panel, under, depth * 0.9), (x, under / 2, 0)), FRAME)
    elif supports == "legs":
        radius = rng.uniform(0.025, 0.04)
        _four_legs(a, length - 2 * inset, depth * 0.8, under, radius, rng.uniform(0, 0.03), 8)
        a.add(box((length - 2 * inset, 0.05, 0.04), (0, under * 0.35, 0)), FRAME)  # stretcher
    else:
        for sx in SIDES:
            x = sx * (length / 2 - inset)
            for sz in SIDES:
                a.add(rod((x, 0, sz * depth * 0.55), (x, under, 0), 0.03, 6), FRAME)
            a.add(box((0.05, 0.05, depth), (x, under - 0.025, 0)), FRAME)
    back_h = rng.uniform(0.35, 0.5)
    z = -depth / 2 + 0.02
    rails = int(rng.integers(2, 4))
    rail_h = back_h / rails * rng.uniform(0.45, 0.7)
    for y in np.linspace(seat_h + 0.1, seat_h + back_h, rails):
        a.add(box((length * 0.95, rail_h, 0.03), (0, y, z - (y - seat_h) * 0.15)), MAIN)
    for sx in SIDES:
        x = sx * (length / 2 - inset)
        top = (x, seat_h + back_h + rail_h / 2, z - back_h * 0.15)
        a.add(rod((x, seat_h, z), top, 0.025, 6), FRAME)
    if rng.random() < 0.6:
        for sx in SIDES:
            x = sx * (length / 2 - 0.03)
            a.add(box((0.06, 0.04, depth * 0.85), (x, seat_h + 0.22, 0)), ACCENT)
            a.add(rod((x, seat_h, depth * 0.3), (x, seat_h + 0.22, depth * 0.3), 0.02, 6), FRAME)
    return a


def bed(rng: np.random.Generator) -> Assembly:
    a = Assembly()
    width, length = rng.uniform(1.0, 2.0), rng.uniform(1.95, 2.2)
    frame_h, mattress = rng.uniform(0.2, 0.4), rng.uniform(0.18, 0.3)
    legs = rng.uniform(0.08, 0.2) if rng.random() < 0.5 else 0.0
    a.add(box((width, frame_h - legs, length), (0, (frame_h + legs) / 2, 0)), FRAME)
    if legs:
        _four_legs(a, width - 0.1, length - 0.1, legs, 0.03, 0.0, 4)
    top = frame_h + mattress
    a.add(box((width - 0.06, mattress, length - 0.06), (0, frame_h + mattress / 2, 0)), MAIN)
    head_h = rng.uniform(0.8, 1.4)
    head_t = rng.uniform(0.05, 0.12)
    head_z = -length / 2 - head_t / 2
    if rng.random() < 0.2:  # four-poster
        post_h = rng.uniform(1.6, 2.1)
        for sz in SIDES:
            for sx in SIDES:
                at = (sx * width / 2, 0, sz * (length / 2 + head_t / 2))
                a.add(box((0.07, post_h, 0.07), (at[0], post_h / 2, at[2])), FRAME)
            a.add(box((width, 0.05, 0.05), (0, post_h, sz * (length / 2 + head_t / 2))), FRAME)
    a.add(box((width + 0.04, head_h, head_t), (0, head_h / 2, head_z)), FRAME)
    if rng.random() < 0.4:
        foot_h = rng.uniform(top * 0.8, max(top * 0.85, head_h * 0.55))
        a.add(box((width + 0.04, foot_h, head_t), (0, foot_h / 2, -head_z)), FRAME)
    pillows = 1 if width < 1.3 else 2
    for x in (np.arange(pillows) + 0.5) * width / pillows - width / 2:
        radii = (width / pillows * 0.42, rng.uniform(0.05, 0.08), 0.22)
        a.add(ellipsoid(radii, (x, top + radii[1] * 0.6, -length / 2 + 0.3), 10), ACCENT)
    if rng.random() < 0.6:
        cover = length * rng.uniform(0.5, 0.75)
        a.add(box((width, 0.04, cover), (0, top + 0.01, length / 2 - cover / 2 - 0.02)), DETAIL)
    return a


def _lamp_shade(rng: np.random.Generator, bottom: float, radius: float) -> Assembly:
    """A shade hanging from height ``bottom``, opening downwards."""
    shade = Assembly()
    kind = rng.choice(["drum", "empire", "dome", "globe"])
    wall = 0.006
    if kind == "globe":
        shade.add(ellipsoid((radius, radius, radius), (0, bottom + radius, 0), 14), ACCENT)
        return shade
    height = radius * rng.uniform(0.8, 1.4)
    if kind == "dome":
        angles = np.linspace(0, np.pi / 2, 7)
        outer = [(radius * np.sin(t), height * np.cos(t)) for t in angles]
        inner = [((radius - wall) * np.sin(t), (height - wall) * np.cos(t)) for t in angles[::-1]]
        shade.add(lathe(outer + inner, (0, bottom, 0)), ACCENT)
    else:
        top = radius * (rng.uniform(0.9, 1.0) if kind == "drum" else rng.uniform(0.4, 0.7))
        ring = [(radius, 0), (top, height), (top - wall, height), (radius - wall, 0), (radius, 0)]
        shade.add(lathe(ring, (0, bottom, 0)), ACCENT)
    shade.add(ellipsoid((0.035, 0.05, 0.035), (0, bottom + height * 0.45, 0), 8), DETAIL)
    return shade


def lamp(rng: np.random.Generator) -> Assembly:
    a = Assembly()
    kind = rng.choice(["floor", "table", "desk"], p=[0.35, 0.4, 0.25])
    base_r = rng.uniform(0.08, 0.18) * (1.4 if kind == "floor" else 1.0)
    base_h = rng.uniform(0.02, 0.05)
    if rng.random() < 0.6:
        a.add(cylinder(base_r, base_h, (0, base_h / 2, 0), sections=24), FRAME)
    else:
        a.add(box((base_r * 1.6, base_h, base_r * 1.6), (0, base_h / 2, 0)), FRAME)
    if kind == "desk":
        lower, upper = rng.uniform(0.25, 0.4), rng.uniform(0.25, 0.4)
        lean, bend = rng.uniform(-0.5, 0.0), rng.uniform(0.6, 1.3)
        foot = np.array([0, base_h, -base_r * 0.6])  # at the back, so the head hangs over the base
        elbow = foot + lower * np.array([0, np.cos(lean), np.sin(lean)])
        head = elbow + upper * np.array([0, np.cos(lean + bend), np.sin(lean + bend)])
        a.add(rod(foot, elbow, 0.012, 8), MAIN)
        a.add(rod(elbow, head, 0.012, 8), MAIN)
        a.add(ellipsoid((0.02, 0.02, 0.02), elbow, 8), DETAIL)
        radius = rng.uniform(0.06, 0.1)
        shade = cone(radius, radius * rng.uniform(1.0, 1.8), (0, -radius * 1.4, 0))
        aim = rng.uniform(0.2, 0.8)
        shade = rotated(shade, aim, (1, 0, 0), (0, 0, 0))
        shade.apply_translation(head)
        a.add(shade, ACCENT)
        return a
    height = rng.uniform(1.3, 1.8) if kind == "floor" else rng.uniform(0.3, 0.55)
    if kind == "table" and rng.random() < 0.5:  # a vase-like body instead of a pole
        r = base_r * rng.uniform(0.5, 0.9)
        body = [
            (0, 0),
            (r * 0.6, 0),
            (r, height * 0.3),
            (r * 0.8, height * 0.5),
            (0.02, height * 0.6),
        ]
        a.add(lathe(body + [(0, height * 0.6)], (0, base_h, 0)), MAIN)
    a.add(rod((0, base_h, 0), (0, height, 0), rng.uniform(0.008, 0.02), 8), MAIN)
    radius = rng.uniform(0.12, 0.25) if kind == "table" else rng.uniform(0.15, 0.3)
    a.extend(_lamp_shade(rng, height - radius * rng.uniform(0.3, 0.8), radius))
    return a
