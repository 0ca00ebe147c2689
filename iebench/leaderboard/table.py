"""The board as tables of cells, shared by the Markdown, HTML and terminal views."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from iebench.leaderboard.board import Entry
from iebench.leaderboard.reported import (
    IEBENCH_R2_DEFINITION,
    R2_DEFINITIONS,
    REPORTED_METRICS,
    Reported,
)
from iebench.leaderboard.track import Track
from iebench.protocol.results import hits_k
from iebench.protocol.tasks import RANKING, TASK_REGISTRY, metric_range


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    task: str = ""
    part: str = ""
    metric: str = ""
    digits: int = 3
    higher_is_better: bool = True
    numeric: bool = True


def _score_column(key: str, header: str, task: str, part: str, metric: str) -> Column:
    """A column of one score; its digits and direction come from the task registry."""
    info = TASK_REGISTRY[task].metric(metric)
    return Column(key, header, task, part, metric, info.digits, info.higher_is_better)


SCORE_COLUMNS = (
    _score_column("top1", "top-1 %", "classification", "full", "top1"),
    _score_column("top5", "top-5 %", "classification", "full", "top5"),
    _score_column("rotation", "rotation R²", "rotation", "full", "r2"),
    _score_column("colour", "colour R²", "colour", "full", "r2"),
    _score_column("translation", "translation R²", "translation", "full", "r2"),
    _score_column(
        "translation_base", "translation R² base frame", "translation-base", "full", "r2"
    ),
    _score_column("top1_inv", "top-1 % inv.", "classification", "invariant", "top1"),
    _score_column("rotation_equi", "rotation R² equi.", "rotation", "equivariant", "r2"),
    _score_column("mrr", "MRR", "equivariance", "predictor", "mrr"),
    _score_column("h1", "H@1", "equivariance", "predictor", "h@1"),
    _score_column("h5", "H@5", "equivariance", "predictor", "h@5"),
    _score_column("pre", "PRE", "equivariance", "predictor", "pre"),
)
# Shown on every track that scores them (the required tasks); the rest where some entry has them.
ALWAYS_SHOWN = {"top1", "top5", "rotation", "colour"}
RANK = Column("rank", "#")
NAME = Column("name", "method", numeric=False)
DIM = Column("dim", "D")
TRAINING_SEEDS = Column("training_seeds", "training seeds")
TRAINING_SEED = Column("training_seed", "training seed")
PROBE_SEEDS = Column("probe_seeds", "probe seeds")
VERIFIED = Column("verified", "verified", numeric=False)
RESULTS = Column("results", "results file", numeric=False)
CHECKPOINT = Column("checkpoint", "checkpoint", numeric=False)
VERIFIED_MARK = "verified"

REPORTED_COLUMNS = (
    Column("method", "method", numeric=False),
    Column("top1", "top-1 %", metric="top1", digits=2),
    Column("rotation", "rotation R²", metric="rotation_r2"),
    Column("colour", "colour R²", metric="colour_r2"),
    Column("translation", "translation R²", metric="translation_r2"),
    Column("mrr", "MRR", metric="mrr"),
    Column("h1", "H@1", metric="h@1"),
    Column("h5", "H@5", metric="h@5"),
    Column("pre", "PRE", metric="pre", higher_is_better=False),
    Column("venue", "venue", numeric=False),
    Column("resolution", "px", metric="resolution"),
    Column("epochs", "epochs", metric="epochs"),
    Column("backbone", "backbone", numeric=False),
    Column("source", "source", numeric=False),
)


@dataclass(frozen=True)
class Cell:
    text: str
    value: float | None = None  # the sort key of a numeric cell; None when empty


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    entries: tuple[Entry, ...] = ()  # the measured entries, per-seed order (empty when reported)
    # The track's floors (chance, constant predictor) under the score columns; not ranked.
    reference: tuple[Cell, ...] | None = None
    per_seed: Table | None = None  # a measured track's results files, one row each
    r2_definition: str = IEBENCH_R2_DEFINITION  # of every R^2 column in the table

    def column_values(self, key: str) -> list[float | None]:
        """The sort values of one column, in row order (None where absent or empty)."""
        keys = [c.key for c in self.columns]
        if key not in keys:
            return [None] * len(self.rows)
        return [row[keys.index(key)].value for row in self.rows]


REFERENCE_ROW = "reference level"
REFERENCE_NOTE = (
    "The reference level row is what a representation carrying nothing scores: chance "
    "top-1/top-5 for the classes present, the R² of predicting the training targets' mean, "
    "chance MRR/H@k for the views per object (H@k with k at least the views is left out: "
    "it is always 1). A score means something only above it."
)


def _score_text(mean: float, std: float, n: int, digits: int) -> str:
    return f"{mean:.{digits}f}" + (f" ± {std:.{digits}f}" if n > 1 else "")


def _score_cell(entries: list[Entry], column: Column) -> Cell:
    """One score of one results file (± over its probe seeds), or of a method's training
    seeds: their mean ± sample std (ddof=1); empty unless every seed has it."""
    scores = [entry.score(column.task, column.part, column.metric) for entry in entries]
    if not scores or None in scores:
        return Cell("")
    if len(scores) == 1:
        score = scores[0]
        return Cell(
            _score_text(score["mean"], score["std"], score["n"], column.digits), score["mean"]
        )
    means = [score["mean"] for score in scores]
    mean = statistics.fmean(means)
    return Cell(_score_text(mean, statistics.stdev(means), len(means), column.digits), mean)


def _count_cell(values: list[int]) -> Cell:
    """A count shared by a row's files ("3"), or their range ("1-3")."""
    low, high = min(values), max(values)
    return Cell(str(low) if low == high else f"{low}-{high}", low)


