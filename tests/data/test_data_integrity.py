"""Empty splits refused up front by every reader; the draws of fixed keys pinned."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.handbuilt import build_tree
from helpers.integrity import encoder_file, evaluate, only_error, run

from iebench.core.errors import IebenchError
from iebench.data.dataset import EpochSampler, PairsDataset, ViewsDataset
from iebench.data.torch_seeding import torch_generator
from iebench.data.validate import validate_tree
from iebench.demo import DemoConfig
from iebench.evaluation.tasks import random_pairs, random_views
from iebench.protocol.layout import split_files


# Point 5: an empty split is refused up front by validate, pack, evaluate and the demo.
def test_an_empty_split_is_refused_up_front(tmp_path):
    tree = build_tree(tmp_path / "tree", views=3)
    files = split_files(tree, "val")  # as a render of one object per class leaves it
    np.save(files.images, np.array([], dtype="<U1"))
    np.save(files.labels, np.array([], dtype=np.int64))
    np.save(files.latents, np.zeros((0, 7)))
    expected = (
        f"{files.images}: split 'val' has no objects; render at least 2 objects per "
        f"category (e.g. --per-class 2) so that both splits get some"
    )

    report = validate_tree(tree)
    assert not report.ok and report.problems == [f"{files.images}: the val split is empty"]

    assert only_error(run("pack", tree)) == f"Error: {expected}"
    assert not (tree / "packed").exists() or not list((tree / "packed").iterdir())

    marker = tmp_path / "built"
    encoder = encoder_file(tmp_path, build=f"open({str(marker)!r}, 'w').close()")
    assert only_error(evaluate(encoder, tree, tmp_path / "r.json", tmp_path / "c")) == (
        f"Error: {expected}"
    )
    assert not marker.exists()  # refused before the encoder was built

    with pytest.raises(IebenchError, match="per_class must be >= 2, got 1"):
        DemoConfig(out=tmp_path / "demo", per_class=1)


# Point 10: the draws of fixed keys are pinned; the configured probe epochs are run.
def test_pair_and_view_draws_are_pinned(tmp_path):
    tree = build_tree(tmp_path / "tree")  # 4 train objects, 5 views
    pairs = PairsDataset(tree, "train", seed=0)
    assert [pairs.locate((0, k)) for k in range(4)] == [(0, 4, 0), (1, 2, 4), (2, 1, 4), (3, 2, 1)]
    assert [pairs.locate((1, k)) for k in range(4)] == [(0, 4, 2), (1, 3, 4), (2, 4, 0), (3, 1, 0)]
    pairs = PairsDataset(tree, "train", seed=7)
    assert [pairs.locate((0, k)) for k in range(4)] == [(0, 1, 2), (1, 1, 0), (2, 2, 1), (3, 0, 3)]
    views = ViewsDataset(tree, "train", seed=0, mode="random")
    assert [views.locate((e, k))[1] for e in (0, 1) for k in range(4)] == [2, 2, 0, 3, 3, 1, 3, 0]
    sampler = EpochSampler(range(12), seed=0, rank=0, world_size=1)
    assert [k for _, k in sampler] == [9, 2, 8, 3, 7, 4, 6, 11, 1, 5, 0, 10]
    sampler.set_epoch(1)
    assert [k for _, k in sampler] == [0, 11, 8, 3, 5, 9, 7, 6, 4, 2, 10, 1]
    # The evaluation's draws: scored validation pairs and the classification probe's views.
    i, j = random_pairs(6, 10, torch_generator(0, "rotation", "val"))
    assert (i.tolist(), j.tolist()) == ([1, 0, 0, 4, 6, 2], [6, 6, 9, 6, 8, 8])
    views = random_views(6, 10, torch_generator(0, "classification", "train"))
    assert views.tolist() == [8, 4, 9, 0, 7, 2]
