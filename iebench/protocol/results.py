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
                   "batch_size", "epochs"}, "seeds", "backbone_mode",
                   optional "task_versions": {task: version}},
      "environment": {"device", "torch", "python", "platform"},
      "scores": {task: {part: {metric: {"mean", "std", "n"}}}},
                (pair tasks: "r2", the protocol's R^2 around one global mean, and the
                 optional "r2_per_output", sklearn's mean of per-output R^2)
                (equivariance parts: predictor = val-val, predictor-train-train,
                 predictor-val-all with PRE only; the last two are optional)
      "timings": {"extraction_s", "probes_s", "total_s"},
      "reference": {task: {metric: float}}   (optional: the scores' floors, see
                   iebench.protocol.reference: chance top-1/top-5, constant-predictor R^2,
                   chance MRR/H@k)
      "config": {...}   (optional: the EvalConfig of the run)
      "provenance": {"iebench_commit", "command"}   (optional: see below)
    }

Classification top-1/top-5 are percentages (0-100); R^2, MRR, H@k and PRE are
fractions. A leaderboard track is (dataset fingerprint, protocol name, resolution).
The optional fields (absent from older files) make a run repeatable and honest:
``build_seed`` seeded the global generators while the encoder was built, ``git_commit``
is the submission's repository commit ("-dirty" when changed, null outside git), and
``render_resolution`` is the side of the tree's images (``encoder.resolution`` is the
input side; they differ only when the run allowed the mismatch). ``constant_tasks`` lists
the tasks the dataset gives nothing to predict (its factor spec fixes their factors):
they are not scored, and the board does not require them. ``protocol.task_versions``
(``{task: version}``, iebench.protocol.tasks) says which version of each scored task
computed the numbers; a file without it was computed with ``UNRECORDED_TASK_VERSIONS``.

``provenance`` (absent from older files) lets anyone check a run: ``iebench_commit`` is
the commit of the iebench source tree that computed it ("-dirty" with uncommitted
changes; null for an installed copy) and ``command`` the command line (``sys.argv``, null
from the Python API). A file with it records no machine paths: ``encoder.file`` and
``encoder.checkpoint`` relative to their repository's root (else bare names),
``dataset.root`` and the config's folders by name, the command's paths the same way; an
absolute path, or one with "..", in any of them is refused (``PATH_FIELDS``).

