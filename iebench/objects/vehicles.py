"""Vehicles: airplane, car, watercraft (Y up, nose/bow towards +Z)."""

from __future__ import annotations

import numpy as np

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
    hexahedron,
    lathe,
    loft,
    rod,
    tapered_box,
)


def _wing(
    root_le: float,
    root_chord: float,
    span: float,
    taper: float,
    sweep: float,
    dihedral: float,
    y: float,
    thickness: float,
) -> np.ndarray:
    """Corners of the right half of a tapered, swept wing from x=0 (root) to x=span."""
    corners = np.empty((2, 2, 2, 3))
    tip_le = root_le - span * np.tan(sweep)
    for i, (x, le, chord) in enumerate(
        ((0.0, root_le, root_chord), (span, tip_le, root_chord * taper))
    ):
        half_t = thickness * chord / 2
        yc = y + x * np.tan(dihedral)
        for j, dy in enumerate((-half_t, half_t)):
            for k, z in enumerate((le - chord, le)):
                corners[i, j, k] = (x, yc + dy, z)
    return corners


def _pair(a: Assembly, corners: np.ndarray, material: int) -> None:
    """A right-hand part and its mirror image on the left."""
    a.add(hexahedron(corners), material)
    mirrored = corners[::-1].copy()
    mirrored[..., 0] *= -1
    a.add(hexahedron(mirrored), material)


