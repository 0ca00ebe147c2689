"""The 3DIEBench scene as plain data (docs/protocol.md section 2), with no Blender dependency.

`describe_view(latent, spec)` turns one latent into everything the renderer sets
for that view; `STAGE` holds what is fixed for the whole dataset (`SCENES`: it and
its named variants). Positions are
in metres, angles in radians, rotations are Blender XYZ Euler angles, colours
are scene-linear RGB (what Blender's colour sockets and light colours expect).
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import asdict, dataclass, replace

import numpy as np

from iebench.core.errors import IebenchError
from iebench.protocol.factors import (
    FLOOR_HUE,
    ROTATION,
    SPOT_HUE,
    SPOT_PHI,
    SPOT_THETA,
    TRANSLATION,
    FactorSpec,
    euler_to_matrix,
    matrix_to_euler,
)

Vector = tuple[float, float, float]

CAMERA_DISTANCE = 2.5
CAMERA_THETA = math.pi / 4
CAMERA_PHI = math.pi / 2
# Blender's default camera (50 mm lens, 36 mm sensor), which the published scene kept.
CAMERA_FOV = 2 * math.atan(18 / 50)
SPOT_DISTANCE = 4.0
FLOOR_SATURATION = 0.6
FLOOR_VALUE = 0.6
SPOT_SATURATION = 1.0
SPOT_VALUE = 0.8


def spherical_to_cartesian(r: float, theta: float, phi: float) -> np.ndarray:
    """Polar angle ``theta`` from +Z, azimuth ``phi`` from +X (the published convention)."""
    horizontal = r * math.sin(theta)
    return np.array([horizontal * math.cos(phi), horizontal * math.sin(phi), r * math.cos(theta)])


def look_at_euler(location: np.ndarray) -> Vector:
    """XYZ Euler angles that point a camera or light (which looks down its local -Z) at the
    origin with its local +Y as close to world +Z as possible (Blender's track-to)."""
    forward = -np.asarray(location, dtype=np.float64)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    if np.linalg.norm(right) < 1e-9:  # looking straight down or up: any roll will do
        right = np.array([1.0, 0.0, 0.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    matrix = np.stack([right, up, -forward], axis=1)
    return tuple(float(a) for a in matrix_to_euler(matrix))


def floor_colour(hue: float) -> Vector:
    """Floor colour of a floor hue: HSV(hue, 0.6, 0.6), used as a linear colour unchanged.

    The published scene set it as Blender 3.3's (linear) ``diffuse_color``; measured
    here, this gives the published pixel mean of about 0.50, where reading it as sRGB
    and converting to linear would give about 0.34.
    """
    return tuple(float(c) for c in colorsys.hsv_to_rgb(hue % 1.0, FLOOR_SATURATION, FLOOR_VALUE))


def spot_colour(hue: float) -> Vector:
    """Light colour of a spot hue: HSV(hue, 1, 0.8), used as a linear colour (as published)."""
    return tuple(float(c) for c in colorsys.hsv_to_rgb(hue % 1.0, SPOT_SATURATION, SPOT_VALUE))


@dataclass(frozen=True)
class Stage:
    """Everything fixed for the whole dataset: built once per worker."""

    camera_location: Vector
    camera_rotation: Vector
    camera_fov: float = CAMERA_FOV
    floor_z: float = -1.0
    floor_size: float = 10000.0
    world_colour: Vector = (0.05, 0.05, 0.05)
    world_strength: float = 1.0
    sun_strength: float = 1.5
    sun_angle: float = math.pi / 2
    sun_rotation: Vector = (0.0, 0.0, 0.0)  # pointing straight down
    # The official generator's comment says the sun casts no shadows, but nothing turns
    # Blender's default shadows off: its renders have a very soft one under the object.
    sun_casts_shadows: bool = True
    spot_energy: float = 500.0
    spot_size: float = math.pi / 8
    spot_blend: float = 0.15
    spot_radius: float = 0.25

    def to_dict(self) -> dict:
        return asdict(self)


def _default_stage() -> Stage:
    camera = spherical_to_cartesian(CAMERA_DISTANCE, CAMERA_THETA, CAMERA_PHI)
    return Stage(
        camera_location=tuple(float(c) for c in camera), camera_rotation=look_at_euler(camera)
    )


STAGE = _default_stage()
# The fixed stages by name: the published scene as rendered, and the look its generator's
# comment describes (no sun shadows).
SCENES: dict[str, Stage] = {
    "published": STAGE,
    "shadowless": replace(STAGE, sun_casts_shadows=False),
}


def stage_named(name: str) -> Stage:
    if name not in SCENES:
        raise IebenchError(f"unknown scene {name!r}; choose from {', '.join(SCENES)}")
    return SCENES[name]


@dataclass(frozen=True)
class SceneDescription:
    """What changes from view to view, plus the fixed stage it is set on."""

    object_rotation: Vector
    object_location: Vector
    floor_colour: Vector
    spot_location: Vector
    spot_rotation: Vector
    spot_colour: Vector
    stage: Stage = STAGE

    def to_dict(self) -> dict:
        return asdict(self)


def describe_view(latent: np.ndarray, spec: FactorSpec, stage: Stage = STAGE) -> SceneDescription:
    """The scene of one view from its latent (``spec.size`` values in the published order).

    3DIEBench-T's translation t is applied in the object frame: the pose is R then
    T(t), so a model point x lands at R (x + t) and the object's origin at R t.
    """
    latent = np.asarray(latent, dtype=np.float64)
    if latent.shape != (spec.size,):
        raise IebenchError(
            f"latent of shape {latent.shape} does not fit factor spec {spec.name!r} "
            f"({spec.size} values)"
        )
    angles = latent[ROTATION]
    location = np.zeros(3)
    if spec.translation is not None:
        location = euler_to_matrix(angles) @ latent[TRANSLATION]
    spot = spherical_to_cartesian(SPOT_DISTANCE, latent[SPOT_THETA], latent[SPOT_PHI])
    return SceneDescription(
        object_rotation=tuple(float(a) for a in angles),
        object_location=tuple(float(c) for c in location),
        floor_colour=floor_colour(float(latent[FLOOR_HUE])),
        spot_location=tuple(float(c) for c in spot),
        spot_rotation=look_at_euler(spot),
        spot_colour=spot_colour(float(latent[SPOT_HUE])),
        stage=stage,
    )
