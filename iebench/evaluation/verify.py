"""`iebench leaderboard verify`: re-run a submitted encoder's evaluation and compare every score.

A results file says what an encoder scored; a spot re-run checks it, as established boards
do. ``verify`` checks the encoder file, the checkpoint and the dataset against the digests
the results record, re-runs the evaluation with the results' protocol, tasks, seeds and
settings (features extracted afresh, into a temporary cache), and compares each recorded
score with the re-run's.

A score passes within ``VERIFY_TOLERANCE_RULE`` (``iebench.protocol.results``):
max(0.001 x the metric's top (1 for fractions, 100 for percentages), 3 x the score's
recorded probe-seed std). A re-run on the same machine reproduces every score to float
rounding (probes draw every random number from explicit generators; measured on the
hand-built tree: largest difference 8.5e-9): the floor absorbs the larger rounding of
another machine or device, the seed spread how far a run with other seeds would land.
"""

from __future__ import annotations

import csv
import io
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from iebench.core.errors import IebenchError
from iebench.core.io import sha256_file
from iebench.core.repository import repository_root
from iebench.evaluation.config import EvalConfig, default_device
from iebench.evaluation.features import dataset_fingerprint
from iebench.evaluation.run import evaluate
from iebench.evaluation.submission import iebench_commit
from iebench.protocol.results import (
    Results,
    parse_results,
    read_results_bytes,
    recorded_task_versions,
    verify_tolerance,
)
from iebench.protocol.tasks import TASK_REGISTRY

VERIFIED_HEADER = (
    "entry",
    "results_sha256",
    "verified_at",
    "iebench_commit",
    "tolerance",
    "max_difference",
)


@dataclass(frozen=True)
class ScoreCheck:
    """One recorded score against its re-run (``rerun`` None: the re-run did not score it)."""

    task: str
    part: str
    metric: str
    recorded: float
    rerun: float | None
    tolerance: float

    @property
    def difference(self) -> float:
        return float("inf") if self.rerun is None else abs(self.rerun - self.recorded)

    @property
    def passed(self) -> bool:
        return self.difference <= self.tolerance

    def line(self) -> str:
        digits = TASK_REGISTRY[self.task].metric(self.metric).digits + 1
        rerun = "not scored" if self.rerun is None else f"{self.rerun:.{digits}f}"
        return (
            f"{self.task} {self.part} {self.metric}: recorded {self.recorded:.{digits}f}, "
            f"re-run {rerun}, tolerance {self.tolerance:.{digits}f}"
        )


@dataclass(frozen=True)
class VerifyReport:
    results_path: Path
    results_sha256: str
    checks: tuple[ScoreCheck, ...]
    rerun: Results

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def failures(self) -> tuple[ScoreCheck, ...]:
        return tuple(check for check in self.checks if not check.passed)

    @property
    def max_difference(self) -> float:
        return max((check.difference for check in self.checks), default=0.0)

    @property
    def closest(self) -> ScoreCheck | None:
        """The check nearest its tolerance (largest difference / tolerance): what
        ``verified.csv`` records, so that its line passes exactly when every check did."""
        return max(
            self.checks,
            key=lambda c: c.difference / c.tolerance if c.tolerance else 0.0,
            default=None,
        )


def _recorded_file(results_path: Path, recorded: str | None, given: Path | None) -> Path | None:
    """The file to re-run with: ``given``, else the recorded path taken from the root of the
    repository holding the results file (its folder outside one)."""
    if given is not None:
        return Path(given)
    if recorded is None:
        return None
    base = repository_root(results_path) or results_path.resolve().parent
    return base / recorded


def _require_digest(path: Path, recorded: str | None, label: str) -> None:
    if not path.is_file():
        raise IebenchError(f"{path}: {label} not found (give it with --{label.split()[0]})")
    if recorded is not None and sha256_file(path) != recorded:
        raise IebenchError(
            f"{path}: its sha256 is not the {label} sha256 {recorded} the results record "
            f"(a different {label}: this re-run would check nothing)"
        )


