"""benchmarks/presets_downstream.py: which validation objects are re-rendered, and the
evaluation tree that swaps them in (hard links, split files restricted, latents checked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers.benchmarks import BENCHMARKS, benchmark_script
from helpers.handbuilt import SPLIT_OBJECTS, build_tree
from PIL import Image

from iebench.core.locks import hold
from iebench.data.tree import TreeIndex
from iebench.protocol.layout import image_path

VAL = [("03001627", "chair_b"), ("04379243", "table_b"), ("04379243", "table_c")]


@pytest.fixture(scope="module")
def script():
    with benchmark_script("presets_downstream") as module:
        yield module


@pytest.fixture
def tree(tmp_path) -> Path:
    """The tree evaluated: 32 px views, 3 validation objects of 2 categories."""
    return build_tree(tmp_path / "tree", objects={"train": SPLIT_OBJECTS["train"], "val": VAL})


def rerender(root: Path, objects, seed: int = 0) -> Path:
    """A stand-in for a re-render: the same objects at 16 px, in its train split."""
    return build_tree(root, size=16, seed=seed, objects={"train": objects})


def test_the_first_objects_of_each_category_are_chosen(script, tree):
    assert script.val_objects(tree, None) == VAL
    assert script.val_objects(tree, 1) == VAL[:2]


def test_the_evaluation_tree_holds_the_rerendered_views_and_only_them(script, tree, tmp_path):
    again = rerender(tmp_path / "again", VAL[1:])
    out = script.evaluation_tree(tree, again, tmp_path / "eval")
    val = TreeIndex.load(out, "val")
    assert list(val.objects) == VAL[1:]
    assert np.array_equal(val.latents, TreeIndex.load(tree, "val").latents[1:])
    with Image.open(image_path(out, *VAL[1], 0)) as image:
        assert image.size == (16, 16)
    assert not image_path(out, *VAL[0], 0).exists()
    # The training views are the original's, linked rather than copied.
    train = image_path(out, *SPLIT_OBJECTS["train"][0], 0)
    assert train.stat().st_ino == image_path(tree, *SPLIT_OBJECTS["train"][0], 0).stat().st_ino
    assert TreeIndex.load(out, "train").objects == TreeIndex.load(tree, "train").objects


def test_a_rerender_with_other_latents_or_objects_is_refused(script, tree, tmp_path):
    other_seed = rerender(tmp_path / "seed1", VAL, seed=1)
    with pytest.raises(SystemExit, match="latents differ from"):
        script.evaluation_tree(tree, other_seed, tmp_path / "eval-a")
    foreign = rerender(tmp_path / "foreign", [*VAL, SPLIT_OBJECTS["train"][0]])
    with pytest.raises(SystemExit, match="not in .* validation split"):
        script.evaluation_tree(tree, foreign, tmp_path / "eval-b")
    assert not (tmp_path / "eval-a").exists() and not (tmp_path / "eval-b").exists()


def run_script(*args) -> subprocess.CompletedProcess:
    command = [sys.executable, BENCHMARKS / "presets_downstream.py", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_run_folders_that_are_not_there_are_refused_before_any_render(tmp_path):
    result = run_script("--runs", tmp_path / "nowhere", "--work", tmp_path / "work")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert line.endswith(
        "sie-equi45-w16-p64-64-64-b32-e300-s0: no submission.py; --runs takes a sie_vs_vicreg "
        "--track mini --out"
    )
    assert not (tmp_path / "work").exists()


def test_a_second_comparison_in_one_work_folder_is_refused(script, tmp_path):
    settings = script.pipeline.arguments(["--track", "mini", "--out", str(tmp_path / "runs")])
    tree = script.pipeline.tree_path(settings)
    for method in script.METHODS:
        run = script.pipeline.run_dir(settings, tree, method, 0)
        run.mkdir(parents=True)
        (run / "submission.py").touch()
    work = tmp_path / "work"
    work.mkdir()
    with hold(work / script.LOCK_NAME):
        result = run_script("--runs", tmp_path / "runs", "--work", work)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"{work}: another preset comparison is writing here (")
    assert line.endswith("wait for it to end or pass another --work")
