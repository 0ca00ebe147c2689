"""Results files for the leaderboard tests, written by the harness's own writer."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from iebench.protocol.results import Results, Score, write_results
from iebench.protocol.tasks import TASK_REGISTRY

REPO_BOARD = Path(__file__).resolve().parents[2] / "leaderboard"
# A results file from before task versions and provenance were recorded: the board's old
# mini-track row (SIE equi=45 seed 0), its machine's folders renamed.
OLD_RESULTS = Path(__file__).resolve().parents[1] / "fixtures" / "results-before-provenance.json"
FINGERPRINT = "ab" * 32
OTHER_FINGERPRINT = "cd" * 32
# iebench.protocol.reference.chance_retrieval(10): mean(1/k, k = 1..10), k / 10
EQUIVARIANCE_CHANCE = {"mrr": 0.2928968253968254, "h@1": 0.1, "h@2": 0.2, "h@5": 0.5}


def scored(value: float, seeds: int) -> Score:
    return Score(mean=value, std=0.5 if seeds > 1 and value > 1 else 0.0, n=seeds)


def make_results(
    name: str,
    top1: float,
    rotation: float,
    fingerprint: str = FINGERPRINT,
    protocol: str = "quick",
    seeds: int = 1,
    predictor: bool = False,
) -> Results:
    """A complete run of encoder ``name``: every required task, parts when SIE-like."""
    split = predictor  # encoders with a predictor here also declare their two halves
    scores: dict[str, Any] = {
        "classification": {"full": {"top1": scored(top1, seeds), "top5": scored(top1 + 9, seeds)}},
        "rotation": {"full": {"r2": scored(rotation, seeds)}},
        "colour": {"full": {"r2": scored(0.05, seeds)}},
    }
    if split:
        scores["classification"]["invariant"] = {
            "top1": scored(top1 + 1, seeds),
            "top5": scored(top1 + 8, seeds),
        }
        scores["rotation"]["equivariant"] = {"r2": scored(rotation + 0.02, seeds)}
    tasks = ["classification", "rotation", "colour"]
    if predictor:
        values = {"mrr": 0.4, "h@1": 0.25, "h@2": 0.4, "h@5": 0.6, "h@10": 0.8, "pre": 0.12}
        scores["equivariance"] = {"predictor": {m: scored(v, 1) for m, v in values.items()}}
        tasks.append("equivariance")
    return Results(
        iebench_version="0.1.0",
        created="2025-06-01T12:00:00+00:00",
        encoder={
            "name": name,
            "file": f"/nowhere/{name}.py",
            "file_sha256": hashlib.sha256(name.encode()).hexdigest(),
            "checkpoint": None,
            "checkpoint_sha256": None,
            "embedding_dim": 512,
            "invariant_dims": [0, 256] if split else None,
            "equivariant_dims": [256, 512] if split else None,
            "resolution": 64,
            "has_predictor": predictor,
        },
        dataset={
            "root": "/data/3DIEBench",
            "fingerprint": fingerprint,
            "splits": {
                "train": {"objects": 16, "images": 160},
                "val": {"objects": 8, "images": 80},
            },
            "views_per_object": 10,
        },
        protocol={
            "name": protocol,
            "tasks": tasks,
            "probe": {
                "optimizer": "adam",
                "lr": 1e-3,
                "weight_decay": 0.0,
                "batch_size": 256,
                "epochs": 10 if protocol == "quick" else 300,
            },
            "seeds": list(range(seeds)),
            "backbone_mode": "eval",
            "task_versions": {task: TASK_REGISTRY[task].version for task in tasks},
        },
        environment={"device": "cpu", "torch": "2.13.0", "python": "3.11", "platform": "Linux"},
        scores=scores,
        timings={"extraction_s": 1.5, "probes_s": 3.0, "total_s": 4.5},
        reference={
            "classification": {"top1": 25.0, "top5": 100.0},
            "rotation": {"r2": 0.2373},
            "colour": {"r2": -0.0005},
            **({"equivariance": EQUIVARIANCE_CHANCE} if predictor else {}),
        },
    )


def write(results: Results, path: Path) -> Path:
    write_results(results, path)
    return path


def edit(path: Path, change) -> Path:
    """Rewrite a results file after ``change(data)`` (bypassing the writer's schema check)."""
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def new_board(tmp_path: Path) -> Path:
    """An empty board carrying the repository's reported.csv."""
    board = tmp_path / "board"
    board.mkdir(parents=True)
    shutil.copy(REPO_BOARD / "reported.csv", board / "reported.csv")
    return board


def edit_on_board(board: Path, entry: str, change) -> Path:
    """Change an accepted file and record its new hash, as someone editing both would."""
    path = board / "results" / entry
    edit(path, change)
    sums = board / "results" / "SHA256SUMS"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    lines = [
        f"{digest}  {entry}" if line.endswith(f"  {entry}") else line
        for line in sums.read_text().splitlines()
    ]
    sums.write_text("\n".join(lines) + "\n")
    return path