def rerun_config(data: dict, dataset: Path, checkpoint: Path | None, cache: Path) -> EvalConfig:
    """The evaluation config of the recorded run, on this machine's dataset and files."""
    protocol, stored = data["protocol"], data.get("config") or {}
    seeds = protocol["seeds"]
    if seeds != list(range(len(seeds))):
        raise IebenchError(f"protocol.seeds {seeds}: a re-run trains with seeds 0..n-1 only")
    return EvalConfig(
        data=dataset,
        checkpoint=checkpoint,
        protocol=protocol["name"],
        tasks=tuple(protocol["tasks"]),
        seeds=len(seeds),
        cache_dir=cache,
        device=default_device(),
        batch_size=stored.get("batch_size", 256),
        workers=0,
        val_pairs_per_object=stored.get("val_pairs_per_object", 10),
        seed=data["encoder"].get("build_seed", stored.get("seed", 0)) or 0,
        allow_resolution_mismatch=bool(stored.get("allow_resolution_mismatch", False)),
        progress=False,
    )


def verify(
    results_path: Path,
    data: Path,
    checkpoint: Path | None = None,
    submission_file: Path | None = None,
    device: str | None = None,
) -> VerifyReport:
    """Re-run the evaluation a results file records and compare every score; the report
    lists each check. Refuses (IebenchError) before any work when the encoder file,
    checkpoint or dataset differ from the recorded digests, or the tasks' versions differ
    from this iebench's."""
    results_path = Path(results_path)
    record = parse_results(read_results_bytes(results_path), str(results_path))
    recorded = Results.from_dict(record, str(results_path))
    encoder = record["encoder"]
    changed = {
        task: version
        for task, version in recorded_task_versions(record).items()
        if TASK_REGISTRY[task].version != version
    }
    if changed:
        current = {task: TASK_REGISTRY[task].version for task in changed}
        raise IebenchError(
            f"{results_path}: computed with task versions {changed}, this iebench computes "
            f"{current}: a re-run cannot match"
        )
    file = _recorded_file(results_path, encoder["file"], submission_file)
    _require_digest(file, encoder["file_sha256"], "encoder file")
    weights = _recorded_file(results_path, encoder["checkpoint"], checkpoint)
    if weights is not None:
        _require_digest(weights, encoder["checkpoint_sha256"], "checkpoint")
    fingerprint = dataset_fingerprint(data)
    if fingerprint != record["dataset"]["fingerprint"]:
        raise IebenchError(
            f"{data}: dataset fingerprint {fingerprint[:12]} is not the recorded "
            f"{record['dataset']['fingerprint'][:12]} (another dataset)"
        )
    with tempfile.TemporaryDirectory(prefix="iebench-verify-") as cache:
        config = rerun_config(record, Path(data), weights, Path(cache))
        if device is not None:
            config = replace(config, device=device)
        rerun = evaluate(file, config)
    if rerun is None:  # only under torchrun, which verify does not use
        raise IebenchError("verify: the re-run returned no results")
    if rerun.encoder["checkpoint_sha256"] != encoder["checkpoint_sha256"]:
        raise IebenchError(
            f"{file}: built with a checkpoint other than the recorded one "
            f"(sha256 {rerun.encoder['checkpoint_sha256']}); give it with --checkpoint"
        )
    checks = tuple(
        ScoreCheck(
            task,
            part,
            metric,
            score.mean,
            None if rescored is None else rescored.mean,
            verify_tolerance(task, metric, score.std),
        )
        for task, parts in recorded.scores.items()
        for part, metrics in parts.items()
        for metric, score in metrics.items()
        for rescored in [rerun.scores.get(task, {}).get(part, {}).get(metric)]
    )
    return VerifyReport(results_path, sha256_file(results_path), checks, rerun)


def verified_row(report: VerifyReport, entry: str) -> str:
    """The line of ``verified.csv`` recording a passed ``report`` of board entry ``entry``."""
    if not report.passed:
        raise IebenchError(f"{report.results_path}: not verified; nothing to record")
    closest = report.closest
    line = io.StringIO()
    csv.writer(line, lineterminator="\n").writerow(
        [
            entry,
            report.results_sha256,
            datetime.now(UTC).isoformat(timespec="seconds"),
            iebench_commit() or "",
            f"{closest.tolerance:.6g}" if closest else "0",
            f"{closest.difference:.6g}" if closest else "0",
        ]
    )
    return line.getvalue()


def append_verified(path: Path, row: str) -> None:
    """Append ``row`` to ``verified.csv`` at ``path``, writing its header first when new.
    The caller holds the board's lock."""
    header = ",".join(VERIFIED_HEADER) + "\n"
    new = not path.is_file() or path.stat().st_size == 0
    try:
        with open(path, "a", encoding="utf-8", newline="") as handle:
            handle.write((header if new else "") + row)
    except OSError as error:
        raise IebenchError(f"{path}: cannot append ({error.strerror})") from None