def airplane(rng: np.random.Generator) -> Assembly:
    a = Assembly()
    length = 1.0
    radius = rng.uniform(0.035, 0.07)
    nose = rng.uniform(0.05, 0.15)
    tail_r = radius * rng.uniform(0.15, 0.45)
    profile = [
        (0, -length / 2),
        (tail_r, -length / 2),
        (radius, -length / 2 + rng.uniform(0.2, 0.35)),
        (radius, length / 2 - nose),
        (radius * 0.7, length / 2 - nose * 0.4),
        (0, length / 2),
    ]
    a.add(lathe([(r, z) for r, z in profile], axis="z", sections=16), MAIN)
    fighter = rng.random() < 0.2
    if fighter:
        span, chord = rng.uniform(0.5, 0.7), rng.uniform(0.35, 0.5)
        taper, sweep = rng.uniform(0.03, 0.15), rng.uniform(0.7, 1.0)
        root_le = rng.uniform(0.05, 0.15)
    else:
        span, chord = rng.uniform(0.8, 1.3), rng.uniform(0.12, 0.25)
        taper, sweep = rng.uniform(0.25, 0.6), rng.uniform(0.0, 0.65)
        root_le = rng.uniform(0.05, 0.2)
    wing_y = radius * rng.choice([-0.6, 0.0, 0.7])
    dihedral = rng.uniform(-0.05, 0.12)
    _pair(a, _wing(root_le, chord, span / 2, taper, sweep, dihedral, wing_y, 0.1), FRAME)
    fin_h = rng.uniform(0.1, 0.2)
    fin_chord = rng.uniform(0.1, 0.18)
    fin_sweep = rng.uniform(0.3, 0.8)
    tail_z = -length / 2 + fin_chord + 0.02
    t_tail = not fighter and rng.random() < 0.25
    fin = _wing(tail_z, fin_chord, fin_h, rng.uniform(0.4, 0.8), fin_sweep, 0.0, 0.0, 0.1)
    fins = [(0.0, 0.0)] if not fighter or rng.random() < 0.5 else [(-0.04, 0.3), (0.04, -0.3)]
    for x, roll in fins:
        # The wing routine builds along +X; turn it to stand up along +Y.
        upright = fin[..., [1, 0, 2]] * (1, 1, 1) + (x, radius * 0.6, 0)
        upright[..., 0] += np.sin(roll) * (upright[..., 1] - radius * 0.6)
        a.add(hexahedron(upright.transpose(1, 0, 2, 3)), FRAME)
    stab_span = span * rng.uniform(0.25, 0.4) / 2
    stab_y = radius * 0.6 + fin_h * 0.95 if t_tail else 0.0
    stab_le = tail_z - (fin_h * np.tan(fin_sweep) if t_tail else 0.0)
    _pair(a, _wing(stab_le, fin_chord * 0.9, stab_span, 0.5, sweep * 0.8, 0.0, stab_y, 0.1), FRAME)
    engines = int(rng.choice([0, 2, 4])) if not fighter else 0
    if engines == 0 and not fighter:  # a propeller on the nose
        a.add(cone(radius * 0.4, nose * 0.5, (0, 0, length / 2 - 0.01), axis="z"), DETAIL)
        blade = rng.uniform(0.06, 0.12)
        for angle in np.arange(int(rng.integers(2, 5))) * np.pi / 2:
            end = (blade * np.cos(angle), blade * np.sin(angle), length / 2 + 0.01)
            a.add(rod((0, 0, length / 2 + 0.01), end, 0.008, 4), DETAIL)
    for index in range(engines // 2):
        x = span / 2 * (0.3 + 0.3 * index)
        z = root_le - x * np.tan(sweep) + 0.02
        nacelle = rng.uniform(0.02, 0.035)
        for sx in SIDES:
            at = (sx * x, wing_y - nacelle * 1.3, z - 0.04)
            a.add(cylinder(nacelle, rng.uniform(0.08, 0.14), at, axis="z", sections=12), DETAIL)
    return a


def car(rng: np.random.Generator) -> Assembly:
    a = Assembly()
    kind = rng.choice(["sedan", "hatchback", "pickup", "van", "sports"])
    length, width = rng.uniform(3.8, 5.2), rng.uniform(1.7, 2.0)
    wheel_r = rng.uniform(0.32, 0.4) if kind != "pickup" else rng.uniform(0.4, 0.46)
    clearance = wheel_r * rng.uniform(0.35, 0.55)
    belt = clearance + rng.uniform(0.55, 0.75) * (0.8 if kind == "sports" else 1.0)
    roof = belt + {"van": 1.0, "sports": 0.38, "pickup": 0.7}.get(kind, 0.55) * rng.uniform(
        0.9, 1.1
    )
    half_l, half_w = length / 2, width / 2
    nose = rng.uniform(0.05, 0.25)  # the front end slopes down towards the bumper
    body = np.empty((2, 2, 2, 3))
    for i, x in enumerate((-half_w, half_w)):
        for k, z in enumerate((-half_l, half_l)):
            body[i, 0, k] = (x, clearance, z)
            body[i, 1, k] = (x, belt - (nose if k else 0.0), z - (nose if k else 0.0))
    a.add(hexahedron(body), MAIN)
    cabin_zone = {
        "sedan": (-0.3, 0.15),
        "hatchback": (-0.5, 0.15),
        "pickup": (-0.08, 0.28),
        "van": (-0.5, 0.35),
        "sports": (-0.3, 0.12),
    }[kind]
    back, front = (z * length + rng.uniform(-0.1, 0.1) for z in cabin_zone)
    if kind == "van":
        back = -half_l
    rake_front = (roof - belt) * rng.uniform(0.6, 1.4)
    rake_back = (roof - belt) * (
        rng.uniform(0.0, 0.2) if kind in ("hatchback", "van", "pickup") else rng.uniform(0.6, 1.2)
    )
    bottom = (-half_w * 0.97, half_w * 0.97, back, front)
    top = (-half_w * 0.82, half_w * 0.82, back + rake_back, front - rake_front)
    a.add(tapered_box(bottom, top, belt, roof), ACCENT)
    if kind == "pickup":  # the open bed: two side walls and a tailgate
        wall = rng.uniform(0.3, 0.45)
        bed_len = back + half_l
        for sx in SIDES:
            a.add(
                box(
                    (0.06, wall, bed_len),
                    (sx * (half_w - 0.03), belt + wall / 2, -half_l + bed_len / 2),
                ),
                MAIN,
            )
        a.add(box((width, wall, 0.06), (0, belt + wall / 2, -half_l + 0.03)), MAIN)
    overhang = rng.uniform(0.15, 0.22) * length
    axles = [-half_l + overhang, half_l - overhang]
    if kind == "pickup" and rng.random() < 0.4:
        axles.insert(0, axles[0] + wheel_r * 2.2)
    tyre = rng.uniform(0.2, 0.3)
    for z in axles:
        for sx in SIDES:
            x = sx * (half_w - tyre / 2 + 0.02)
            a.add(cylinder(wheel_r, tyre, (x, wheel_r, z), axis="x", sections=20), FRAME)
            a.add(
                cylinder(wheel_r * 0.6, tyre + 0.02, (x, wheel_r, z), axis="x", sections=12), DETAIL
            )
    for sx in SIDES:  # headlights
        a.add(
            box((0.3, 0.1, 0.05), (sx * half_w * 0.65, belt - nose - 0.12, half_l - nose + 0.005)),
            DETAIL,
        )
    return a


def _hull_section(half_width: float, deck: float, keel: float, vee: float) -> np.ndarray:
    """A convex cross-section, port deck edge first, in the XY plane."""
    return np.array(
        [
            (-half_width, deck),
            (-half_width * 0.9, keel + (deck - keel) * vee),
            (0.0, keel),
            (half_width * 0.9, keel + (deck - keel) * vee),
            (half_width, deck),
        ]
    )


def _watercraft_hull(
    a: Assembly, rng: np.random.Generator, kind: str, length: float
) -> tuple[float, float]:
    """Loft the hull from 9 sections, stern to bow; returns (beam, deck height)."""
    beam = length * (rng.uniform(0.1, 0.18) if kind == "ship" else rng.uniform(0.22, 0.38))
    depth = length * rng.uniform(0.06, 0.12)
    vee = rng.uniform(0.2, 0.6)
    stern = rng.uniform(0.55, 0.95)
    bow_start = rng.uniform(0.45, 0.7)
    sections = []
    for t in np.linspace(0, 1, 9):
        if t < bow_start:
            half = beam / 2 * (stern + (1 - stern) * min(t / 0.3, 1.0))
        else:
            half = beam / 2 * max(np.sqrt(1 - ((t - bow_start) / (1 - bow_start)) ** 2), 0.02)
        sheer = depth * 0.3 * t**2
        keel = depth * 0.6 * max(t - bow_start, 0) / (1 - bow_start)
        points = _hull_section(half, depth + sheer, keel, vee)
        z = -length / 2 + t * length
        sections.append(np.column_stack([points, np.full(len(points), z)]))
    a.add(loft(sections), MAIN)
    return beam, depth


def _sailboat_rig(
    a: Assembly, rng: np.random.Generator, beam: float, deck: float, length: float
) -> None:
    """Mast, mainsail, sometimes a jib, and a cockpit box."""
    mast_z = rng.uniform(-0.05, 0.15)
    mast_h = rng.uniform(0.8, 1.3)
    a.add(rod((0, deck, mast_z), (0, deck + mast_h, mast_z), 0.008, 8), FRAME)
    boom = rng.uniform(0.3, 0.45)
    sail = [
        [
            (x, deck + 0.06, mast_z - 0.01),
            (x, deck + mast_h * 0.95, mast_z - 0.01),
            (x, deck + 0.06, mast_z - boom),
        ]
        for x in (-0.003, 0.003)
    ]
    a.add(loft(np.array(sail)), ACCENT)
    if rng.random() < 0.6:
        jib = [
            [
                (x, deck + 0.05, mast_z + 0.02),
                (x, deck + mast_h * 0.8, mast_z + 0.01),
                (x, deck + 0.05, length * 0.42),
            ]
            for x in (-0.003, 0.003)
        ]
        a.add(loft(np.array(jib)), ACCENT)
    a.add(box((beam * 0.3, 0.05, 0.15), (0, deck + 0.025, mast_z - 0.15)), FRAME)


def _motorboat_cabin(
    a: Assembly, rng: np.random.Generator, beam: float, deck: float, length: float
) -> None:
    """A tapered cabin, sometimes a windscreen, and an outboard motor at the stern."""
    cabin_l = rng.uniform(0.25, 0.4)
    z0 = rng.uniform(-0.2, 0.0)
    h = rng.uniform(0.06, 0.12)
    top = (-beam * 0.3, beam * 0.3, z0, z0 + cabin_l * 0.6)
    a.add(tapered_box((-beam * 0.38, beam * 0.38, z0, z0 + cabin_l), top, deck, deck + h), FRAME)
    if rng.random() < 0.5:
        a.add(box((beam * 0.5, 0.04, cabin_l * 0.4), (0, deck + h + 0.02, z0 + 0.05)), ACCENT)
    a.add(box((0.06, 0.08, 0.05), (0, deck - 0.02, -length / 2 - 0.02)), DETAIL)


def _ship_superstructure(
    a: Assembly, rng: np.random.Generator, beam: float, deck: float, length: float
) -> None:
    """Stacked decks, one or two funnels, sometimes rows of containers."""
    levels = int(rng.integers(1, 4))
    z = rng.uniform(-0.35, 0.05)
    size = np.array([beam * 0.8, 0.04, rng.uniform(0.15, 0.3)])
    y = deck
    for _ in range(levels):
        a.add(box(size, (0, y + size[1] / 2, z)), FRAME)
        y += size[1]
        size = size * (0.85, 1.0, 0.7)
    for index in range(int(rng.integers(1, 3))):
        fz = z - 0.05 - 0.07 * index
        a.add(cylinder(beam * 0.12, 0.12, (0, y + 0.04, fz), sections=12), ACCENT)
    if rng.random() < 0.5:
        rows = int(rng.integers(2, 5))
        for index in range(rows):
            cz = 0.1 + index * 0.07
            a.add(box((beam * 0.7, 0.05, 0.06), (0, deck + 0.025, cz)), DETAIL)


def _rowboat_fittings(
    a: Assembly, rng: np.random.Generator, beam: float, deck: float, length: float
) -> None:
    """Thwarts, and sometimes a pair of oars."""
    for z in np.linspace(-0.25, 0.2, int(rng.integers(2, 4))):
        a.add(box((beam * 0.9, 0.015, 0.05), (0, deck + 0.01, z)), FRAME)
    if rng.random() < 0.6:
        for sx in SIDES:
            oar = rod(
                (sx * beam * 0.4, deck + 0.02, 0.0), (sx * beam * 1.1, deck - 0.05, -0.35), 0.007, 6
            )
            a.add(oar, DETAIL)


# The kinds of watercraft and what each carries on deck (the order is the draw's).
_TOPSIDES = {
    "sailboat": _sailboat_rig,
    "motorboat": _motorboat_cabin,
    "ship": _ship_superstructure,
    "rowboat": _rowboat_fittings,
}


def watercraft(rng: np.random.Generator) -> Assembly:
    a = Assembly()
    kind = str(rng.choice(list(_TOPSIDES)))
    length = 1.0
    beam, deck = _watercraft_hull(a, rng, kind, length)
    _TOPSIDES[kind](a, rng, beam, deck, length)
    if kind in ("motorboat", "ship") and rng.random() < 0.5:
        # A radar mast just behind the bow.
        a.add(rod((0, deck, 0.3), (0, deck + 0.15, 0.3), 0.004, 6), DETAIL)
        a.add(ellipsoid((0.02, 0.02, 0.02), (0, deck + 0.15, 0.3), 6), DETAIL)
    return a
