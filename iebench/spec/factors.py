"""The factor space: the single source of truth for what a view of 3DIEBench is.

A view is a latent vector (float64) in the published order (docs/protocol.md section 1):

    0, 1, 2  object rotation, Euler angles about X, Y, Z (extrinsic "xyz")
    3        floor hue
    4        spot light polar angle theta
    5        spot light azimuth phi
    6        spot light hue
    7, 8, 9  object translation (3DIEBench-T only)

Every view's factors come from its own generator, derived from the dataset seed
and the stable key (synset, object id, view index), so any view can be re-drawn
alone, in any order, in any process.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from iebench.core.errors import IebenchError
from iebench.core.seeding import numpy_generator

LATENT_NAMES: tuple[str, ...] = (
    "rotation_x",
    "rotation_y",
    "rotation_z",
    "floor_hue",
    "spot_theta",
    "spot_phi",
    "spot_hue",
)
TRANSLATION_NAMES: tuple[str, ...] = ("translation_x", "translation_y", "translation_z")

ROTATION = slice(0, 3)
FLOOR_HUE = 3
SPOT_THETA = 4
SPOT_PHI = 5
SPOT_HUE = 6
TRANSLATION = slice(7, 10)
# The two colour factors whose deltas the colour-prediction task regresses.
COLOUR_FACTORS = (FLOOR_HUE, SPOT_HUE)

Range = tuple[float, float]
HALF_PI = math.pi / 2


@dataclass(frozen=True)
class FactorSpec:
    """The distribution of every factor: each is uniform over its range.

    ``rotation`` is a union of disjoint intervals used for each of the three
    Euler angles (one interval for the published data, two for the
    out-of-distribution variant). ``translation`` is set only for 3DIEBench-T.
    """

    name: str = "published"
    rotation: tuple[Range, ...] = ((-HALF_PI, HALF_PI),)
    floor_hue: Range = (0.0, 1.0)
    spot_theta: Range = (0.0, math.pi / 4)
    spot_phi: Range = (0.0, 2 * math.pi)
    spot_hue: Range = (0.0, 1.0)
    translation: Range | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "rotation", tuple(tuple(r) for r in self.rotation))
        for label, interval in self._named_ranges():
            for low, high in interval:
                if not (math.isfinite(low) and math.isfinite(high) and low <= high):
                    raise IebenchError(
                        f"factor spec {self.name!r}: bad range {label}=[{low}, {high}]"
                    )
        starts = sorted(self.rotation)
        if any(a[1] > b[0] for a, b in zip(starts, starts[1:], strict=False)):
            raise IebenchError(f"factor spec {self.name!r}: rotation intervals overlap")

    @classmethod
    def published(cls) -> FactorSpec:
        """The published 3DIEBench distribution (the default)."""
        return cls()

    @classmethod
    def translated(cls) -> FactorSpec:
        """3DIEBench-T: the published factors plus a translation in U[-0.5, 0.5]^3."""
        return cls(name="translated", translation=(-0.5, 0.5))

    @classmethod
    def out_of_distribution(cls) -> FactorSpec:
        """Rotation angles from [-pi, -pi/2] U [pi/2, pi], the rest as published."""
        return cls(name="ood-rotation", rotation=((-math.pi, -HALF_PI), (HALF_PI, math.pi)))

    @classmethod
    def named(cls, name: str) -> FactorSpec:
        presets = {
            "published": cls.published,
            "translated": cls.translated,
            "ood-rotation": cls.out_of_distribution,
        }
        if name not in presets:
            raise IebenchError(f"unknown factor spec {name!r}; choose from {', '.join(presets)}")
        return presets[name]()

    @property
    def names(self) -> tuple[str, ...]:
        return LATENT_NAMES + (TRANSLATION_NAMES if self.translation is not None else ())

    @property
    def size(self) -> int:
        return len(self.names)

    def _named_ranges(self) -> list[tuple[str, tuple[Range, ...]]]:
        """Each latent dimension's name and its union of intervals, in latent order."""
        ranges = [(name, self.rotation) for name in LATENT_NAMES[ROTATION]]
        ranges += [
            ("floor_hue", (self.floor_hue,)),
            ("spot_theta", (self.spot_theta,)),
            ("spot_phi", (self.spot_phi,)),
            ("spot_hue", (self.spot_hue,)),
        ]
        if self.translation is not None:
            ranges += [(name, (self.translation,)) for name in TRANSLATION_NAMES]
        return ranges

    def ranges(self) -> list[tuple[Range, ...]]:
        """Per latent dimension, the intervals its values are drawn from."""
        return [interval for _, interval in self._named_ranges()]

    def contains(self, latents: np.ndarray) -> np.ndarray:
        """Boolean mask over the leading axes: is every factor of the latent inside its range?"""
        latents = np.asarray(latents, dtype=np.float64)
        if latents.shape[-1] != self.size:
            return np.zeros(latents.shape[:-1], dtype=bool)
        inside = np.ones(latents.shape, dtype=bool)
        for k, intervals in enumerate(self.ranges()):
            value = latents[..., k]
            inside[..., k] = np.any([(value >= lo) & (value <= hi) for lo, hi in intervals], axis=0)
        return inside.all(axis=-1)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["rotation"] = [list(r) for r in self.rotation]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> FactorSpec:
        data = dict(data)
        data["rotation"] = tuple(tuple(r) for r in data.get("rotation", cls.rotation))
        for key in ("floor_hue", "spot_theta", "spot_phi", "spot_hue"):
            if key in data:
                data[key] = tuple(data[key])
        if data.get("translation") is not None:
            data["translation"] = tuple(data["translation"])
        return cls(**data)