A results file is untrusted input (the board takes them from anyone): it is read with
a size cap (``MAX_RESULTS_BYTES``) and a nesting cap (``MAX_DEPTH``, checked before
parsing), every string is bounded and free of control characters, digests and commits
are lower-case hex, names come from a small character set (``SAFE_NAME``), and every
number is finite.
"""

from __future__ import annotations

import json
import math
import re
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from iebench.core.errors import IebenchError
from iebench.core.io import write_json_atomic
from iebench.protocol.tasks import PARTS, PROTOCOL_NAMES, TASK_METRICS, TASK_REGISTRY, TASKS

SCHEMA_VERSION = 1
_HITS = re.compile(r"h@(\d+)")

MAX_RESULTS_BYTES = 1 << 20  # real files are a few kB
MAX_DEPTH = 20  # nested objects and lists; real files reach 5
MAX_STRING = 4096  # characters of any one string (paths included)
MAX_SEEDS = 100
MAX_COMMAND_ARGS = 200
# The paths a file with ``provenance`` records, (section, field): relative, never climbing.
PATH_FIELDS = (
    ("encoder", "file"),
    ("encoder", "checkpoint"),
    ("dataset", "root"),
    ("config", "data"),
    ("config", "checkpoint"),
    ("config", "cache_dir"),
)
MAX_INT = 1 << 63
# Encoder and dataset names: they end up in file names, Markdown, HTML and terminals.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._+=(),:@-]{0,99}")
SAFE_NAME_TEXT = "1-100 of letters, digits, space and ._+=(),:@- starting with a letter or digit"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_COMMIT = re.compile(r"(?:[0-9a-f]{40}|[0-9a-f]{64})(?:-dirty)?")
# Control characters, zero-width and bidirectional marks, line separators, surrogates:
# nothing a real run writes, and each can rewrite what a terminal or page shows.
UNSAFE_CHARACTER = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff\ud800-\udfff]"
)
# The task versions of every results file written before files recorded them.
UNRECORDED_TASK_VERSIONS = {"classification": 2, "rotation": 1, "colour": 1, "equivariance": 2}

_SECTIONS: dict[str, dict[str, Any]] = {
    "encoder": {
        "name": "name",
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
    "encoder": {"build_seed": (int, None), "git_commit": ("commit", None)},
    "dataset": {"render_resolution": (int, None), "constant_tasks": "constant tasks"},
    "protocol": {"task_versions": "task versions"},
}
# The board's row of an encoder: its training method and seed (the seeds of one method on a
# track are one ranked row); files without them are read by the name "<method> seed <k>".
_OPTIONAL["encoder"] |= {"method": ("name", None), "training_seed": (int, None)}
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
    "provenance",
}
_PROVENANCE = {"iebench_commit": ("commit", None), "command": ("command", None)}


# How far a re-run of a score may land from the recorded one (`iebench leaderboard verify`):
# a re-run on the same machine reproduces every score to float rounding (1e-8), so the floor
# absorbs another machine's larger rounding; the probe-seed spread says where other seeds land.
VERIFY_FLOOR = 1e-3  # of the metric's top: 0.001 for R^2, MRR, H@k, PRE; 0.1 points of top-k %
VERIFY_STD_FACTOR = 3.0
VERIFY_TOLERANCE_RULE = f"max({VERIFY_FLOOR:g} x metric top, {VERIFY_STD_FACTOR:g} x recorded std)"


def verify_tolerance(task: str, metric: str, recorded_std: float) -> float:
    """``VERIFY_TOLERANCE_RULE`` for one score; the metric's top is 1 or 100 (percent)."""
    top = TASK_REGISTRY[task].metric(metric).high
    return max(VERIFY_FLOOR * top, VERIFY_STD_FACTOR * recorded_std)


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
    provenance: dict[str, Any] | None = None  # {"iebench_commit", "command"}

    def to_dict(self) -> dict[str, Any]:
        data = {"schema_version": SCHEMA_VERSION, **asdict(self)}
        for optional in ("config", "reference", "provenance"):
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


def shown(value: Any, most: int = 60) -> str:
    """``repr(value)``, cut to about ``most`` characters: messages quote hostile values."""
    text = repr(value)
    return text if len(text) <= most else f"{text[:most]}...({len(text)} characters)"


def is_safe_name(value: Any) -> bool:
    return isinstance(value, str) and SAFE_NAME.fullmatch(value) is not None


