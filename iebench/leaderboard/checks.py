"""What a results file must satisfy, beyond the schema, to enter the board.

Every check returns a list of problems (one line each) so a rejection lists them all.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iebench.core.io import sha256_file
from iebench.leaderboard.track import Track, method_and_seed, slugify
from iebench.protocol.factors import TRANSLATION
from iebench.protocol.reference import reference_problems
from iebench.protocol.results import recorded_task_versions, schema_problems
from iebench.protocol.tasks import (
    METRIC_ORDER,
    REQUIRED_TASKS,
    TASK_REGISTRY,
    metric_range,
)

if TYPE_CHECKING:
    from iebench.leaderboard.board import Entry

REQUIRED_PART = "full"
PART_DIMS = {"invariant": "invariant_dims", "equivariant": "equivariant_dims"}
HEX = set("0123456789abcdef")
MAX_VIEWS = 10_000  # views per object: the published dataset has 50
# Tasks only some trees can score (translation: 3DIEBench-T's latents have it, 3DIEBench's
# lack it): required on a track whose entries score them, absent from every other.
TRACK_TASKS = tuple(
    task.name
    for task in TASK_REGISTRY.values()
    if not task.required_on_board and TRANSLATION.start in task.factors
)


def entry_problems(data: Any) -> list[str]:
    """Every problem of a results file on its own (all the checks but the encoder's file
    hashes): the schema first, then what a board requires of its entries."""
    return schema_problems(data) or (
        required_task_problems(data) + value_problems(data) + task_version_problems(data)
    )


def task_version_problems(data: dict[str, Any]) -> list[str]:
    """Scores of another version of a task than this iebench's never share its board."""
    recorded = recorded_task_versions(data)
    current = {task: TASK_REGISTRY[task].version for task in recorded}
    if recorded == current:
        return []
    return [
        f"protocol.task_versions {recorded} differ from this iebench's {current}: "
        "the numbers are not comparable; evaluate the encoder again"
    ]


def required_task_problems(data: dict[str, Any]) -> list[str]:
    scores = data["scores"]
    # A task the dataset gives nothing to predict (e.g. colour on a pose-only tree) is not
    # required on its track.
    constant = set(data["dataset"].get("constant_tasks", ()))
    problems = []
    for task in REQUIRED_TASKS:
        if task in constant:
            continue
        if task not in scores:
            required = ", ".join(REQUIRED_TASKS)
            problems.append(f"scores.{task}: missing; every track requires {required}")
        elif REQUIRED_PART not in scores[task]:
            problems.append(f"scores.{task}.{REQUIRED_PART}: missing (the whole representation)")
    scored = [task for task in TRACK_TASKS if task in scores]
    if scored:  # a tree with the translation latents scores every task read from them
        for task in TRACK_TASKS:
            if REQUIRED_PART not in scores.get(task, {}):
                problems.append(
                    f"scores.{task}.{REQUIRED_PART}: missing; results scoring {scored[0]} "
                    f"(a tree with translations) need all of {', '.join(TRACK_TASKS)}"
                )
    listed = data["protocol"]["tasks"]
    if sorted(listed) != sorted(scores):
        problems.append(f"protocol.tasks {listed} do not match the scored tasks {sorted(scores)}")
    return problems


def value_problems(data: dict[str, Any]) -> list[str]:
    """Values the schema allows but no real run produces."""
    encoder = data["encoder"]
    problems = []
    for key in ("file_sha256", "checkpoint_sha256"):
        digest = encoder[key]
        if digest is not None and (len(digest) != 64 or not set(digest) <= HEX):
            problems.append(f"encoder.{key}: not a sha256 hex digest: {digest!r}")
    if (encoder["checkpoint"] is None) != (encoder["checkpoint_sha256"] is None):
        problems.append("encoder.checkpoint and encoder.checkpoint_sha256: give both or neither")
    seed = encoder.get("training_seed")
    if seed is not None and seed < 0:
        problems.append(f"encoder.training_seed: must be >= 0, got {seed}")
    for key in ("embedding_dim", "resolution"):
        if encoder[key] < 1:
            problems.append(f"encoder.{key}: must be >= 1, got {encoder[key]}")
    for key in PART_DIMS.values():
        dims = encoder[key]
        if dims is not None and dims[1] > encoder["embedding_dim"]:
            problems.append(
                f"encoder.{key}: {dims} reaches past embedding_dim {encoder['embedding_dim']}"
            )
    dataset = data["dataset"]
    views = dataset["views_per_object"]
    if not 2 <= views <= MAX_VIEWS:
        problems.append(f"dataset.views_per_object: must be 2-{MAX_VIEWS}, got {views}")
    for split in ("train", "val"):
        sizes = dataset["splits"][split]
        if sizes["objects"] < 1 or not 0 < sizes["images"] <= sizes["objects"] * max(views, 1):
            problems.append(f"dataset.splits.{split}: impossible sizes {sizes}")
    for key, seconds in data["timings"].items():
        if seconds < 0:
            problems.append(f"timings.{key}: negative ({seconds})")
    try:
        datetime.fromisoformat(data["created"])
    except ValueError:
        problems.append(f"created: not an ISO-8601 time: {data['created']!r}")
    problems += _score_problems(data)
    if "reference" in data and 2 <= views <= MAX_VIEWS:  # chance levels need a sane count
        val_objects = dataset["splits"]["val"]["objects"]
        problems += reference_problems(data["reference"], views, val_objects)
    return problems


