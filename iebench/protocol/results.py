"""The results file of `iebench evaluate` (schema_version 1), validated on write and read.

    {
      "schema_version": 1, "iebench_version": str, "created": ISO-8601 UTC str,
      "encoder": {"name", "file", "file_sha256", "checkpoint", "checkpoint_sha256",
                  "embedding_dim", "invariant_dims", "equivariant_dims", "resolution",
                  "has_predictor", optional "build_seed", "git_commit"},
      "dataset": {"root", "fingerprint", "splits": {"train": {"objects", "images"},
                  "val": {...}}, "views_per_object", optional "render_resolution",
                  "constant_tasks"},
      "protocol": {"name", "tasks", "probe": {"optimizer", "lr", "weight_decay",
                   "batch_size", "epochs"}, "seeds", "backbone_mode"},
      "environment": {"device", "torch", "python", "platform"},
      "scores": {task: {part: {metric: {"mean", "std", "n"}}}},
                (equivariance parts: predictor = val-val, predictor-train-train,
                 predictor-val-all with PRE only; the last two are optional)
      "timings": {"extraction_s", "probes_s", "total_s"},
      "reference": {task: {metric: float}}   (optional: the scores' floors, see
                   iebench.protocol.reference: chance top-1/top-5, constant-predictor R^2,
                   chance MRR/H@k)
      "config": {...}   (optional: the EvalConfig of the run)
    }

Classification top-1/top-5 are percentages (0-100); R^2, MRR, H@k and PRE are
fractions. A leaderboard track is (dataset fingerprint, protocol name, resolution).
The optional fields (absent from older files) make a run repeatable and honest:
``build_seed`` seeded the global generators while the encoder was built, ``git_commit``
is the submission's repository commit ("-dirty" when changed, null outside git), and
``render_resolution`` is the side of the tree's images (``encoder.resolution`` is the
input side; they differ only when the run allowed the mismatch). ``constant_tasks`` lists
the tasks the dataset gives nothing to predict (its factor spec fixes their factors):
they are not scored, and the board does not require them.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from iebench.core.errors import IebenchError
from iebench.core.io import write_json_atomic
from iebench.protocol.tasks import PARTS, PROTOCOL_NAMES, TASK_METRICS, TASK_REGISTRY, TASKS

SCHEMA_VERSION = 1
_HITS = re.compile(r"h@(\d+)")

_SECTIONS: dict[str, dict[str, Any]] = {
    "encoder": {
        "name": str,
        "file": str,
        "file_sha256": str,
        "checkpoint": (str, None),
        "checkpoint_sha256": (str, None),
        "embedding_dim": int,
        "invariant_dims": "range",
        "equivariant_dims": "range",
        "resolution": int,
        "has_predictor": bool,
    },
    "dataset": {"root": str, "fingerprint": "sha256", "splits": dict, "views_per_object": int},
    "protocol": {
        "name": str,
        "tasks": list,
        "probe": dict,
        "seeds": list,
        "backbone_mode": str,
    },
    "environment": {"device": str, "torch": str, "python": str, "platform": str},
    "timings": {"extraction_s": "number", "probes_s": "number", "total_s": "number"},
}
# Fields a section may have (added after schema_version 1 was published).
_OPTIONAL: dict[str, dict[str, Any]] = {
    "encoder": {"build_seed": (int, None), "git_commit": (str, None)},
    "dataset": {"render_resolution": (int, None), "constant_tasks": "constant tasks"},
}
_PROBE = {
    "optimizer": str,
    "lr": "number",
    "weight_decay": "number",
    "batch_size": int,
    "epochs": int,
}
_TOP_LEVEL = {
    "schema_version",
    "iebench_version",
    "created",
    *_SECTIONS,
    "scores",
    "reference",
    "config",
}


def hits_k(metric: str) -> int | None:
    """k of an ``h@k`` metric name, else None."""
    match = _HITS.fullmatch(metric)
    return int(match.group(1)) if match else None


def shown_metrics(task: str, views: int) -> tuple[str, ...]:
    """The task's metrics worth printing: H@k only for k < views (else it is always 1)."""
    return tuple(m for m in TASK_METRICS[task] if hits_k(m) is None or hits_k(m) < views)


@dataclass(frozen=True)
class Score:
    mean: float
    std: float
    n: int


@dataclass(frozen=True)
class Results:
    """One evaluation run; ``scores[task][part][metric]`` is a Score."""

    iebench_version: str
    created: str
    encoder: dict[str, Any]
    dataset: dict[str, Any]
    protocol: dict[str, Any]
    environment: dict[str, Any]
    scores: dict[str, dict[str, dict[str, Score]]]
    timings: dict[str, float]
    config: dict[str, Any] | None = None
    reference: dict[str, dict[str, float]] | None = None  # task -> metric -> floor

    def to_dict(self) -> dict[str, Any]:
        data = {"schema_version": SCHEMA_VERSION, **asdict(self)}
        for optional in ("config", "reference"):
            if data[optional] is None:
                del data[optional]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "results") -> Results:
        validate(data, source)
        fields = {k: v for k, v in data.items() if k != "schema_version"}
        fields["scores"] = {
            task: {
                part: {metric: Score(**value) for metric, value in metrics.items()}
                for part, metrics in parts.items()
            }
            for task, parts in data["scores"].items()
        }
        return cls(**fields)


