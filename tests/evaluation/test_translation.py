"""The translation tasks of 3DIEBench-T: their targets (pinned), when they run, and a scored run.

``translation`` regresses t_j - t_i (the object frame), ``translation-base`` R_j t_j - R_i t_i
(the base frame), as EquiCaps' eval_translation_prediction_{object,final}_frame.py define them.
"""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from helpers.handbuilt import build_tree
from scipy.spatial.transform import Rotation

from iebench.cli import cli
from iebench.core.errors import IebenchError
from iebench.data.tree import TreeIndex
from iebench.evaluation.config import EvalConfig
from iebench.evaluation.run import evaluate
from iebench.evaluation.tasks import absent_tasks
from iebench.protocol.factors import (
    TRANSLATION,
    FactorSpec,
    base_frame_translation,
    object_frame_translation,
    sample_object,
)
from iebench.protocol.tasks import TASK_REGISTRY
from iebench.scene.description import describe_view

SIZE = 32
ENCODER = """\
import torch
from iebench.evaluation.submission import EncoderMetadata
from iebench.models.resnet import resnet18

METADATA = EncoderMetadata(name="translation probe", embedding_dim=16, resolution=32)


def build_encoder(checkpoint):
    torch.manual_seed(0)
    return resnet18(width=2, layers=(1, 1, 1, 1))
"""
# Two views: rotation (x, y, z) Euler angles, then the translation.
EULER_I, T_I = np.array([0.0, 0.0, np.pi / 2]), np.array([0.1, 0.2, 0.3])
EULER_J, T_J = np.array([np.pi / 2, 0.0, 0.0]), np.array([-0.4, 0.5, 0.0])


def test_the_targets_of_a_fixed_pair():
    np.testing.assert_allclose(object_frame_translation(T_I, T_J), [-0.5, 0.3, -0.3], atol=1e-15)
    # R_i = Rz(90): (x, y, z) -> (-y, x, z), so R_i t_i = (-0.2, 0.1, 0.3);
    # R_j = Rx(90): (x, y, z) -> (x, -z, y), so R_j t_j = (-0.4, 0.0, 0.5).
    base = base_frame_translation(EULER_I, T_I, EULER_J, T_J)
    np.testing.assert_allclose(base, [-0.2, -0.1, 0.2], atol=1e-15)


def test_the_base_frame_is_the_move_of_the_object_in_the_scene():
    spec = FactorSpec.translated()
    latents = sample_object(spec, 3, "02691156", "plane_a", 6)
    i, j = latents[:3], latents[3:]
    base = base_frame_translation(i[:, :3], i[:, TRANSLATION], j[:, :3], j[:, TRANSLATION])
    for k in range(3):
        moved = np.subtract(
            describe_view(j[k], spec).object_location, describe_view(i[k], spec).object_location
        )
        np.testing.assert_allclose(base[k], moved, atol=1e-12)
    # EquiCaps builds the pose as a 4x4 matrix R @ T(t) and takes its translation column.
    for k in range(3):
        poses = []
        for latent in (i[k], j[k]):
            rotation, translation = np.eye(4), np.eye(4)
            rotation[:3, :3] = Rotation.from_euler("xyz", latent[:3]).as_matrix()
            translation[:3, 3] = latent[TRANSLATION]
            poses.append((rotation @ translation)[:3, 3])
        np.testing.assert_allclose(base[k], poses[1] - poses[0], atol=1e-12)
    np.testing.assert_array_equal(
        object_frame_translation(i[:, TRANSLATION], j[:, TRANSLATION]),
        j[:, TRANSLATION] - i[:, TRANSLATION],
    )


def test_the_registry_declares_both_frames():
    assert TASK_REGISTRY["translation"].factors == (7, 8, 9)
    assert TASK_REGISTRY["translation-base"].factors == (0, 1, 2, 7, 8, 9)
    assert TASK_REGISTRY["translation"].metric_names == ("r2", "r2_per_output")


@pytest.fixture(scope="module")
def translated(tmp_path_factory):
    root = tmp_path_factory.mktemp("translated") / "3DIEBench-T"
    return build_tree(root, views=6, size=SIZE, spec=FactorSpec.translated())


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    return build_tree(tmp_path_factory.mktemp("published") / "3DIEBench", views=6, size=SIZE)


def test_translation_is_left_out_of_a_tree_without_it_and_refused_when_asked(published, tmp_path):
    index = TreeIndex.load(published, "train")
    assert absent_tasks(index) == ["translation", "translation-base"]
    with pytest.raises(IebenchError, match=r"all_latents_train\.npy: the translation task needs"):
        absent_tasks(index, ("rotation", "translation"))
    encoder = tmp_path / "encoder.py"
    encoder.write_text(ENCODER)
    result = CliRunner().invoke(
        cli,
        ["evaluate", str(encoder), "--data", str(published), "--tasks", "translation-base",
         "--cache", str(tmp_path / "cache"), "--quiet"],
    )  # fmt: skip
    assert result.exit_code != 0
    assert "the translation-base task needs the object translation" in result.output
    assert "Traceback" not in result.output


def test_a_translated_tree_is_scored_on_translation(translated, tmp_path):
    encoder = tmp_path / "encoder.py"
    encoder.write_text(ENCODER)
    config = EvalConfig(
        data=translated, protocol="quick", workers=0, cache_dir=tmp_path / "cache",
        progress=False, device="cpu",
    )  # fmt: skip
    results = evaluate(encoder, config)
    assert results.protocol["tasks"] == [
        "classification", "rotation", "colour", "translation", "translation-base"
    ]  # fmt: skip
    assert results.dataset["constant_tasks"] == []
    for task in ("translation", "translation-base"):
        assert set(results.scores[task]) == {"full"}
        assert np.isfinite(results.scores[task]["full"]["r2"].mean)
    # The floors: the constant predictor's R^2 (the training targets' mean), from the tree's
    # latents alone. Near 0: each output's mean is near the global one, unlike rotation's.
    assert results.reference["rotation"]["r2"] == pytest.approx(0.250255, abs=1e-6)
    assert results.reference["translation"]["r2"] == pytest.approx(-0.055900, abs=1e-6)
    assert results.reference["translation-base"]["r2"] == pytest.approx(-0.029410, abs=1e-6)
