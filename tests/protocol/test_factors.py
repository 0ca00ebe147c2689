import json
import math
import multiprocessing
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from iebench.core.errors import IebenchError
from iebench.protocol import factors
from iebench.protocol.factors import FactorSpec

KEYS = [("02691156", "1a04e3eab45ca15dd86060f189eb133", v) for v in range(50)] + [
    ("03001627", f"obj-{i}", 7) for i in range(50)
]


def test_latent_layout_matches_the_published_order():
    assert factors.LATENT_NAMES == (
        "rotation_x",
        "rotation_y",
        "rotation_z",
        "floor_hue",
        "spot_theta",
        "spot_phi",
        "spot_hue",
    )
    colour_and_light = (factors.FLOOR_HUE, factors.SPOT_THETA, factors.SPOT_PHI, factors.SPOT_HUE)
    assert colour_and_light == (3, 4, 5, 6)
    assert factors.COLOUR_FACTORS == (3, 6)
    spec = FactorSpec.published()
    assert spec.size == 7 and spec.names == factors.LATENT_NAMES
    assert FactorSpec.translated().size == 10
    assert FactorSpec.translated().names[7:] == factors.TRANSLATION_NAMES


def test_published_ranges():
    ranges = FactorSpec.published().ranges()
    half = math.pi / 2
    assert ranges[:3] == [((-half, half),)] * 3
    assert ranges[3] == ((0.0, 1.0),)
    assert ranges[4] == ((0.0, math.pi / 4),)
    assert ranges[5] == ((0.0, 2 * math.pi),)
    assert ranges[6] == ((0.0, 1.0),)


@pytest.mark.parametrize("spec", [FactorSpec.published(), FactorSpec.translated()])
def test_samples_are_float64_inside_their_ranges_and_cover_them(spec):
    latents = np.stack([factors.sample_view(spec, 3, s, o, v) for s, o, v in KEYS])
    assert latents.dtype == np.float64 and latents.shape == (len(KEYS), spec.size)
    assert spec.contains(latents).all()
    lows = np.array([r[0][0] for r in spec.ranges()])
    highs = np.array([r[-1][1] for r in spec.ranges()])
    span = highs - lows
    # 100 uniform draws per factor reach well into both ends of each range.
    assert (latents.min(axis=0) < lows + 0.15 * span).all()
    assert (latents.max(axis=0) > highs - 0.15 * span).all()


def test_out_of_distribution_rotations_avoid_the_published_range():
    spec = FactorSpec.out_of_distribution()
    latents = np.stack([factors.sample_view(spec, 0, s, o, v) for s, o, v in KEYS])
    angles = np.abs(latents[:, factors.ROTATION])
    assert (angles >= math.pi / 2).all() and (angles <= math.pi).all()
    assert (latents[:, factors.ROTATION] < 0).any() and (latents[:, factors.ROTATION] > 0).any()
    assert spec.contains(latents).all()
    assert not FactorSpec.published().contains(latents).any()


def test_translated_variant_only_appends_the_translation():
    published = factors.sample_object(FactorSpec.published(), 5, "02691156", "abc", 10)
    translated = factors.sample_object(FactorSpec.translated(), 5, "02691156", "abc", 10)
    np.testing.assert_array_equal(translated[:, :7], published)
    assert (np.abs(translated[:, factors.TRANSLATION]) <= 0.5).all()


def test_a_view_is_redrawn_identically_in_any_order():
    spec = FactorSpec.published()
    forward = [factors.sample_view(spec, 0, s, o, v).tobytes() for s, o, v in KEYS]
    backward = [factors.sample_view(spec, 0, s, o, v).tobytes() for s, o, v in reversed(KEYS)]
    assert forward == backward[::-1]
    np.random.seed(123)  # global state must not matter
    assert factors.sample_view(spec, 0, *KEYS[0]).tobytes() == forward[0]


def _draw(keys):
    return [factors.sample_view(FactorSpec.published(), 0, s, o, v).tobytes() for s, o, v in keys]


def test_a_view_is_redrawn_identically_in_another_process():
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        remote = pool.apply(_draw, (KEYS[:10],))
    assert remote == _draw(KEYS[:10])


