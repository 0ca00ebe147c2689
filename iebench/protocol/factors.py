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

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

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
# A union of disjoint ranges, in increasing order; a value is drawn uniformly from it.
Ranges = tuple[Range, ...]
HALF_PI = math.pi / 2
# The keys of a factor spec's dict and file form; "rotation" is every Euler angle's default.
SPEC_KEYS: tuple[str, ...] = ("name", "rotation", *LATENT_NAMES, "translation")
_AXES = LATENT_NAMES[ROTATION]


def parse_ranges(value: object, key: str) -> Ranges:
    """``[lo, hi]`` or a list of them -> a sorted union of disjoint ranges.

    Raises ValueError naming ``key`` (callers add where the value came from).
    """
    if _is_range(value):
        ranges = [value]
    elif isinstance(value, list | tuple) and value and all(_is_range(r) for r in value):
        ranges = list(value)
    else:
        raise ValueError(f"{key}: expected [lo, hi] or a list of [lo, hi] ranges, got {value!r}")
    parsed = []
    for low, high in ranges:
        low, high = float(low), float(high)
        if not (math.isfinite(low) and math.isfinite(high) and low <= high):
            raise ValueError(f"{key}: bad range [{low}, {high}]")
        parsed.append((low, high))
    parsed.sort()
    if any(a[1] > b[0] for a, b in zip(parsed, parsed[1:], strict=False)):
        raise ValueError(f"{key}: ranges overlap")
    return tuple(parsed)


def _is_range(value: object) -> bool:
    return (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    )


def _compact(ranges: Ranges) -> list:
    """The dict form of a union: one range as [lo, hi], several as a list of them."""
    return list(ranges[0]) if len(ranges) == 1 else [list(r) for r in ranges]