def _check(value: Any, kind: Any, where: str) -> str | None:
    """The problem with ``value`` as ``kind``, or None."""
    if isinstance(kind, tuple):
        problems = [_check(value, k, where) for k in kind if k is not None]
        if (None in kind and value is None) or any(p is None for p in problems):
            return None
        return problems[0]
    if kind == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        return None if ok else f"{where}: expected a finite number, got {shown(value)}"
    if kind == "sha256":
        ok = isinstance(value, str) and _HEX64.fullmatch(value) is not None
        return None if ok else f"{where}: expected a sha256 hex digest, got {shown(value)}"
    if kind == "commit":
        ok = isinstance(value, str) and _COMMIT.fullmatch(value) is not None
        expected = "a git commit (hex, maybe -dirty)"
        return None if ok else f"{where}: expected {expected}, got {shown(value)}"
    if kind == "name":
        ok = is_safe_name(value)
        return None if ok else f"{where}: expected {SAFE_NAME_TEXT}, got {shown(value)}"
    if kind == "task versions":
        ok = isinstance(value, dict) and all(
            task in TASKS and isinstance(v, int) and not isinstance(v, bool) and v >= 1
            for task, v in value.items()
        )
        return None if ok else f"{where}: expected {{task: version >= 1}}, got {shown(value)}"
    if kind == "command":
        ok = (
            isinstance(value, list)
            and 0 < len(value) <= MAX_COMMAND_ARGS
            and all(isinstance(v, str) for v in value)
        )
        expected = f"a list of 1-{MAX_COMMAND_ARGS} strings"
        return None if ok else f"{where}: expected {expected}, got {shown(value)}"
    if kind == "range":
        ok = value is None or (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
            and 0 <= value[0] < value[1]
        )
        return None if ok else f"{where}: expected [start, stop] or null, got {shown(value)}"
    if kind == "constant tasks":  # only a task whose targets come from factors can be constant
        ok = isinstance(value, list) and all(
            name in TASKS and TASK_REGISTRY[name].factors for name in value
        )
        return None if ok else f"{where}: expected a list of factor tasks, got {shown(value)}"
    if kind is int and isinstance(value, bool):
        return f"{where}: expected int, got {shown(value)}"
    if not isinstance(value, kind):
        return f"{where}: expected {kind.__name__}, got {type(value).__name__}"
    return None


def _key(where: str, key: Any) -> str:
    """Where ``key`` lies below ``where``, quoted when it is no plain word."""
    plain = isinstance(key, str) and re.fullmatch(r"[A-Za-z0-9_@+-]{1,40}", key)
    return f"{where}.{key}" if plain else f"{where}[{shown(key, 40)}]"


def _document_problems(data: Any) -> list[str]:
    """What makes ``data`` no plausible JSON document: too deep, unbounded or unsafe
    strings, non-finite or huge numbers. Iterative, so depth alone can never crash it."""
    problems: list[str] = []
    pending: deque[tuple[Any, str, int]] = deque([(data, "results", 0)])
    while pending:
        value, where, depth = pending.popleft()
        if isinstance(value, dict | list):
            if depth >= MAX_DEPTH:
                return [f"{where}: nested deeper than {MAX_DEPTH} levels"]
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(value, dict):
                    problem = _string_problem(key, f"{_key(where, key)} (a key)", 100)
                    if problem:
                        problems.append(problem)
                        continue
                pending.append((item, _key(where, key), depth + 1))
        elif isinstance(value, str):
            problems.append(_string_problem(value, where, MAX_STRING))
        elif isinstance(value, float):
            if not math.isfinite(value):
                problems.append(f"{where}: expected a finite number, got {value!r}")
        elif isinstance(value, int) and not isinstance(value, bool):
            if abs(value) >= MAX_INT:
                problems.append(f"{where}: integer out of range, got {shown(value)}")
        elif value is not None and not isinstance(value, bool):
            problems.append(f"{where}: not a JSON value ({type(value).__name__})")
    return [p for p in problems if p]


def _string_problem(value: Any, where: str, most: int) -> str | None:
    if not isinstance(value, str):
        return f"{where}: expected a string, got {type(value).__name__}"
    if len(value) > most:
        return f"{where}: longer than {most} characters"
    if UNSAFE_CHARACTER.search(value):
        return f"{where}: control or invisible characters in {shown(value)}"
    return None


def schema_problems(data: Any) -> list[str]:
    """Every way ``data`` breaks the results schema, one line each (empty when valid)."""
    if not isinstance(data, dict):
        return [f"expected a JSON object, got {type(data).__name__}"]
    if data.get("schema_version") != SCHEMA_VERSION:
        got = shown(data.get("schema_version"))
        return [f"schema_version: expected {SCHEMA_VERSION}, got {got}"]
    unsafe = _document_problems(data)
    if unsafe:  # later messages quote keys and values: only safe ones
        return unsafe
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
    problems += _score_problems(data.get("scores"), _seed_count(data.get("protocol")))
    timings = data.get("timings")
    if isinstance(timings, dict):
        problems += [
            _check(value, "number", _key("timings", key))
            for key, value in timings.items()
            if key not in _SECTIONS["timings"]
        ]
    if "reference" in data:
        problems += _reference_problems(data["reference"])
    if "config" in data:
        problems.append(_check(data["config"], dict, "config"))
    if "provenance" in data:
        problems += _provenance_problems(data)
    return [p for p in problems if p]