def test_seed_object_and_view_all_change_the_draw():
    spec = FactorSpec.published()
    base = factors.sample_view(spec, 0, "02691156", "abc", 0)
    assert not np.array_equal(base, factors.sample_view(spec, 1, "02691156", "abc", 0))
    assert not np.array_equal(base, factors.sample_view(spec, 0, "02691156", "abd", 0))
    assert not np.array_equal(base, factors.sample_view(spec, 0, "02691156", "abc", 1))
    assert not np.array_equal(base, factors.sample_view(spec, 0, "03001627", "abc", 0))


def test_negative_seed_and_bad_specs_are_refused():
    with pytest.raises(IebenchError):
        factors.view_generator(-1, "02691156", "abc", 0)
    with pytest.raises(IebenchError, match="bad range"):
        FactorSpec(floor_hue=(1.0, 0.0))
    with pytest.raises(IebenchError, match="overlap"):
        FactorSpec(rotation=((-1.0, 0.5), (0.0, 1.0)))
    with pytest.raises(IebenchError, match="unknown factor spec"):
        FactorSpec.named("nope")


@pytest.mark.parametrize("name", list(factors.VARIANTS))
def test_spec_round_trips_through_a_dict(name):
    spec = FactorSpec.named(name)
    assert FactorSpec.from_dict(spec.to_dict()) == spec
    assert FactorSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


# Drawn before per-factor ranges existed: custom specs must not move the named variants.
PINNED_VIEW = [1.3825615361531853, -1.0929119056056495, 0.7075061137315357, 0.39111712071104576]
PINNED_VIEW += [0.42540881624756244, 1.8896567022268662, 0.9305133015737235]


def test_named_variants_draw_the_values_they_always_drew():
    key = (7, "04379243", "tbl-3", 11)
    assert factors.sample_view(FactorSpec.published(), *key).tolist() == PINNED_VIEW
    translated = factors.sample_view(FactorSpec.translated(), *key).tolist()
    assert translated == PINNED_VIEW + [
        0.18734896561304049,
        0.27311449270526533,
        -0.3190010722954616,
    ]
    ood = factors.sample_view(FactorSpec.out_of_distribution(), *key).tolist()
    assert ood == [2.953357862948082, -2.663708232400546, 2.2783024405264323] + PINNED_VIEW[3:]
    vertical = factors.sample_view(FactorSpec.vertical_axis(), *key).tolist()
    assert vertical == [0.0, 0.0, PINNED_VIEW[2]] + PINNED_VIEW[3:]
    # The manifest form (the dataset identity) of the published data, as every tree has it.
    assert FactorSpec.published().to_dict() == {
        "name": "published",
        "rotation": [[-math.pi / 2, math.pi / 2]],
        "floor_hue": [0.0, 1.0],
        "spot_theta": [0.0, math.pi / 4],
        "spot_phi": [0.0, 2 * math.pi],
        "spot_hue": [0.0, 1.0],
        "translation": None,
    }


def test_a_custom_spec_file_draws_per_factor_unions(tmp_path):
    path = tmp_path / "custom.json"
    spec_text = {
        "name": "custom",
        "rotation": [[1.0, 1.5], [-3.0, -2.0]],  # any order: stored sorted
        "rotation_y": [0.25, 0.25],
        "floor_hue": [[0.0, 0.1], [0.5, 0.6]],
        "spot_phi": [1, 2],
        "translation": [-0.1, 0.1],
    }
    path.write_text(json.dumps(spec_text))
    spec = FactorSpec.load(str(path))
    assert spec.size == 10 and spec.rotation == ((-3.0, -2.0), (1.0, 1.5))
    assert factors.sample_view(spec, 3, "02691156", "abc", 0).tolist() == [
        -2.2178000169409393,
        0.25,
        1.0250022875142841,
        0.5378607310043966,
        0.33544541983709925,
        1.6408690872822898,
        0.16496941360093065,
        0.010930272681477143,
        0.03945754352360922,
        -0.09829485710630599,
    ]
    latents = np.stack([factors.sample_view(spec, 0, s, o, v) for s, o, v in KEYS])
    assert spec.contains(latents).all() and (np.abs(latents[:, [0, 2]]) >= 1.0).all()
    assert ((latents[:, 3] <= 0.1) | (latents[:, 3] >= 0.5)).all()
    # Both parts of a union are drawn from, in proportion to their lengths (2:1 here).
    below = (latents[:, [0, 2]] < 0).mean()
    assert 0.55 < below < 0.8
    assert FactorSpec.from_dict(spec.to_dict()) == spec


