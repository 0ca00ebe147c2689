"""Small objects: bottle, bowl, mug, laptop, guitar, rifle (Y up, front towards +Z)."""

from __future__ import annotations

import numpy as np

from iebench.objects.parts import (
    ACCENT,
    DETAIL,
    FRAME,
    MAIN,
    SIDES,
    Assembly,
    arc,
    box,
    cylinder,
    hexahedron,
    lathe,
    rod,
    rotated,
    tube,
)


def bottle(rng: np.random.Generator) -> Assembly:
    a = Assembly()
    radius = rng.uniform(0.03, 0.05)
    body = radius * rng.uniform(2.5, 5.0)
    neck_r = radius * rng.uniform(0.25, 0.45)
    shoulder = radius * rng.uniform(0.3, 1.8)
    neck = radius * rng.uniform(0.6, 2.5)
    top = body + shoulder + neck
    if rng.random() < 0.2:  # square-bodied bottle
        a.add(box((2 * radius, body, 2 * radius * rng.uniform(0.6, 1.0)), (0, body / 2, 0)), MAIN)
        a.add(
            lathe([(0, body), (radius, body), (neck_r, body + shoulder), (0, body + shoulder)]),
            MAIN,
        )
    else:
        curve = np.linspace(0, np.pi / 2, 5)
        profile = [(0, 0), (radius * 0.9, 0), (radius, radius * 0.1), (radius, body)]
        profile += [
            (neck_r + (radius - neck_r) * np.cos(t), body + shoulder * np.sin(t)) for t in curve[1:]
        ]
        profile += [(0, body + shoulder)]
        a.add(lathe(profile), MAIN)
    a.add(cylinder(neck_r, neck, (0, body + shoulder + neck / 2, 0), sections=16), MAIN)
    lip = rng.uniform(0.1, 0.3) * neck_r
    cap = neck * rng.uniform(0.2, 0.5)
    a.add(cylinder(neck_r + lip, cap, (0, top - cap / 2 + 0.002, 0), sections=16), ACCENT)
    if rng.random() < 0.6:
        band = body * rng.uniform(0.3, 0.6)
        label_y = body * rng.uniform(0.35, 0.55)
        a.add(cylinder(radius * 1.02, band, (0, label_y, 0), sections=24), DETAIL)
    return a


def bowl(rng: np.random.Generator) -> Assembly:
    a = Assembly()
    radius = rng.uniform(0.07, 0.15)
    height = radius * rng.uniform(0.3, 0.7)
    wall = radius * rng.uniform(0.03, 0.07)
    foot_r = radius * rng.uniform(0.3, 0.55)
    foot_h = height * rng.uniform(0.04, 0.15)
    power = rng.uniform(0.4, 1.2)  # <1: rounded belly, ~1: conical, >1: flared
    t = np.linspace(0, 1, 9)
    outer = [(foot_r + (radius - foot_r) * s, foot_h + (height - foot_h) * s**power) for s in t]
    inner = [(r - wall, max(y, foot_h) + wall) for r, y in outer[::-1]]
    profile = [(0.0, foot_h), *outer, *inner[:-1], (0.0, foot_h + wall)]
    a.add(lathe(profile, sections=32), MAIN)
    foot_in = foot_r * rng.uniform(0.6, 0.9)
    ring = [
        (foot_in, 0),
        (foot_r, 0),
        (foot_r, foot_h * 1.2),
        (foot_in, foot_h * 1.2),
        (foot_in, 0),
    ]
    a.add(lathe(ring, sections=32), FRAME)
    if rng.random() < 0.4:  # a rim band in another colour
        band = [(radius + wall * 0.3, height - wall), (radius + wall * 0.3, height)]
        band += [(radius - wall, height), (radius - wall, height - wall), band[0]]
        a.add(lathe(band, sections=32), ACCENT)
    return a


def mug(rng: np.random.Generator) -> Assembly:
    a = Assembly()
    radius = rng.uniform(0.035, 0.05)
    top_r = radius * rng.uniform(0.9, 1.25)
    height = radius * rng.uniform(1.6, 3.0)
    wall = radius * rng.uniform(0.06, 0.12)
    profile = [
        (0, 0),
        (radius, 0),
        (top_r, height),
        (top_r - wall, height),
        (radius - wall, wall),
        (0, wall),
    ]
    a.add(lathe(profile, sections=32), MAIN)
    span = height * rng.uniform(0.45, 0.75)
    reach = radius * rng.uniform(0.5, 0.9)
    grip = rng.uniform(0.15, 0.25) * radius
    side = (radius + top_r) / 2 - wall
    centre_y = height * rng.uniform(0.45, 0.55)
    if rng.random() < 0.6:  # round loop
        path = arc((side, centre_y, 0), span / 2, -np.pi / 2, np.pi / 2, "xy", 12)
        path[:, 0] = side + (path[:, 0] - side) * reach / (span / 2)
    else:  # squared loop
        path = np.array(
            [
                (side, centre_y + span / 2, 0),
                (side + reach, centre_y + span / 2, 0),
                (side + reach, centre_y - span / 2, 0),
                (side, centre_y - span / 2, 0),
            ]
        )
        path = _rounded(path)
    a.add(tube(path, grip, 8), ACCENT)
    return a