def _check(value: Any, kind: Any, where: str) -> str | None:
    """The problem with ``value`` as ``kind``, or None."""
    if isinstance(kind, tuple):
        problems = [_check(value, k, where) for k in kind if k is not None]
        if (None in kind and value is None) or any(p is None for p in problems):
            return None
        return problems[0]
    if kind == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        return None if ok else f"{where}: expected a finite number, got {value!r}"
    if kind == "sha256":
        ok = isinstance(value, str) and len(value) == 64
        return None if ok else f"{where}: expected a sha256 hex digest, got {value!r}"
    if kind == "range":
        ok = value is None or (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
            and 0 <= value[0] < value[1]
        )
        return None if ok else f"{where}: expected [start, stop] or null, got {value!r}"
    if kind == "constant tasks":  # only a task whose targets come from factors can be constant
        ok = isinstance(value, list) and all(
            name in TASKS and TASK_REGISTRY[name].factors for name in value
        )
        return None if ok else f"{where}: expected a list of factor tasks, got {value!r}"
    if kind is int and isinstance(value, bool):
        return f"{where}: expected int, got {value!r}"
    if not isinstance(value, kind):
        return f"{where}: expected {kind.__name__}, got {type(value).__name__}"
    return None


def schema_problems(data: Any) -> list[str]:
    """Every way ``data`` breaks the results schema, one line each (empty when valid)."""
    if not isinstance(data, dict):
        return [f"expected a JSON object, got {type(data).__name__}"]
    if data.get("schema_version") != SCHEMA_VERSION:
        return [f"schema_version: expected {SCHEMA_VERSION}, got {data.get('schema_version')!r}"]
    problems = [f"{key}: unknown key" for key in data if key not in _TOP_LEVEL]
    for key in ("iebench_version", "created"):
        problems.append(_check(data.get(key), str, key))
    for section, fields in _SECTIONS.items():
        block = data.get(section)
        if not isinstance(block, dict):
            problems.append(f"{section}: missing or not an object")
            continue
        problems += [f"{section}.{f}: missing" for f in fields if f not in block]
        fields = {**fields, **_OPTIONAL.get(section, {})}
        problems += [
            _check(block[f], kind, f"{section}.{f}") for f, kind in fields.items() if f in block
        ]
    problems += _protocol_problems(data.get("protocol"))
    problems += _split_problems(data.get("dataset"))
    problems += _score_problems(data.get("scores"))
    if "reference" in data:
        problems += _reference_problems(data["reference"])
    if "config" in data:
        problems.append(_check(data["config"], dict, "config"))
    return [p for p in problems if p]


def _reference_problems(reference: Any) -> list[str | None]:
    if not isinstance(reference, dict):
        return [f"reference: expected an object, got {type(reference).__name__}"]
    problems: list[str | None] = []
    for task, levels in reference.items():
        if task not in TASK_METRICS:
            problems.append(f"reference.{task}: unknown task; expected one of {TASKS}")
        elif not isinstance(levels, dict) or not set(levels) <= set(TASK_METRICS[task]):
            problems.append(f"reference.{task}: expected some of the metrics {TASK_METRICS[task]}")
        else:
            problems += [
                _check(value, "number", f"reference.{task}.{metric}")
                for metric, value in levels.items()
            ]
    return problems


def _protocol_problems(protocol: Any) -> list[str | None]:
    if not isinstance(protocol, dict):
        return []
    problems: list[str | None] = []
    if protocol.get("name") not in PROTOCOL_NAMES:
        problems.append(
            f"protocol.name: expected one of {PROTOCOL_NAMES}, got {protocol.get('name')!r}"
        )
    tasks = protocol.get("tasks")
    if isinstance(tasks, list) and any(t not in TASKS for t in tasks):
        problems.append(f"protocol.tasks: expected tasks from {TASKS}, got {tasks!r}")
    seeds = protocol.get("seeds")
    if isinstance(seeds, list) and not (
        seeds and all(isinstance(s, int) and s >= 0 for s in seeds)
    ):
        problems.append(f"protocol.seeds: expected a non-empty list of ints >= 0, got {seeds!r}")
    probe = protocol.get("probe")
    if isinstance(probe, dict):
        problems += [f"protocol.probe.{f}: missing" for f in _PROBE if f not in probe]
        problems += [
            _check(probe[f], k, f"protocol.probe.{f}") for f, k in _PROBE.items() if f in probe
        ]
    if protocol.get("backbone_mode") not in (None, "eval"):
        problems.append(
            f"protocol.backbone_mode: expected 'eval', got {protocol['backbone_mode']!r}"
        )
    return problems