def test_the_example_vertical_axis_file_is_the_named_variant():
    path = Path(__file__).parents[2] / "examples" / "factors-vertical-axis.json"
    spec = FactorSpec.load(str(path))
    assert spec == FactorSpec.named("vertical-axis")
    assert spec.to_dict() == FactorSpec.vertical_axis().to_dict()
    assert spec.rotation_ranges() == (((0.0, 0.0),), ((0.0, 0.0),), ((-math.pi / 2, math.pi / 2),))
    # The same ranges under another name are another dataset.
    assert FactorSpec(name="other", rotation_x=(0, 0), rotation_y=(0, 0)) != spec


def test_the_pose_only_file_varies_the_vertical_angle_alone():
    """The mini track's spec (benchmarks/sie_vs_vicreg.py), named and as the example file
    examples/factors-pose-only.json: a pair's views differ by the rotation about the
    vertical axis and nothing else."""
    spec = FactorSpec.load(str(Path(__file__).parents[2] / "examples" / "factors-pose-only.json"))
    assert spec == FactorSpec.named("pose-only")
    assert spec.to_dict() == FactorSpec.pose_only().to_dict()
    latents = np.stack([factors.sample_view(spec, 0, s, o, v) for s, o, v in KEYS])
    assert np.ptp(latents, axis=0).nonzero()[0].tolist() == [2]
    view = factors.sample_view(spec, 0, "02691156", "1a04e3eab45ca15dd86060f189eb133", 3)
    assert view.tolist() == [0.0, 0.0, 0.47851701330577523, 0.6, 0.4, 0.8, 0.1]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"rotation_w": [0, 1]}', "unknown key 'rotation_w'; factor ranges are rotation, "),
        ('{"floor_hue": "red"}', "floor_hue: expected [lo, hi] or a list of [lo, hi] ranges"),
        ('{"spot_hue": [1, 0]}', "spot_hue: bad range [1.0, 0.0]"),
        ('{"rotation_z": [[0, 1], [0.5, 2]]}', "rotation_z: ranges overlap"),
        ('{"name": 3}', "name must be a non-empty string"),
        ("[0, 1]", "a factor spec is a JSON object of factor ranges"),
        ("{", "unreadable factor spec"),
    ],
)
def test_a_bad_spec_file_is_one_line_naming_file_and_key(tmp_path, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(IebenchError) as error:
        FactorSpec.load(str(path))
    assert str(error.value).startswith(f"{path}: {message}") and "\n" not in str(error.value)
    with pytest.raises(IebenchError, match="or give a .json file"):
        FactorSpec.load("vertical")


def test_euler_conversions_agree_with_scipy():
    rng = np.random.default_rng(0)
    angles = rng.uniform(-math.pi / 2, math.pi / 2, size=(20, 3))
    matrices = factors.euler_to_matrix(angles)
    np.testing.assert_allclose(matrices, Rotation.from_euler("xyz", angles).as_matrix())
    # Extrinsic xyz: R = Rz(c) Ry(b) Rx(a).
    a, b, c = angles[0]
    expected = (
        Rotation.from_euler("z", c).as_matrix()
        @ Rotation.from_euler("y", b).as_matrix()
        @ Rotation.from_euler("x", a).as_matrix()
    )
    np.testing.assert_allclose(matrices[0], expected, atol=1e-12)
    np.testing.assert_allclose(factors.matrix_to_euler(matrices), angles, atol=1e-9)
    quaternions = factors.euler_to_quaternion(angles)
    np.testing.assert_allclose(quaternions, Rotation.from_euler("xyz", angles).as_quat())
    np.testing.assert_allclose(factors.quaternion_to_euler(quaternions), angles, atol=1e-9)
    np.testing.assert_allclose(factors.quaternion_to_matrix(quaternions), matrices, atol=1e-12)
    recovered = factors.matrix_to_quaternion(matrices)
    np.testing.assert_allclose(np.abs(np.sum(recovered * quaternions, axis=-1)), 1.0, atol=1e-12)
    assert factors.euler_to_matrix(angles.reshape(4, 5, 3)).shape == (4, 5, 3, 3)


def test_relative_rotation_is_r_i_inverse_r_j():
    rng = np.random.default_rng(1)
    euler_i, euler_j = rng.uniform(-1.5, 1.5, size=(2, 10, 3))
    relative = factors.relative_rotation(euler_i, euler_j)
    r_i = Rotation.from_euler("xyz", euler_i)
    r_j = Rotation.from_euler("xyz", euler_j)
    np.testing.assert_allclose(relative, (r_i.inv() * r_j).as_matrix(), atol=1e-12)
    # Applying the relative rotation after view i's pose gives view j's pose.
    np.testing.assert_allclose(r_i.as_matrix() @ relative, r_j.as_matrix(), atol=1e-12)
    quaternions = factors.relative_quaternion(euler_i, euler_j)
    np.testing.assert_allclose(quaternions, (r_i.inv() * r_j).as_quat(), atol=1e-12)
    np.testing.assert_allclose(factors.quaternion_to_matrix(quaternions), relative, atol=1e-12)
    canonical = factors.relative_quaternion(euler_i, euler_j, canonical=True)
    assert (canonical[:, 3] >= 0).all()
    np.testing.assert_allclose(np.abs(canonical), np.abs(quaternions), atol=1e-12)
    identity = factors.relative_quaternion(euler_i, euler_i, canonical=True)
    np.testing.assert_allclose(identity, np.tile([0, 0, 0, 1.0], (10, 1)), atol=1e-12)


# Pinned: conj(q_i) q_j, scalar-last, the sign scipy >= 1.11 gives. scipy 1.10.1 gives the
# negative of every row (its Rotation.inv() negated the scalar part), so under scipy 1.10
# training and evaluation disagreed before relative_quaternion became pure numpy.
PINNED_EULER_I = [[0.3, -0.5, 1.2], [-1.4, 0.9, -0.2], [1.5, 1.5, -1.5]]
PINNED_EULER_J = [[-0.7, 0.4, 0.1], [0.6, -1.1, 1.3], [-1.5, 0.2, 0.8]]
PINNED_RELATIVE = [
    [-0.39095807071701855, 0.4671392433372687, -0.4379577620972829, 0.6611548327693375],
    [0.3694291510842584, -0.8312091339159808, 0.38493142658876434, 0.15633705526249395],
    [-0.37288307400325016, -0.24721104613699604, 0.6024088167435107, -0.6610208236503763],
]
PINNED_ABSOLUTE_I = [
    [0.25762853798958335, -0.12014247631977643, 0.5714598517275828, 0.7698226806613265],
    [-0.5439733661177146, 0.3889297389014186, 0.21005732793825102, 0.713233870572675],
    [0.7048936121269538, 0.02496236632867388, -0.7048936121269538, 0.07501247517916071],
]


def test_relative_quaternions_are_pinned_whatever_the_scipy_version():
    relative = factors.relative_quaternion(np.array(PINNED_EULER_I), np.array(PINNED_EULER_J))
    np.testing.assert_allclose(relative, PINNED_RELATIVE, rtol=0, atol=1e-15)
    absolute = factors.euler_to_quaternion(np.array(PINNED_EULER_I))
    np.testing.assert_allclose(absolute, PINNED_ABSOLUTE_I, rtol=0, atol=1e-15)
    # The third pair has w < 0: the sign is not canonicalised unless asked.
    canonical = factors.relative_quaternion(PINNED_EULER_I, PINNED_EULER_J, canonical=True)
    np.testing.assert_allclose(canonical[2], -np.array(PINNED_RELATIVE[2]), atol=1e-15)


def test_training_pairs_use_the_pinned_convention(rendered_tree):
    from iebench.data.dataset import PairsDataset

    pairs = PairsDataset(rendered_tree, "train", transform=lambda image: torch.zeros(1))
    pair = pairs[0]
    expected = factors.relative_quaternion(pair.latent_i[:3].double(), pair.latent_j[:3].double())
    np.testing.assert_allclose(pair.rotation.numpy(), expected, atol=1e-6)