def _rounded(path: np.ndarray, steps: int = 4) -> np.ndarray:
    """A polyline resampled finely so that tube rings follow its corners smoothly."""
    points = [path[0]]
    for start, end in zip(path[:-1], path[1:], strict=True):
        points += [start + (end - start) * s for s in np.linspace(0, 1, steps + 1)[1:]]
    return np.array(points)


def laptop(rng: np.random.Generator) -> Assembly:
    a = Assembly()
    width, depth = rng.uniform(0.3, 0.4), rng.uniform(0.2, 0.28)
    base_t, lid_t = rng.uniform(0.015, 0.03), rng.uniform(0.006, 0.015)
    a.add(box((width, base_t, depth), (0, base_t / 2, 0)), MAIN)
    keys = (width * rng.uniform(0.8, 0.92), 0.003, depth * rng.uniform(0.35, 0.5))
    a.add(box(keys, (0, base_t + 0.0015, -depth / 2 + keys[2] / 2 + 0.02)), DETAIL)
    if rng.random() < 0.8:
        pad = (width * rng.uniform(0.25, 0.4), 0.002, depth * 0.25)
        a.add(box(pad, (0, base_t + 0.001, depth / 2 - pad[2] / 2 - 0.015)), ACCENT)
    lid_h = depth * rng.uniform(0.9, 1.0)
    opening = rng.uniform(np.radians(95), np.radians(135))
    hinge = (0, base_t, -depth / 2)
    lid = box((width, lid_h, lid_t), (0, base_t + lid_h / 2, -depth / 2 - lid_t / 2))
    screen = box((width * 0.9, lid_h * 0.85, 0.002), (0, base_t + lid_h / 2, -depth / 2 + 0.001))
    for part, material in ((lid, MAIN), (screen, FRAME)):
        a.add(rotated(part, np.pi / 2 - opening, (1, 0, 0), hinge), material)
    return a


def guitar(rng: np.random.Generator) -> Assembly:
    """Body, neck with a fretboard, tilted head with pegs; the sound hole or pickups, the
    bridge and the fretboard are on the front (+Z), so the front and back differ."""
    a = Assembly()
    electric = rng.random() < 0.4
    lower = rng.uniform(0.18, 0.22)
    upper = lower * rng.uniform(0.7, 0.85)
    depth = rng.uniform(0.045, 0.06) if electric else rng.uniform(0.09, 0.13)
    waist_y = lower * rng.uniform(0.9, 1.1)
    upper_y = waist_y + upper * rng.uniform(0.7, 0.9)
    a.add(cylinder(lower, depth, (0, 0, 0), axis="z", sections=28), MAIN)
    offset = rng.uniform(-0.03, 0.03) if electric else 0.0
    a.add(cylinder(upper, depth, (offset, upper_y, 0), axis="z", sections=28), MAIN)
    waist = min(lower, upper) * 0.85  # fills the notch between the two bouts
    a.add(cylinder(waist, depth, (0, waist_y * 0.6, 0), axis="z", sections=20), MAIN)
    body_top = upper_y + upper * 0.8
    neck_l = rng.uniform(0.4, 0.48)
    neck_w = rng.uniform(0.05, 0.065)
    neck_z = depth / 4
    a.add(box((neck_w, neck_l, 0.03), (0, body_top + neck_l / 2, neck_z)), FRAME)
    front = depth / 2
    board_l = neck_l + upper * rng.uniform(0.4, 0.7)  # runs on over the upper bout
    board = box((neck_w * 0.9, board_l, 0.008), (0, body_top + neck_l - board_l / 2, front + 0.004))
    a.add(board, DETAIL)
    head_l = rng.uniform(0.12, 0.17)
    head = box(
        (neck_w * rng.uniform(1.3, 1.8), head_l, 0.022), (0, body_top + neck_l + head_l / 2, neck_z)
    )
    a.add(rotated(head, -rng.uniform(0.1, 0.3), (1, 0, 0), (0, body_top + neck_l, neck_z)), FRAME)
    if electric:
        for y in np.linspace(-0.06, 0.08, int(rng.integers(2, 4))):
            a.add(box((0.08, 0.025, 0.012), (0, y, front + 0.005)), ACCENT)
        a.add(
            cylinder(0.018, 0.02, (lower * 0.55, -lower * 0.45, front), axis="z", sections=10),
            ACCENT,
        )
    else:
        hole = rng.uniform(0.045, 0.06)
        a.add(cylinder(hole, 0.006, (0, waist_y * 0.9, front + 0.002), axis="z"), ACCENT)
        a.add(cylinder(hole * 1.25, 0.003, (0, waist_y * 0.9, front), axis="z"), DETAIL)  # rosette
    a.add(box((0.14, 0.025, 0.012), (0, -lower * 0.45, front + 0.005)), ACCENT)  # bridge
    pegs = int(rng.integers(2, 4))
    for y in np.linspace(0.3, 0.85, pegs) * head_l + body_top + neck_l:
        for sx in SIDES:
            a.add(
                rod((sx * neck_w * 0.6, y, neck_z), (sx * neck_w * 1.2, y, neck_z), 0.008, 6),
                DETAIL,
            )
    return a


