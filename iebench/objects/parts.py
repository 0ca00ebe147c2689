"""Mesh parts (boxes, cylinders, lathed profiles, lofts, tubes) placed in a Y-up frame.

Every builder returns a placed ``trimesh.Trimesh``; an ``Assembly`` collects parts
with the material slot each one is painted with.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import trimesh
from trimesh import creation
from trimesh.transformations import rotation_matrix, translation_matrix

Vec = Sequence[float]
# Material slots shared by the generators: each object gets its own colour per slot.
MAIN, FRAME, ACCENT, DETAIL = 0, 1, 2, 3
# Signs of the two sides of a symmetric pair of parts.
SIDES = (-1.0, 1.0)

# trimesh builds round primitives along +Z; these turn +Z onto the named axis.
_AXIS_FROM_Z = {
    "x": rotation_matrix(np.pi / 2, [0, 1, 0]),
    "y": rotation_matrix(-np.pi / 2, [1, 0, 0]),
    "z": np.eye(4),
}
_BOX = creation.box()
_BOX_SIGNS = np.sign(_BOX.vertices).astype(int)


class Assembly:
    """Parts of one object, each with a material slot (0, 1, 2, ...)."""

    def __init__(self) -> None:
        self.parts: list[tuple[trimesh.Trimesh, int]] = []

    def add(self, mesh: trimesh.Trimesh, material: int) -> None:
        self.parts.append((mesh, material))

    def extend(self, other: Assembly) -> None:
        self.parts.extend(other.parts)

    def transform(self, matrix: np.ndarray) -> Assembly:
        for mesh, _ in self.parts:
            mesh.apply_transform(matrix)
        return self


def _placed(mesh: trimesh.Trimesh, axis: str, centre: Vec) -> trimesh.Trimesh:
    mesh.apply_transform(translation_matrix(centre) @ _AXIS_FROM_Z[axis])
    return mesh


def box(size: Vec, centre: Vec = (0, 0, 0)) -> trimesh.Trimesh:
    return creation.box(extents=size, transform=translation_matrix(centre))


def hexahedron(corners: np.ndarray) -> trimesh.Trimesh:
    """A six-faced solid from 8 corners indexed [x][y][z] by side (0 = low, 1 = high)."""
    corners = np.asarray(corners, dtype=float).reshape(2, 2, 2, 3)
    index = (_BOX_SIGNS + 1) // 2
    vertices = corners[index[:, 0], index[:, 1], index[:, 2]]
    mesh = trimesh.Trimesh(vertices, _BOX.faces.copy(), process=False)
    if mesh.volume < 0:  # corners given in mirrored order
        mesh.invert()
    return mesh


def tapered_box(bottom: Vec, top: Vec, y0: float, y1: float) -> trimesh.Trimesh:
    """A box whose bottom (at y0) and top (at y1) are x0, x1, z0, z1 rectangles."""
    corners = np.empty((2, 2, 2, 3))
    for j, (y, (x0, x1, z0, z1)) in enumerate(((y0, bottom), (y1, top))):
        for i, x in enumerate((x0, x1)):
            for k, z in enumerate((z0, z1)):
                corners[i, j, k] = (x, y, z)
    return hexahedron(corners)


def cylinder(
    radius: float, length: float, centre: Vec = (0, 0, 0), axis: str = "y", sections: int = 24
) -> trimesh.Trimesh:
    return _placed(creation.cylinder(radius, length, sections=sections), axis, centre)


def rod(start: Vec, end: Vec, radius: float, sections: int = 12) -> trimesh.Trimesh:
    """A cylinder from ``start`` to ``end``."""
    return creation.cylinder(radius, segment=[start, end], sections=sections)


def cone(
    radius: float, length: float, base: Vec = (0, 0, 0), axis: str = "y", sections: int = 24
) -> trimesh.Trimesh:
    """A cone with its base centred on ``base`` and its apex ``length`` along +axis."""
    return _placed(creation.cone(radius, length, sections=sections), axis, base)


def ellipsoid(radii: Vec, centre: Vec = (0, 0, 0), count: int = 12) -> trimesh.Trimesh:
    mesh = creation.uv_sphere(1.0, count=[count, count])
    mesh.apply_scale(radii)
    mesh.apply_translation(centre)
    return mesh


def lathe(
    profile: Sequence[Vec], base: Vec = (0, 0, 0), axis: str = "y", sections: int = 32
) -> trimesh.Trimesh:
    """Revolve (radius, height) points about ``axis``; a profile that starts and ends at
    radius 0 gives a closed solid."""
    mesh = creation.revolve(np.asarray(profile, dtype=float), sections=sections)
    if mesh.volume < 0:  # the profile ran the other way round: keep normals outward
        mesh.invert()
    return _placed(mesh, axis, base)


def loft(sections: Sequence[np.ndarray]) -> trimesh.Trimesh:
    """Join equally sized convex cross-sections (each (k, 3), same winding) and cap both ends."""
    rings = np.asarray(sections, dtype=float)
    count, k = rings.shape[:2]
    vertices = rings.reshape(-1, 3)
    faces = []
    for s in range(count - 1):
        for i in range(k):
            a, b = s * k + i, s * k + (i + 1) % k
            c, d = a + k, b + k
            faces += [(a, b, d), (a, d, c)]
    last = (count - 1) * k
    faces += [(0, i + 1, i) for i in range(1, k - 1)]
    faces += [(last, last + i, last + i + 1) for i in range(1, k - 1)]
    mesh = trimesh.Trimesh(vertices, np.array(faces), process=False)
    if mesh.volume < 0:
        mesh.invert()
    return mesh


def tube(path: np.ndarray, radius: float, sections: int = 10) -> trimesh.Trimesh:
    """A round tube along a polyline, its rings kept square to the path."""
    path = np.asarray(path, dtype=float)
    tangents = np.gradient(path, axis=0)
    tangents /= np.linalg.norm(tangents, axis=1, keepdims=True)
    seed = np.array([0.0, 0.0, 1.0]) if abs(tangents[0, 2]) < 0.9 else np.array([1.0, 0, 0])
    normal = np.cross(tangents[0], seed)
    angles = np.linspace(0, 2 * np.pi, sections, endpoint=False)
    rings = []
    for point, tangent in zip(path, tangents, strict=True):
        # Parallel transport: keep the ring's normal as close as possible to the last one.
        normal = normal - normal.dot(tangent) * tangent
        normal /= np.linalg.norm(normal)
        binormal = np.cross(tangent, normal)
        offsets = np.outer(np.cos(angles), normal) + np.outer(np.sin(angles), binormal)
        rings.append(point + radius * offsets)
    return loft(rings)


def arc(
    centre: Vec, radius: float, start: float, stop: float, plane: str, steps: int
) -> np.ndarray:
    """Points on a circular arc in the ``xy``, ``yz`` or ``xz`` plane (angles in radians)."""
    angles = np.linspace(start, stop, steps)
    points = np.zeros((steps, 3)) + np.asarray(centre, dtype=float)
    first, second = ("xyz".index(plane[0]), "xyz".index(plane[1]))
    points[:, first] += radius * np.cos(angles)
    points[:, second] += radius * np.sin(angles)
    return points


def rotated(mesh: trimesh.Trimesh, angle: float, axis: Vec, about: Vec) -> trimesh.Trimesh:
    mesh.apply_transform(rotation_matrix(angle, axis, about))
    return mesh
