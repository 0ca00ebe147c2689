"""`iebench render --val-fraction`: the seeded split's val share, 0 putting every object in
train (the way out for a tree of one object per category, which a nonzero share refuses)."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from click.testing import CliRunner

from iebench.cli import cli
from iebench.core.errors import IebenchError
from iebench.data.splits import seeded_split
from iebench.protocol.layout import MANIFEST_NAME, image_path, object_key, split_files
from iebench.rendering import RenderConfig, render_objects

ONE_PER_CATEGORY = [("02691156", "plane"), ("03001627", "chair"), ("04379243", "table")]
TRIANGLE = "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"


def one_object_per_category(root):
    for synset, object_id in ONE_PER_CATEGORY:
        path = root / synset / object_id / "models" / "model_normalized.obj"
        path.parent.mkdir(parents=True)
        path.write_text(TRIANGLE)
    return root


@pytest.mark.parametrize("bad", [-0.1, 1.0, math.nan])
def test_a_val_fraction_outside_0_to_1_is_one_clear_line(tmp_path, bad):
    with pytest.raises(IebenchError, match=re.escape(f"--val-fraction {bad}: must be in [0, 1)")):
        RenderConfig(out=tmp_path / "out", val_fraction=bad)
    assert RenderConfig(out=tmp_path / "out", val_fraction=0).val_fraction == 0


def test_val_fraction_0_puts_every_object_in_train():
    many = [(synset, f"{synset}-{i}") for synset, _ in ONE_PER_CATEGORY for i in range(5)]
    for objects in (ONE_PER_CATEGORY, many):
        sides = seeded_split(objects, seed=0, val_fraction=0)
        assert sides == {"train": sorted(objects), "val": []}
    # The default share: one of five per category, none of a lone object.
    assert len(seeded_split(many, seed=0)["val"]) == 3
    assert seeded_split(ONE_PER_CATEGORY, seed=0)["val"] == []


def test_the_option_reaches_the_config_and_its_help_says_what_0_does():
    render = cli.get_command(None, "render")
    option = next(p for p in render.params if p.name == "val_fraction")
    assert option.opts == ["--val-fraction"] and option.default == 0.2
    assert "0: every object in train and an empty val split" in option.help
    # Under the root's context, as `iebench render` runs (click keeps the first help option).
    parent = cli.make_context("iebench", ["render"], resilient_parsing=True)
    words = ["--out", "o", "--val-fraction", "0"]
    with render.make_context("render", words, parent=parent) as context:
        assert context.params["val_fraction"] == 0.0


def test_one_object_per_category_is_refused_with_the_way_out(tmp_path):
    root = one_object_per_category(tmp_path / "shapenet")
    out = tmp_path / "out"
    with pytest.raises(IebenchError) as refused:
        render_objects(RenderConfig(out=out, objects=root, progress=False), print)
    assert str(refused.value) == (
        f"{out}: the val split would be empty: no category has two objects (val takes objects "
        "of categories with at least two); render more objects per category, or all into "
        "train with --val-fraction 0"
    )
    assert not out.exists()


@pytest.mark.blender
def test_one_object_per_category_renders_with_val_fraction_0(tmp_path):
    root = one_object_per_category(tmp_path / "shapenet")
    out = tmp_path / "tree"
    result = CliRunner().invoke(
        cli,
        [
            *("render", "--objects", str(root), "--out", str(out), "--views", "1"),
            *("--preset", "preview", "--resolution", "32", "--val-fraction", "0", "--quiet"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "val fraction 0: every object is in train, the val split is empty" in result.output
    assert "split files: train 3 objects, val 0 objects" in result.output
    assert all(image_path(out, *ref, 0).is_file() for ref in ONE_PER_CATEGORY)
    train, val = split_files(out, "train"), split_files(out, "val")
    expected = [object_key(*ref) for ref in ONE_PER_CATEGORY]
    assert np.load(train.images).tolist() == expected
    assert np.load(train.labels).tolist() == [0, 18, 49]
    assert np.load(train.latents).shape == (3, 7)
    assert np.load(val.images).tolist() == [] and np.load(val.labels).tolist() == []
    assert np.load(val.latents).shape == (0, 7)
    manifest = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert manifest["config"]["val_fraction"] == 0
    assert manifest["splits"] == {
        "train": {"objects": 3, "images": 3},
        "val": {"objects": 0, "images": 0},
    }