def _score_problems(data: dict[str, Any]) -> list[str]:
    encoder = data["encoder"]
    problems = []
    if "equivariance" in data["scores"] and not encoder["has_predictor"]:
        problems.append("scores.equivariance: the encoder declares no predictor")
    for task, parts in data["scores"].items():
        for part, metrics in parts.items():
            where = f"scores.{task}.{part}"
            if part in PART_DIMS and encoder[PART_DIMS[part]] is None:
                problems.append(f"{where}: the encoder declares no {PART_DIMS[part]}")
            for metric, score in metrics.items():
                low, high = metric_range(task, metric)
                if not low <= score["mean"] <= high:
                    problems.append(
                        f"{where}.{metric}.mean: {score['mean']} outside [{low}, {high}]"
                    )
                if score["std"] < 0:
                    problems.append(f"{where}.{metric}.std: negative ({score['std']})")
                elif score["std"] > high - low:  # no spread of values in [low, high] is wider
                    problems.append(
                        f"{where}.{metric}.std: {score['std']} wider than [{low}, {high}]"
                    )
            for lower, higher in METRIC_ORDER:
                both = lower in metrics and higher in metrics
                if both and metrics[lower]["mean"] > metrics[higher]["mean"]:
                    problems.append(f"{where}: {lower} above {higher}")
    return problems


def file_hash_problems(data: dict[str, Any], base: Path) -> tuple[list[str], list[str]]:
    """The encoder file and checkpoint against their recorded sha256, where they can be found.

    Relative paths are taken from ``base`` (where the evaluation ran). Returns
    (problems, notes); a note says which file could not be checked here.
    """
    encoder = data["encoder"]
    problems, notes = [], []
    for label, key in (("encoder file", "file"), ("checkpoint", "checkpoint")):
        if encoder[key] is None:
            continue
        path = Path(base) / encoder[key]
        if not path.is_file():
            notes.append(f"{label} {encoder[key]} not found here: its sha256 was not checked")
            continue
        # The hash itself is never shown: the path is the submitter's, and could name any
        # file readable here.
        if sha256_file(path) != encoder[f"{key}_sha256"]:
            problems.append(
                f"encoder.{key}_sha256: {path} does not match the recorded "
                f"{encoder[f'{key}_sha256']} (changed since the evaluation?)"
            )
    return problems, notes


def board_problems(data: dict[str, Any], entries: list[Entry]) -> list[str]:
    """Duplicates and mismatches against the entries already on the submission's track."""
    track = Track.of(data)
    encoder = data["encoder"]
    identity = (encoder["file_sha256"], encoder["checkpoint_sha256"])
    same_track = [e for e in entries if e.track == track]
    run = method_and_seed(encoder)
    problems = []
    for entry in same_track:
        other = entry.data["encoder"]
        if identity == (other["file_sha256"], other["checkpoint_sha256"]):
            problems.append(
                f"duplicate of results/{entry.path}: same encoder file and checkpoint on this track"
            )
        elif slugify(encoder["name"]) == slugify(entry.name):
            problems.append(
                f"encoder.name {encoder['name']!r}: already on this track as {entry.name!r} "
                f"(results/{entry.path}); give this encoder a distinct name"
            )
        elif run == (entry.method, entry.training_seed):
            problems.append(
                f"method {run[0]!r} training seed {run[1]}: already on this track as "
                f"{entry.name!r} (results/{entry.path}); one results file per training seed"
            )
    # Translation is scored on every entry of a track whose tree has it, or on none.
    scored = [task for task in TRACK_TASKS if task in data["scores"]]
    track_scored = [
        task for task in TRACK_TASKS if same_track and task in same_track[0].data["scores"]
    ]
    if same_track and scored != track_scored:
        problems.append(
            f"scores: translation tasks {scored} differ from this track's {track_scored} "
            f"(results/{same_track[0].path}): one tree has translations or not"
        )
    # One dataset has one set of constant tasks: a file cannot waive a task its track scores.
    constant = data["dataset"].get("constant_tasks", [])
    track_constant = same_track[0].data["dataset"].get("constant_tasks", []) if same_track else []
    if same_track and constant != track_constant:
        problems.append(
            f"dataset.constant_tasks {constant} differ from this track's {track_constant} "
            f"(results/{same_track[0].path})"
        )
    # The floors depend on the dataset alone: every entry of a track records the same.
    for entry in same_track[:1]:
        for task, levels in data.get("reference", {}).items():
            theirs = entry.data.get("reference", {}).get(task)
            # Metrics one file has and the other not (r2_per_output, new beside r2) compare
            # where both have them.
            shared = sorted(set(levels) & set(theirs or {}))
            if theirs is not None and [levels[m] for m in shared] != [theirs[m] for m in shared]:
                problems.append(
                    f"reference.{task} {levels} differs from this track's {theirs} "
                    f"(results/{entry.path})"
                )
    if same_track and data["protocol"]["probe"] != same_track[0].data["protocol"]["probe"]:
        problems.append(
            f"protocol.probe {data['protocol']['probe']} differs from this track's "
            f"{same_track[0].data['protocol']['probe']} (results/{same_track[0].path})"
        )
    return problems