def rifle(rng: np.random.Generator) -> Assembly:
    """Barrel and fore-end forward (+Z), receiver with a grip, trigger guard and magazine
    below, a stock behind; often a scope on top."""
    a = Assembly()
    barrel = rng.uniform(0.4, 0.6)
    receiver_l, receiver_h = rng.uniform(0.22, 0.3), rng.uniform(0.07, 0.1)
    width = rng.uniform(0.04, 0.055)
    a.add(box((width, receiver_h, receiver_l), (0, 0, 0)), FRAME)
    front = receiver_l / 2
    barrel_r = rng.uniform(0.012, 0.018)
    barrel_y = receiver_h * 0.2
    a.add(
        cylinder(barrel_r, barrel, (0, barrel_y, front + barrel / 2), axis="z", sections=12), FRAME
    )
    a.add(cylinder(barrel_r * 1.6, 0.05, (0, barrel_y, front + barrel - 0.02), axis="z"), DETAIL)
    guard_l = barrel * rng.uniform(0.35, 0.6)
    if rng.random() < 0.6:
        a.add(box((width * 1.1, receiver_h * 0.85, guard_l), (0, 0, front + guard_l / 2)), MAIN)
    else:
        fore = (0, receiver_h * 0.1, front + guard_l / 2)
        a.add(cylinder(width * 0.65, guard_l, fore, axis="z", sections=12), MAIN)
    stock_l = rng.uniform(0.25, 0.35)
    drop = rng.uniform(0.0, 0.06)
    back = -receiver_l / 2
    butt = rng.uniform(0.13, 0.19)
    stock = np.empty((2, 2, 2, 3))
    for k, (z, y_top, height) in enumerate(
        ((back - stock_l, receiver_h / 2 - drop, butt), (back, receiver_h / 2, receiver_h))
    ):
        for i, x in enumerate((-width * 0.55, width * 0.55)):
            stock[i, 0, k] = (x, y_top - height, z)
            stock[i, 1, k] = (x, y_top, z)
    a.add(hexahedron(stock), MAIN)
    a.add(
        box((width * 1.2, butt, 0.02), (0, receiver_h / 2 - drop - butt / 2, back - stock_l)),
        DETAIL,
    )
    grip_h = rng.uniform(0.09, 0.13)
    grip_z = back + 0.045
    grip = box((width * 0.9, grip_h, 0.04), (0, -receiver_h / 2 - grip_h / 2 + 0.01, grip_z))
    a.add(rotated(grip, rng.uniform(0.2, 0.45), (1, 0, 0), (0, -receiver_h / 2, grip_z)), MAIN)
    loop = arc((0, -receiver_h / 2, grip_z + 0.06), 0.035, np.pi, 2 * np.pi, "zy", 8)
    a.add(tube(loop, 0.006, 6), DETAIL)  # trigger guard
    if rng.random() < 0.85:
        mag_h = rng.uniform(0.1, 0.2)
        mag_z = front - 0.06
        mag = box((width * 0.8, mag_h, 0.05), (0, -receiver_h / 2 - mag_h / 2 + 0.01, mag_z))
        tilt = -rng.uniform(0.0, 0.35)
        a.add(rotated(mag, tilt, (1, 0, 0), (0, -receiver_h / 2, mag_z)), DETAIL)
    if rng.random() < 0.5:
        scope_l = rng.uniform(0.18, 0.3)
        y = receiver_h / 2 + rng.uniform(0.035, 0.05)
        a.add(cylinder(0.018, scope_l, (0, y, 0), axis="z", sections=12), ACCENT)
        for sz in SIDES:
            a.add(cylinder(0.026, 0.045, (0, y, sz * scope_l / 2), axis="z", sections=12), ACCENT)
        for sz in SIDES:
            mount = (0.014, y - receiver_h / 2, 0.018)
            a.add(box(mount, (0, (y + receiver_h / 2) / 2, sz * scope_l / 4)), DETAIL)
    else:  # iron sights: a post at the muzzle, a notch at the back of the receiver
        a.add(box((0.008, 0.04, 0.01), (0, barrel_y + 0.025, front + barrel - 0.05)), DETAIL)
        a.add(box((width * 0.8, 0.03, 0.02), (0, receiver_h / 2 + 0.015, back + 0.03)), DETAIL)
    if rng.random() < 0.25:
        tip = front + guard_l
        for sx in SIDES:
            a.add(rod((0, -receiver_h / 2, tip), (sx * 0.06, -0.2, tip + 0.03), 0.006, 6), DETAIL)
    return a