def machine_path_problem(value: str, where: str) -> str | None:
    """Why ``value`` is no portable path (absolute, or climbing out with ".."), or None."""
    parts = re.split(r"[\\/]", value)
    if value.startswith(("/", "\\", "~")) or re.match(r"[A-Za-z]:[\\/]", value):
        return f"{where}: an absolute path {shown(value)} (record it relative to its repository)"
    if ".." in parts:
        return f"{where}: {shown(value)} climbs out of its folder with '..'"
    return None


def _provenance_problems(data: dict[str, Any]) -> list[str | None]:
    provenance = data["provenance"]
    if not isinstance(provenance, dict):
        return [f"provenance: expected an object, got {type(provenance).__name__}"]
    problems: list[str | None] = [
        f"provenance.{k}: unknown key" for k in provenance if k not in _PROVENANCE
    ]
    problems += [f"provenance.{k}: missing" for k in _PROVENANCE if k not in provenance]
    problems += [
        _check(provenance[k], kind, f"provenance.{k}")
        for k, kind in _PROVENANCE.items()
        if k in provenance
    ]
    for section, field in PATH_FIELDS:
        value = data.get(section, {}).get(field) if isinstance(data.get(section), dict) else None
        if isinstance(value, str):
            problems.append(machine_path_problem(value, f"{section}.{field}"))
    command = provenance.get("command")
    if isinstance(command, list):
        for index, argument in enumerate(command):
            if isinstance(argument, str):
                value = argument.partition("=")[2] if argument.startswith("-") else argument
                problems.append(machine_path_problem(value, f"provenance.command[{index}]"))
    return problems


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
            f"protocol.name: expected one of {PROTOCOL_NAMES}, got {shown(protocol.get('name'))}"
        )
    tasks = protocol.get("tasks")
    known = isinstance(tasks, list) and all(isinstance(t, str) and t in TASKS for t in tasks)
    if isinstance(tasks, list) and not known:
        problems.append(f"protocol.tasks: expected tasks from {TASKS}, got {shown(tasks)}")
    elif known and len(set(tasks)) != len(tasks):
        problems.append(f"protocol.tasks: listed twice in {shown(tasks)}")
    seeds = protocol.get("seeds")
    if isinstance(seeds, list) and _seed_count(protocol) is None:
        problems.append(
            f"protocol.seeds: expected 1-{MAX_SEEDS} distinct ints >= 0, got {shown(seeds)}"
        )
    versions = protocol.get("task_versions")
    if isinstance(versions, dict) and known and set(versions) != set(tasks):
        problems.append(
            f"protocol.task_versions: expected a version for each of protocol.tasks, "
            f"got {shown(versions)}"
        )
    probe = protocol.get("probe")
    if isinstance(probe, dict):
        problems += [f"protocol.probe.{f}: missing" for f in _PROBE if f not in probe]
        problems += [
            _check(probe[f], k, f"protocol.probe.{f}") for f, k in _PROBE.items() if f in probe
        ]
    if protocol.get("backbone_mode") not in (None, "eval"):
        problems.append(
            f"protocol.backbone_mode: expected 'eval', got {shown(protocol['backbone_mode'])}"
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


def _seed_count(protocol: Any) -> int | None:
    """How many seeds a valid ``protocol.seeds`` lists (None when it is not valid)."""
    seeds = protocol.get("seeds") if isinstance(protocol, dict) else None
    valid = (
        isinstance(seeds, list)
        and 0 < len(seeds) <= MAX_SEEDS
        and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)
        and len(set(seeds)) == len(seeds)
    )
    return len(seeds) if valid else None