def _reference_row(entries: list[Entry], columns: tuple[Column, ...]) -> tuple[Cell, ...] | None:
    """The floors recorded by the track's results files, per task from the first file with
    that task (they depend on the dataset alone, so every entry records the same)."""
    levels = _reference_levels(entries)
    if not levels:
        return None
    cells = []
    for column in columns:
        level = levels.get(column.task, {}).get(column.metric) if column.task else None
        if column is NAME:
            cells.append(Cell(REFERENCE_ROW))
        elif level is None:
            cells.append(Cell(""))
        else:
            cells.append(Cell(f"{level:.{column.digits}f}", level))
    return tuple(cells)


def _reference_levels(entries: list[Entry]) -> dict[str, dict[str, float]]:
    levels: dict[str, dict[str, float]] = {}
    for entry in entries:
        for task, task_levels in entry.data.get("reference", {}).items():
            levels.setdefault(task, task_levels)
    return levels


def method_groups(entries: list[Entry]) -> list[list[Entry]]:
    """A track's entries as one group per method (its training seeds, in seed order), best
    first by the registry's ranking scores on the groups' means, then by method name."""
    groups: dict[str, list[Entry]] = {}
    for entry in entries:
        groups.setdefault(entry.method, []).append(entry)

    def seed_order(entry: Entry) -> tuple[bool, int, str]:
        seed = entry.training_seed
        return (seed is None, seed or 0, entry.path)

    def key(group: list[Entry]) -> tuple[Any, ...]:
        scores = []
        for task, part, metric in RANKING:
            sign = -1 if TASK_REGISTRY[task].metric(metric).higher_is_better else 1
            scores.append(
                sign * statistics.fmean(e.score(task, part, metric)["mean"] for e in group)
            )
        return (*scores, group[0].method)

    return sorted((sorted(group, key=seed_order) for group in groups.values()), key=key)


def _shown_columns(entries: list[Entry]) -> list[Column]:
    """The score columns that say something on this track: not a task the dataset holds
    constant, not top-5 when there are at most 5 classes (chance top-5 is 100), not H@k
    with k at least the views (always 1), and the optional ones only where scored."""
    views = entries[0].data["dataset"]["views_per_object"]
    constant = set(entries[0].data["dataset"].get("constant_tasks", ()))
    chance = _reference_levels(entries)
    uninformative = {
        c.key
        for c in SCORE_COLUMNS
        if c.task in constant
        or chance.get(c.task, {}).get(c.metric, 0.0) >= metric_range(c.task, c.metric)[1]
        or (hits_k(c.metric) is not None and hits_k(c.metric) >= views)
    }
    return [
        c
        for c in SCORE_COLUMNS
        if c.key not in uninformative
        and (c.key in ALWAYS_SHOWN or any(e.score(c.task, c.part, c.metric) for e in entries))
    ]


def _verified_cell(entries: list[Entry], verified: set[tuple[str, str]]) -> Cell:
    every = all((entry.path, entry.sha256) in verified for entry in entries)
    return Cell(VERIFIED_MARK if every else "")