def _split_problems(dataset: Any) -> list[str | None]:
    if not isinstance(dataset, dict) or not isinstance(dataset.get("splits"), dict):
        return []
    problems: list[str | None] = []
    for split in ("train", "val"):
        sizes = dataset["splits"].get(split)
        if not isinstance(sizes, dict):
            problems.append(f"dataset.splits.{split}: missing or not an object")
            continue
        for key in ("objects", "images"):
            problems.append(_check(sizes.get(key), int, f"dataset.splits.{split}.{key}"))
    return problems


def _score_problems(scores: Any) -> list[str | None]:
    if not isinstance(scores, dict):
        return ["scores: missing or not an object"]
    problems: list[str | None] = []
    for task, parts in scores.items():
        if task not in TASK_METRICS:
            problems.append(f"scores.{task}: unknown task; expected one of {TASKS}")
            continue
        allowed_parts = TASK_REGISTRY[task].parts
        if not isinstance(parts, dict):
            problems.append(f"scores.{task}: not an object")
            continue
        for part, metrics in parts.items():
            where = f"scores.{task}.{part}"
            if part not in allowed_parts:
                problems.append(f"{where}: unknown part; expected one of {allowed_parts}")
                continue
            expected = TASK_REGISTRY[task].metrics_of(part)
            if not isinstance(metrics, dict) or set(metrics) != set(expected):
                problems.append(f"{where}: expected metrics {expected}")
                continue
            for metric, score in metrics.items():
                if not isinstance(score, dict) or set(score) != {"mean", "std", "n"}:
                    problems.append(f"{where}.{metric}: expected {{mean, std, n}}")
                    continue
                problems.append(_check(score["mean"], "number", f"{where}.{metric}.mean"))
                problems.append(_check(score["std"], "number", f"{where}.{metric}.std"))
                n = score["n"]
                if not (isinstance(n, int) and not isinstance(n, bool) and n >= 1):
                    problems.append(f"{where}.{metric}.n: expected an int >= 1, got {n!r}")
    return problems


def validate(data: Any, source: str = "results") -> None:
    """Raise IebenchError naming ``source`` and the first problems if ``data`` breaks the schema."""
    problems = schema_problems(data)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise IebenchError(f"{source}: invalid results: {'; '.join(problems[:3])}{more}")


def write_results(results: Results, path: Path) -> None:
    """Validate, then write atomically: a file under ``path`` is always a complete, valid run."""
    data = results.to_dict()
    validate(json.loads(json.dumps(data)), str(path))
    write_json_atomic(Path(path), data)


def read_results(path: Path) -> Results:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IebenchError(f"{path}: results file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise IebenchError(f"{path}: not a JSON file ({error})") from None
    return Results.from_dict(data, str(path))


def _format_score(task: str, metric: str, score: Score) -> str:
    digits = TASK_REGISTRY[task].metric(metric).digits
    text = f"{score.mean:.{digits}f}"
    return text + (f" ± {score.std:.{digits}f}" if score.n > 1 else "")


REFERENCE_NOTE = (
    "reference: the score of a representation that carries nothing: chance top-1/top-5 "
    "for the classes present, R² of predicting the training targets' mean, chance MRR/H@k "
    "for the views per object"
)


def format_table(results: Results) -> str:
    """A readable plain-text table: a row per (task, metric), a column per representation part,
    and the metric's reference level (the floor a real score must clear) when recorded."""
    protocol, encoder = results.protocol, results.encoder
    present = {part for parts in results.scores.values() for part in parts}
    columns = [p for p in (*PARTS, *TASK_REGISTRY["equivariance"].parts) if p in present]
    reference = results.reference or {}
    rows = [["task", "metric", *columns, *(["reference"] if reference else [])]]
    views = results.dataset["views_per_object"]
    for task, parts in results.scores.items():
        for metric in shown_metrics(task, views):
            cells = [
                _format_score(task, metric, parts[p][metric]) if metric in parts.get(p, {}) else ""
                for p in columns
            ]
            if reference:
                level = reference.get(task, {}).get(metric)
                cells.append(
                    "" if level is None else _format_score(task, metric, Score(level, 0.0, 1))
                )
            rows.append([task, metric, *cells])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    timings = results.timings
    return "\n".join(
        [
            f"{encoder['name']}: protocol {protocol['name']}, {protocol['probe']['epochs']} probe "
            f"epochs, {len(protocol['seeds'])} seed(s), {encoder['resolution']} px, "
            f"backbone in {protocol['backbone_mode']} mode",
            *(
                "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                for row in rows
            ),
            *([REFERENCE_NOTE] if reference else []),
            f"time: extraction {timings['extraction_s']:.1f} s, "
            f"probes {timings['probes_s']:.1f} s, "
            f"total {timings['total_s']:.1f} s",
        ]
    )
