"""The published dataset's layout, end to end: no iebench.json, split files of
``/synset/id/`` strings, 50 views per object, float64 latents of 7 values, JPEG images.

A tiny hand-built tree (tests/helpers/handbuilt.py: 4 train and 2 val objects, 32 px) goes
through `validate`, `pack`, both datasets (from the pack and from the JPEGs) and
`evaluate`, as a user of the downloaded dataset would run them.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from helpers.handbuilt import build_tree

from iebench.cli import cli
from iebench.data.dataset import PairsDataset, ViewsDataset
from iebench.data.tree import TreeIndex
from iebench.protocol.layout import MANIFEST_NAME
from iebench.protocol.manifest import read_tree_manifest

VIEWS = 50
SIZE = 32
ENCODER = """\
import torch
from iebench.evaluation.submission import EncoderMetadata
from iebench.models.resnet import resnet18

METADATA = EncoderMetadata(name="published-tree probe", embedding_dim=16, resolution=32)


def build_encoder(checkpoint):
    torch.manual_seed(0)
    return resnet18(width=2, layers=(1, 1, 1, 1))
"""


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    return build_tree(tmp_path_factory.mktemp("published") / "3DIEBench", views=VIEWS, size=SIZE)


def run(*args) -> object:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_the_tree_is_in_the_published_layout(published):
    assert not (published / MANIFEST_NAME).exists() and read_tree_manifest(published) is None
    keys = np.load(published / "train_images.npy")
    assert keys.dtype.kind == "U" and keys[0] == "/02691156/plane_a/"
    latents = np.load(published / "all_latents_train.npy")
    assert latents.dtype == np.float64 and latents.shape == (4 * VIEWS, 7)
    latent = np.load(published / "02691156" / "plane_a" / "latent_49.npy")
    assert latent.dtype == np.float64 and latent.shape == (7,)
    assert (published / "02691156" / "plane_a" / "image_49.jpg").read_bytes()[:2] == b"\xff\xd8"


def test_validate_pack_datasets_and_evaluate(published, tmp_path):
    assert "|" in run("validate", published).stderr  # a progress bar, by default
    result = run("validate", published, "--quiet")
    assert result.exit_code == 0, result.output
    assert "|" not in result.stderr  # --quiet: notes only, no bar
    assert "note: train: expected image size (32, 32) from the first image" in result.stderr

    result = run("pack", published, "--resolution", SIZE, "--quiet")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert f"train: 4 objects x {VIEWS} views" in result.output
    assert f"val: 2 objects x {VIEWS} views" in result.output

    index = TreeIndex.load(published, "train")
    assert index.objects[0] == ("02691156", "plane_a") and index.views == VIEWS
    packed = ViewsDataset(published, "train", resolution=SIZE)
    decoded = ViewsDataset(published, "train", resolution=SIZE, pack=False)
    assert packed.pack is not None and len(packed) == 4 * VIEWS
    last = len(packed) - 1  # table_a, view 49
    assert packed[last].view == VIEWS - 1 and packed[last].label == decoded[last].label
    assert np.array_equal(packed[last].image.numpy(), decoded[last].image.numpy())
    np.testing.assert_array_equal(packed[last].latent.numpy(), index.latents[3, 49].astype("f4"))
    pair = PairsDataset(published, "val", resolution=SIZE)[1]
    assert pair.x_i.shape == (3, SIZE, SIZE) and pair.view_i != pair.view_j
    assert pair.rotation.shape == (4,)

    encoder = tmp_path / "encoder.py"
    encoder.write_text(ENCODER)
    out = tmp_path / "results.json"
    result = run(
        "evaluate", encoder, "--data", published, "--protocol", "quick", "--workers", 0,
        "--cache", tmp_path / "cache", "--out", out, "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    results = json.loads(out.read_text())
    assert results["dataset"]["views_per_object"] == VIEWS
    assert results["dataset"]["splits"]["val"] == {"objects": 2, "images": 2 * VIEWS}
    # 3 classes in train (airplane, chair, table); val has chair and table.
    assert results["reference"]["classification"] == {"top1": 100 / 3, "top5": 100.0}
    assert set(results["scores"]) == {"classification", "rotation", "colour"}
    assert "reference" in result.output.splitlines()[1]
