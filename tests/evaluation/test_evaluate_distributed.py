"""Feature extraction in 2 gloo processes (as under torchrun): each image is extracted by
exactly one process, and process 0's results equal a single process's."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

import iebench.evaluation.features as features_module
from iebench.evaluation import EvalConfig, evaluate
from iebench.evaluation.submission import EncoderMetadata, Submission

pytestmark = pytest.mark.distributed

WORLD = 2
SHARD_OBJECTS = 3  # 8 train objects -> 3 shards, 4 val objects -> 2: both processes work


class RecordingEncoder(nn.Module):
    """A fixed random projection of 4x4-pooled images that records a hash of every image."""

    def __init__(self) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.weight = nn.Parameter(torch.randn(48, 16, generator=generator))
        self.seen: list[str] = []

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self.seen += [hashlib.sha256(image.numpy().tobytes()).hexdigest() for image in images]
        return nn.functional.adaptive_avg_pool2d(images, 4).flatten(1) @ self.weight


def _evaluate(tree: Path, cache: Path) -> tuple[dict | None, list[str]]:
    """Evaluate the recording encoder; its scores (None off process 0) and what it saw."""
    torch.set_num_threads(1)
    encoder = RecordingEncoder()
    metadata = EncoderMetadata(name="recording", embedding_dim=16, resolution=32)
    submission = Submission.from_module(encoder, metadata)
    encoder.seen.clear()  # the submission check's probe batch
    config = EvalConfig(
        data=tree,
        protocol="quick",
        tasks=("classification", "rotation"),
        cache_dir=cache,
        device="cpu",
        batch_size=5,
        workers=0,
        progress=False,
    )
    results = evaluate(submission, config)
    return (None if results is None else results.to_dict()["scores"]), encoder.seen


def _process(rank: int, tree: str, init_file: str, out: str) -> None:
    features_module.SHARD_OBJECTS = SHARD_OBJECTS  # a spawned process: no monkeypatch here
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        scores, seen = _evaluate(Path(tree), Path(out) / "cache")
    finally:
        dist.destroy_process_group()
    (Path(out) / f"rank-{rank}.json").write_text(json.dumps({"scores": scores, "seen": seen}))


def _features(cache: Path) -> dict[str, np.ndarray]:
    return {path.name: np.load(path) for path in sorted(cache.glob("features-*/*.npy"))}


def _flat(scores: dict) -> dict[str, float]:
    return {
        f"{task}/{part}/{metric}": score["mean"]
        for task, parts in scores.items()
        for part, metrics in parts.items()
        for metric, score in metrics.items()
    }


def test_two_processes_extract_each_image_once_and_score_as_one(
    rendered_tree, tmp_path, monkeypatch
):
    monkeypatch.setattr(features_module, "SHARD_OBJECTS", SHARD_OBJECTS)
    single_scores, single_seen = _evaluate(rendered_tree, tmp_path / "single")
    assert len(single_seen) == len(set(single_seen)) == 12 * 4  # 12 objects x 4 views

    mp.spawn(
        _process,
        args=(str(rendered_tree), str(tmp_path / "rendezvous"), str(tmp_path)),
        nprocs=WORLD,
    )
    ranks = [json.loads((tmp_path / f"rank-{r}.json").read_text()) for r in range(WORLD)]
    assert all(rank["seen"] for rank in ranks)  # both processes extracted a share
    assert Counter(ranks[0]["seen"] + ranks[1]["seen"]) == Counter(single_seen)
    # Batches group images differently: features agree to float32 rounding, not bit for bit.
    single, shared = _features(tmp_path / "single"), _features(tmp_path / "cache")
    assert list(shared) == list(single) and len(single) == 3 + 2
    for name, array in single.items():
        np.testing.assert_allclose(shared[name], array, rtol=1e-5, atol=1e-6)
    assert _flat(ranks[0]["scores"]) == pytest.approx(_flat(single_scores), rel=1e-4)
    assert ranks[1]["scores"] is None  # probes run on process 0 only
