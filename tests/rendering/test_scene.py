"""The plain-Python scene description (docs/protocol.md section 2), without Blender."""

from __future__ import annotations

import colorsys
import dataclasses
import math

import numpy as np
import pytest

from iebench.core.errors import IebenchError
from iebench.protocol.factors import FactorSpec, euler_to_matrix, sample_view
from iebench.scene.description import (
    SCENES,
    STAGE,
    describe_view,
    floor_colour,
    look_at_euler,
    spot_colour,
)


def forward_and_up(euler) -> tuple[np.ndarray, np.ndarray]:
    """World directions of a camera's (or light's) view axis (-Z) and up axis (+Y)."""
    matrix = euler_to_matrix(np.asarray(euler))
    return matrix @ [0.0, 0.0, -1.0], matrix @ [0.0, 1.0, 0.0]


def test_camera_is_fixed_at_the_published_pose_and_looks_at_the_origin():
    assert STAGE.camera_location == pytest.approx((0.0, 1.7678, 1.7678), abs=1e-4)
    forward, up = forward_and_up(STAGE.camera_rotation)
    to_origin = -np.asarray(STAGE.camera_location) / np.linalg.norm(STAGE.camera_location)
    assert forward == pytest.approx(to_origin)
    assert up[2] > 0.5  # upright: image up is world up
    assert STAGE.camera_fov == pytest.approx(0.6911, abs=1e-4)


def test_fixed_lights_world_and_floor_are_the_published_ones():
    assert STAGE.floor_z == -1.0
    assert STAGE.world_colour == (0.05, 0.05, 0.05) and STAGE.world_strength == 1.0
    assert STAGE.sun_strength == 1.5 and STAGE.sun_angle == pytest.approx(math.pi / 2)
    # The official generator kept Blender's default sun shadows (its comment says otherwise).
    assert STAGE.sun_casts_shadows is True
    assert SCENES["published"] is STAGE and SCENES["shadowless"].sun_casts_shadows is False
    assert SCENES["shadowless"] == dataclasses.replace(STAGE, sun_casts_shadows=False)
    assert STAGE.spot_energy == 500.0
    assert STAGE.spot_size == pytest.approx(math.pi / 8)
    assert STAGE.spot_radius == 0.25


@pytest.mark.parametrize("theta", [0.0, 0.3, math.pi / 4])
def test_spot_sits_on_its_sphere_and_aims_at_the_origin(theta):
    spec = FactorSpec.published()
    latent = sample_view(spec, 0, "03001627", "abc", 0)
    latent[4], latent[5] = theta, 2.0
    scene = describe_view(latent, spec)
    expected = 4 * np.array([math.sin(theta) * math.cos(2.0), math.sin(theta) * math.sin(2.0)])
    assert scene.spot_location[:2] == pytest.approx(tuple(expected), abs=1e-12)
    assert scene.spot_location[2] == pytest.approx(4 * math.cos(theta))
    forward, _ = forward_and_up(scene.spot_rotation)
    assert forward == pytest.approx(-np.asarray(scene.spot_location) / 4)


def test_colours_come_from_the_latent_hues():
    spec = FactorSpec.published()
    latent = sample_view(spec, 3, "02691156", "xyz", 7)
    scene = describe_view(latent, spec)
    assert scene.floor_colour == pytest.approx(colorsys.hsv_to_rgb(latent[3], 0.6, 0.6))
    assert scene.spot_colour == pytest.approx(colorsys.hsv_to_rgb(latent[6], 1.0, 0.8))
    assert floor_colour(0.0) == pytest.approx((0.6, 0.24, 0.24))
    assert spot_colour(1 / 3) == pytest.approx((0.0, 0.8, 0.0))


def test_object_rotation_is_the_latent_euler_angles_and_stays_at_the_origin():
    spec = FactorSpec.published()
    latent = sample_view(spec, 0, "04379243", "t", 1)
    scene = describe_view(latent, spec)
    assert scene.object_rotation == tuple(latent[:3])
    assert scene.object_location == (0.0, 0.0, 0.0)


def test_translation_is_applied_in_the_object_frame():
    spec = FactorSpec.translated()
    latent = sample_view(spec, 0, "04379243", "t", 1)
    scene = describe_view(latent, spec)
    rotation = euler_to_matrix(latent[:3])
    # A model point x lands at R (x + t): the object's origin moves to R t.
    point = np.array([0.1, -0.2, 0.3])
    placed = rotation @ point + np.asarray(scene.object_location)
    assert placed == pytest.approx(rotation @ (point + latent[7:10]))


def test_look_at_straight_down_is_well_defined():
    forward, _ = forward_and_up(look_at_euler(np.array([0.0, 0.0, 4.0])))
    assert forward == pytest.approx((0.0, 0.0, -1.0))


def test_a_latent_of_the_wrong_size_is_refused():
    with pytest.raises(IebenchError, match="does not fit factor spec"):
        describe_view(np.zeros(10), FactorSpec.published())