def track_tables(
    entries: list[Entry],
    dataset_names: dict[str, str],
    verified: set[tuple[str, str]] = frozenset(),
    committed: set[str] = frozenset(),
) -> list[Table]:
    """One table per track, a row per method (its training seeds aggregated) ranked, and
    its per-seed table; reference-protocol tracks first, then by name. ``verified`` holds
    (entry path, sha256) of the files `leaderboard verify` re-computed, ``committed`` the
    entry paths whose checkpoint is in the board's repository (as recorded, same sha256)."""

    def order(track: Track) -> tuple[bool, str, str]:
        return (track.protocol != "reference", track.title(dataset_names), track.slug)

    tables = []
    by_track = groupby(sorted(entries, key=lambda e: order(e.track)), key=lambda e: e.track)
    for track, group in by_track:
        groups = method_groups(list(group))
        track_entries = [entry for seeds in groups for entry in seeds]
        shown = _shown_columns(track_entries)
        columns = (RANK, NAME, *shown, DIM, TRAINING_SEEDS, PROBE_SEEDS, VERIFIED)
        rows = []
        for rank, seeds in enumerate(groups, start=1):
            rows.append(
                (
                    Cell(str(rank), rank),
                    Cell(seeds[0].method),
                    *(_score_cell(seeds, c) for c in shown),
                    _count_cell([e.data["encoder"]["embedding_dim"] for e in seeds]),
                    Cell(str(len(seeds)), len(seeds)),
                    _count_cell([len(e.data["protocol"]["seeds"]) for e in seeds]),
                    _verified_cell(seeds, verified),
                )
            )
        title = track.title(dataset_names)
        reference = _reference_row(track_entries, columns)
        per_seed = _per_seed_table(title, track_entries, shown, verified, committed)
        tables.append(Table(title, columns, tuple(rows), tuple(track_entries), reference, per_seed))
    return tables


def _checkpoint_cell(entry: Entry, committed: set[str]) -> Cell:
    """Where a results file's checkpoint is: committed beside the board, or only its sha256
    in the file (the submitter says where it is published)."""
    if entry.data["encoder"]["checkpoint"] is None:
        return Cell("none")
    return Cell("committed" if entry.path in committed else "not committed")


def _per_seed_table(
    title: str,
    entries: list[Entry],
    shown: list[Column],
    verified: set[tuple[str, str]],
    committed: set[str],
) -> Table:
    columns = (NAME, TRAINING_SEED, *shown, DIM, PROBE_SEEDS, VERIFIED, CHECKPOINT, RESULTS)
    rows = []
    for entry in entries:
        seed = entry.training_seed
        dim = entry.data["encoder"]["embedding_dim"]
        probe_seeds = len(entry.data["protocol"]["seeds"])
        rows.append(
            (
                Cell(entry.method),
                Cell("" if seed is None else str(seed), seed),
                *(_score_cell([entry], c) for c in shown),
                Cell(str(dim), dim),
                Cell(str(probe_seeds), probe_seeds),
                _verified_cell([entry], verified),
                _checkpoint_cell(entry, committed),
                Cell(f"results/{entry.path}"),
            )
        )
    return Table(f"{title}: per training seed", columns, tuple(rows), tuple(entries))


def reported_tables(reported: list[Reported]) -> list[Table]:
    """One table per reported track and R^2 definition (never two definitions in one
    column), in file order; columns no row fills are left out."""
    groups: dict[tuple[str, str], list[Reported]] = {}
    for row in reported:
        groups.setdefault((row.track, row.r2_definition), []).append(row)
    tables = []
    for (track, definition), group in groups.items():
        rows = []
        for row in group:
            cells = [Cell(row.method)]
            for column in REPORTED_COLUMNS[1:-1]:
                if column.metric in REPORTED_METRICS:
                    cells.append(Cell(row.values.get(column.metric, ""), row.value(column.metric)))
                else:
                    text = (row.details or {}).get(column.key, "")
                    cells.append(Cell(text, int(text) if column.numeric and text else None))
            rows.append((*cells, Cell(row.source)))
        keep = [
            i
            for i, column in enumerate(REPORTED_COLUMNS)
            if column.key in ("method", "source") or any(r[i].text for r in rows)
        ]
        title = f"{track}; {R2_DEFINITIONS[definition]}"
        tables.append(
            Table(
                title,
                tuple(REPORTED_COLUMNS[i] for i in keep),
                tuple(tuple(r[i] for i in keep) for r in rows),
                r2_definition=definition,
            )
        )
    return tables