def _score_problems(scores: Any, seeds: int | None) -> list[str | None]:
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
            required = TASK_REGISTRY[task].required_metrics_of(part)
            if not isinstance(metrics, dict) or not set(required) <= set(metrics) <= set(expected):
                problems.append(f"{where}: expected metrics {expected}")
                continue
            for metric, score in metrics.items():
                if not isinstance(score, dict) or set(score) != {"mean", "std", "n"}:
                    problems.append(f"{where}.{metric}: expected {{mean, std, n}}")
                    continue
                problems.append(_check(score["mean"], "number", f"{where}.{metric}.mean"))
                problems.append(_check(score["std"], "number", f"{where}.{metric}.std"))
                # A probe is trained once per seed; the predictor is scored once.
                predictor = TASK_REGISTRY[task].needs_predictor
                runs = 1 if predictor else seeds
                n = score["n"]
                if runs is not None and not (type(n) is int and n == runs):
                    per = "a predictor's single run" if predictor else "protocol.seeds"
                    problems.append(f"{where}.{metric}.n: expected {runs} ({per}), got {shown(n)}")
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


# A JSON string, or an unterminated one up to the end (possessive: linear on any input).
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*+"?', re.DOTALL)
_OPENERS = np.frombuffer(b"[{", np.uint8)
_CLOSERS = np.frombuffer(b"]}", np.uint8)


def json_depth(raw: bytes) -> int:
    """How deeply the objects and lists of JSON text nest, without parsing it (a parser
    recurses once per level)."""
    skeleton = np.frombuffer(_JSON_STRING.sub(b"", raw), np.uint8)
    steps = np.isin(skeleton, _OPENERS).astype(np.int64) - np.isin(skeleton, _CLOSERS)
    return int(np.cumsum(steps).max(initial=0))


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def parse_results(raw: bytes, source: str) -> Any:
    """JSON of an untrusted results file, or IebenchError naming ``source``: bounded in size
    and nesting, UTF-8, strict JSON (no NaN or Infinity)."""
    if len(raw) > MAX_RESULTS_BYTES:
        raise IebenchError(f"{source}: larger than {MAX_RESULTS_BYTES} bytes: not a results file")
    if json_depth(raw) > MAX_DEPTH:
        raise IebenchError(f"{source}: nested deeper than {MAX_DEPTH} levels: not a results file")
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError as error:
        raise IebenchError(f"{source}: not a JSON file (not UTF-8: {error.reason})") from None
    except ValueError as error:  # JSONDecodeError, NaN, an int of too many digits
        raise IebenchError(f"{source}: not a JSON file ({shown(str(error), 120)})") from None


def read_results_bytes(path: Path) -> bytes:
    """The bytes of a results file, read no further than the size cap allows."""
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_RESULTS_BYTES + 1)
    except FileNotFoundError:
        raise IebenchError(f"{path}: results file not found") from None
    except OSError as error:
        raise IebenchError(f"{path}: cannot read ({error.strerror})") from None


def read_results(path: Path) -> Results:
    data = parse_results(read_results_bytes(path), str(path))
    return Results.from_dict(data, str(path))


def recorded_task_versions(data: dict[str, Any]) -> dict[str, int]:
    """``{task: version}`` of a schema-valid results dict's tasks, as it computed them."""
    protocol = data["protocol"]
    recorded = protocol.get("task_versions")
    if recorded is None:
        return {task: UNRECORDED_TASK_VERSIONS[task] for task in protocol["tasks"]}
    return dict(recorded)


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
        scored = {metric for metrics in parts.values() for metric in metrics}
        for metric in (m for m in shown_metrics(task, views) if m in scored):
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