def view_generator(seed: int, synset: str, object_id: str, view: int) -> np.random.Generator:
    """The generator of one view, derived from the dataset seed and the view's stable key.

    The key is hashed (not Python's salted ``hash``) so that the stream is the
    same in every process and on every machine. A seed of 0 is a seed.
    """
    return numpy_generator(seed, synset, object_id, int(view))


def _uniform_on(u: float, intervals: tuple[Range, ...]) -> float:
    """Map u in [0, 1) uniformly onto a union of disjoint intervals."""
    lengths = [hi - lo for lo, hi in intervals]
    t = u * sum(lengths)
    for (lo, hi), length in zip(intervals, lengths, strict=True):
        if t < length or (lo, hi) == intervals[-1]:
            return min(lo + t, hi)
        t -= length
    raise AssertionError("unreachable")


def sample_view(spec: FactorSpec, seed: int, synset: str, object_id: str, view: int) -> np.ndarray:
    """The latent (float64, ``spec.size`` values) of one view.

    One uniform draw per dimension, in latent order, so the published factors of
    a view are the same under every spec that shares their ranges (3DIEBench-T
    only appends the translation).
    """
    u = view_generator(seed, synset, object_id, view).random(spec.size)
    return np.array([_uniform_on(x, r) for x, r in zip(u, spec.ranges(), strict=True)])


def sample_object(
    spec: FactorSpec, seed: int, synset: str, object_id: str, views: int
) -> np.ndarray:
    """Latents of views 0..views-1 of one object, shape (views, spec.size)."""
    return np.stack([sample_view(spec, seed, synset, object_id, v) for v in range(views)])


# Rotations. Euler angles are extrinsic "xyz" (R = Rz(c) Ry(b) Rx(a)), which is
# also Blender's default XYZ Euler mode. Quaternions are scalar-last (x, y, z, w).


def euler_to_matrix(angles: np.ndarray) -> np.ndarray:
    """(..., 3) Euler angles -> (..., 3, 3) rotation matrices."""
    angles = np.asarray(angles, dtype=np.float64)
    flat = Rotation.from_euler("xyz", angles.reshape(-1, 3)).as_matrix()
    return flat.reshape(*angles.shape[:-1], 3, 3)