@dataclass(frozen=True, eq=False)
class FactorSpec:
    """The distribution of every factor: each is uniform over its union of ranges.

    ``rotation`` is the union each of the three Euler angles is drawn from (one
    interval for the published data, two for the out-of-distribution variant),
    unless ``rotation_x``/``_y``/``_z`` gives that angle its own. ``translation``
    is set only for 3DIEBench-T. Every range field takes a single ``(lo, hi)``
    or a union of them, stored sorted. Two specs are equal when their names and
    the ranges every latent is drawn from are (the canonical ``to_dict``).
    """

    name: str = "published"
    rotation: Ranges = ((-HALF_PI, HALF_PI),)
    floor_hue: Ranges = ((0.0, 1.0),)
    spot_theta: Ranges = ((0.0, math.pi / 4),)
    spot_phi: Ranges = ((0.0, 2 * math.pi),)
    spot_hue: Ranges = ((0.0, 1.0),)
    translation: Ranges | None = None
    rotation_x: Ranges | None = None
    rotation_y: Ranges | None = None
    rotation_z: Ranges | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise IebenchError(f"factor spec name must be a non-empty string, got {self.name!r}")
        for key in SPEC_KEYS[1:]:
            value = getattr(self, key)
            if value is None:
                continue
            try:
                object.__setattr__(self, key, parse_ranges(value, key))
            except ValueError as error:
                raise IebenchError(f"factor spec {self.name!r}: {error}") from None

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
    def of_release(cls, latents: np.ndarray | None) -> FactorSpec:
        """The spec of a published release, which has no manifest, told by its latents:
        3DIEBench-T's (EquiCaps' release) by their 10 values; 3DIEBench-OOD's (seq-JEPA's) when
        every rotation lies in its ranges and not all in the published ones; else 3DIEBench's
        (against which bad latents are then reported)."""
        if latents is None:
            return cls.published()
        latents = np.asarray(latents, dtype=np.float64)
        if latents.shape[-1] == cls.translated().size:
            return cls.translated()
        published, ood = cls.published(), cls.out_of_distribution()
        if not published.contains(latents).all() and ood.contains(latents).all():
            return ood
        return published

    @classmethod
    def vertical_axis(cls) -> FactorSpec:
        """Rotation about the vertical (Z) axis only, in [-pi/2, pi/2]; X and Y angles 0."""
        return cls(name="vertical-axis", rotation_x=(0.0, 0.0), rotation_y=(0.0, 0.0))

    @classmethod
    def pose_only(cls) -> FactorSpec:
        """The mini track's (docs/mini-track.md): rotation about the vertical axis
        only, in [-pi/2, pi/2]; floor and spot light fixed, so that two views of an object
        differ by their rotation alone."""
        return cls(
            name="pose-only",
            rotation_x=(0.0, 0.0),
            rotation_y=(0.0, 0.0),
            floor_hue=(0.6, 0.6),
            spot_theta=(0.4, 0.4),
            spot_phi=(0.8, 0.8),
            spot_hue=(0.1, 0.1),
        )

    @classmethod
    def named(cls, name: str) -> FactorSpec:
        if name not in VARIANTS:
            raise IebenchError(f"unknown factor spec {name!r}; choose from {', '.join(VARIANTS)}")
        return VARIANTS[name]()

    @classmethod
    def load(cls, text: str | Path) -> FactorSpec:
        """A named variant, or a JSON file's spec (what ``iebench render --factors`` takes)."""
        text = str(text)
        if text in VARIANTS:
            return cls.named(text)
        if text.endswith(".json") or Path(text).is_file():
            return cls.from_file(Path(text))
        raise IebenchError(
            f"unknown factor spec {text!r}; choose from {', '.join(VARIANTS)} or give a .json file"
        )

    @classmethod
    def from_file(cls, path: Path) -> FactorSpec:
        """The spec in a JSON file: an object with ``SPEC_KEYS`` (docs/rendering.md, "Custom factor
        ranges"); "name" defaults to the file's stem. Any problem is one line naming the file."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise IebenchError(f"{path}: unreadable factor spec ({error})") from None
        if not isinstance(data, dict):
            raise IebenchError(f"{path}: a factor spec is a JSON object of factor ranges")
        return cls.from_dict({"name": path.stem} | data, source=str(path))

    @property
    def names(self) -> tuple[str, ...]:
        return LATENT_NAMES + (TRANSLATION_NAMES if self.translation is not None else ())

    @property
    def size(self) -> int:
        return len(self.names)

    def rotation_ranges(self) -> tuple[Ranges, Ranges, Ranges]:
        """The union each Euler angle (x, y, z) is drawn from."""
        return tuple(getattr(self, axis) or self.rotation for axis in _AXES)

    def ranges(self) -> list[Ranges]:
        """Per latent dimension, the intervals its values are drawn from."""
        ranges = [*self.rotation_ranges(), self.floor_hue, self.spot_theta]
        ranges += [self.spot_phi, self.spot_hue]
        if self.translation is not None:
            ranges += [self.translation] * len(TRANSLATION_NAMES)
        return ranges

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
        """The canonical dict form, stored in the manifest as the dataset's identity.

        Equal Euler-angle ranges are written once as ``rotation`` (always a list
        of ranges, as every manifest has had it); other ranges are ``[lo, hi]``
        when single. The named variants' form is unchanged by the per-axis keys.
        """
        axes = self.rotation_ranges()
        data: dict = {"name": self.name}
        if len(set(axes)) == 1:
            data["rotation"] = [list(r) for r in axes[0]]
        else:
            data |= {axis: _compact(r) for axis, r in zip(_AXES, axes, strict=True)}
        for key in ("floor_hue", "spot_theta", "spot_phi", "spot_hue"):
            data[key] = _compact(getattr(self, key))
        data["translation"] = None if self.translation is None else _compact(self.translation)
        return data

    @classmethod
    def from_dict(cls, data: dict, source: str | None = None) -> FactorSpec:
        """The spec of a dict form (a manifest's, or a file's); errors start with ``source``."""
        where = source or f"factor spec {data.get('name', '?')!r}"
        unknown = sorted(set(data) - set(SPEC_KEYS))
        if unknown:
            raise IebenchError(
                f"{where}: unknown key {unknown[0]!r}; factor ranges are {', '.join(SPEC_KEYS[1:])}"
            )
        name = data.get("name", cls.name)
        if not isinstance(name, str) or not name:
            raise IebenchError(f"{where}: name must be a non-empty string, got {name!r}")
        fields = {"name": name}
        for key in SPEC_KEYS[1:]:
            if data.get(key) is None:
                continue
            try:
                fields[key] = parse_ranges(data[key], key)
            except ValueError as error:
                raise IebenchError(f"{where}: {error}") from None
        return cls(**fields)

    def _identity(self) -> tuple:
        return (self.name, tuple(self.ranges()))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FactorSpec):
            return NotImplemented
        return self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())


# The named variants (``iebench render --factors NAME``).
VARIANTS: dict[str, Callable[[], FactorSpec]] = {
    "published": FactorSpec.published,
    "translated": FactorSpec.translated,
    "ood-rotation": FactorSpec.out_of_distribution,
    "vertical-axis": FactorSpec.vertical_axis,
    "pose-only": FactorSpec.pose_only,
}


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


def object_frame_translation(translation_i: np.ndarray, translation_j: np.ndarray) -> np.ndarray:
    """(..., 3) relative translations in the object frame: t_j - t_i, the latents' own
    difference (EquiCaps' object-frame target)."""
    return np.asarray(translation_j, np.float64) - np.asarray(translation_i, np.float64)


def base_frame_translation(
    euler_i: np.ndarray, translation_i: np.ndarray, euler_j: np.ndarray, translation_j: np.ndarray
) -> np.ndarray:
    """(..., 3) relative translations in the base frame: R_j t_j - R_i t_i. The pose R T(t)
    puts the object's centre at R t in the scene (EquiCaps' "final frame" target)."""

    def centre(euler: np.ndarray, translation: np.ndarray) -> np.ndarray:
        translation = np.asarray(translation, np.float64)
        return (euler_to_matrix(euler) @ translation[..., None])[..., 0]

    return centre(euler_j, translation_j) - centre(euler_i, translation_i)