def matrix_to_euler(matrices: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 3) Euler angles."""
    matrices = np.asarray(matrices, dtype=np.float64)
    flat = Rotation.from_matrix(matrices.reshape(-1, 3, 3)).as_euler("xyz")
    return flat.reshape(*matrices.shape[:-2], 3)


def euler_to_quaternion(angles: np.ndarray) -> np.ndarray:
    """(..., 3) Euler angles -> (..., 4) quaternions (x, y, z, w), in pure numpy.

    q = q_z(c) q_y(b) q_x(a), each elementary quaternion with w = cos(angle / 2): the
    same numbers scipy's ``from_euler("xyz", ...).as_quat()`` gives (every version
    checked: 1.10.1 and 1.17.1), computed here so that no scipy release can change them.
    """
    angles = np.asarray(angles, dtype=np.float64)
    half = angles / 2
    cos, sin = np.cos(half), np.sin(half)
    zero = np.zeros_like(half[..., 0])

    def elementary(axis: int) -> np.ndarray:
        vector = [zero, zero, zero]
        vector[axis] = sin[..., axis]
        return np.stack([*vector, cos[..., axis]], axis=-1)

    return quaternion_multiply(quaternion_multiply(elementary(2), elementary(1)), elementary(0))


def quaternion_multiply(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Hamilton product p q of scalar-last quaternions: the rotation q, then p."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    px, py, pz, pw = np.moveaxis(p, -1, 0)
    qx, qy, qz, qw = np.moveaxis(q, -1, 0)
    return np.stack(
        [
            pw * qx + px * qw + py * qz - pz * qy,
            pw * qy - px * qz + py * qw + pz * qx,
            pw * qz + px * qy - py * qx + pz * qw,
            pw * qw - px * qx - py * qy - pz * qz,
        ],
        axis=-1,
    )


def quaternion_to_euler(quaternions: np.ndarray) -> np.ndarray:
    """(..., 4) quaternions (x, y, z, w) -> (..., 3) Euler angles."""
    quaternions = np.asarray(quaternions, dtype=np.float64)
    flat = Rotation.from_quat(quaternions.reshape(-1, 4)).as_euler("xyz")
    return flat.reshape(*quaternions.shape[:-1], 3)


def quaternion_to_matrix(quaternions: np.ndarray) -> np.ndarray:
    quaternions = np.asarray(quaternions, dtype=np.float64)
    flat = Rotation.from_quat(quaternions.reshape(-1, 4)).as_matrix()
    return flat.reshape(*quaternions.shape[:-1], 3, 3)


def matrix_to_quaternion(matrices: np.ndarray) -> np.ndarray:
    matrices = np.asarray(matrices, dtype=np.float64)
    flat = Rotation.from_matrix(matrices.reshape(-1, 3, 3)).as_quat()
    return flat.reshape(*matrices.shape[:-2], 4)


def canonical_quaternion(quaternions: np.ndarray) -> np.ndarray:
    """q and -q are the same rotation: pick the one with w >= 0."""
    quaternions = np.asarray(quaternions, dtype=np.float64)
    return np.where(quaternions[..., 3:4] < 0, -quaternions, quaternions)


def relative_rotation(euler_i: np.ndarray, euler_j: np.ndarray) -> np.ndarray:
    """R_i^-1 R_j as (..., 3, 3) matrices: the rotation taking view i's pose to view j's."""
    r_i, r_j = euler_to_matrix(euler_i), euler_to_matrix(euler_j)
    return np.swapaxes(r_i, -1, -2) @ r_j


def relative_quaternion(
    euler_i: np.ndarray, euler_j: np.ndarray, canonical: bool = False
) -> np.ndarray:
    """The quaternion (x, y, z, w) of R_i^-1 R_j: conj(q_i) q_j, for every pair.

    The one place the benchmark computes relative rotations (training pairs,
    probes, the equivariance metrics, the benchmarks). The sign is the one scipy
    >= 1.11 gives for ``(r_i.inv() * r_j).as_quat()``; scipy <= 1.10 gives the
    negative (its ``inv()`` negated the scalar part). Pure numpy, so the sign never
    depends on the installed scipy (docs/protocol.md section 9). Not
    sign-canonicalised unless ``canonical`` (then w >= 0). Euler arrays broadcast.
    """
    q_i = euler_to_quaternion(euler_i)
    q_j = euler_to_quaternion(euler_j)
    conjugate = q_i * np.array([-1.0, -1.0, -1.0, 1.0])
    quaternions = quaternion_multiply(conjugate, q_j)
    return canonical_quaternion(quaternions) if canonical else quaternions
