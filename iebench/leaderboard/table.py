"""The board as tables of cells, shared by the Markdown, HTML and terminal views."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby
from typing import Any

from iebench.leaderboard.board import Entry
from iebench.leaderboard.reported import Reported
from iebench.leaderboard.track import Track
from iebench.protocol.results import hits_k
from iebench.protocol.tasks import RANKING, TASK_REGISTRY


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
    _score_column("top1_inv", "top-1 % inv.", "classification", "invariant", "top1"),
    _score_column("rotation_equi", "rotation R² equi.", "rotation", "equivariant", "r2"),
    _score_column("mrr", "MRR", "equivariance", "predictor", "mrr"),
    _score_column("h1", "H@1", "equivariance", "predictor", "h@1"),
    _score_column("h5", "H@5", "equivariance", "predictor", "h@5"),
    _score_column("pre", "PRE", "equivariance", "predictor", "pre"),
)
ALWAYS_SHOWN = {"top1", "top5", "rotation", "colour"}
RANK = Column("rank", "#")
NAME = Column("name", "encoder", numeric=False)
DIM = Column("dim", "D")
SEEDS = Column("seeds", "seeds")
RESULTS = Column("results", "results file", numeric=False)

REPORTED_COLUMNS = (
    Column("method", "method", numeric=False),
    Column("top1", "top-1 %", metric="top1", digits=2),
    Column("rotation", "rotation R²", metric="rotation_r2"),
    Column("colour", "colour R²", metric="colour_r2"),
    Column("mrr", "MRR", metric="mrr"),
    Column("h1", "H@1", metric="h@1"),
    Column("h5", "H@5", metric="h@5"),
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
    entries: tuple[Entry, ...] = ()  # the measured entries, in row order (empty when reported)
    # The track's floors (chance, constant predictor) under the score columns; not ranked.
    reference: tuple[Cell, ...] | None = None


REFERENCE_ROW = "reference level"
REFERENCE_NOTE = (
    "The reference level row is what a representation carrying nothing scores: chance "
    "top-1/top-5 for the classes present, the R² of predicting the training targets' mean, "
    "chance MRR/H@k for the views per object (H@k with k at least the views is left out: "
    "it is always 1). A score means something only above it."
)


def _score_cell(entry: Entry, column: Column) -> Cell:
    score = entry.score(column.task, column.part, column.metric)
    if score is None:
        return Cell("")
    text = f"{score['mean']:.{column.digits}f}"
    if score["n"] > 1:
        text += f" ± {score['std']:.{column.digits}f}"
    return Cell(text, score["mean"])


def _reference_row(entries: list[Entry], columns: tuple[Column, ...]) -> tuple[Cell, ...] | None:
    """The floors recorded by the track's results files, per task from the first file with
    that task (they depend on the dataset alone, so every entry records the same)."""
    levels: dict[str, dict[str, float]] = {}
    for entry in entries:
        for task, task_levels in entry.data.get("reference", {}).items():
            levels.setdefault(task, task_levels)
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


def ranked(entries: list[Entry]) -> list[Entry]:
    """Best first by the registry's ranking scores (top-1, then rotation R^2), then by name
    (a stable, deterministic order)."""

    def key(entry: Entry) -> tuple[Any, ...]:
        scores = []
        for task, part, metric in RANKING:
            sign = -1 if TASK_REGISTRY[task].metric(metric).higher_is_better else 1
            scores.append(sign * entry.score(task, part, metric)["mean"])
        return (*scores, entry.name, entry.path)

    return sorted(entries, key=key)


def track_tables(entries: list[Entry], dataset_names: dict[str, str]) -> list[Table]:
    """One table per track, rows ranked; reference-protocol tracks first, then by name."""

    def order(track: Track) -> tuple[bool, str, str]:
        return (track.protocol != "reference", track.title(dataset_names), track.slug)

    tables = []
    by_track = groupby(sorted(entries, key=lambda e: order(e.track)), key=lambda e: e.track)
    for track, group in by_track:
        rows_entries = ranked(list(group))
        views = rows_entries[0].data["dataset"]["views_per_object"]
        shown = [
            c
            for c in SCORE_COLUMNS
            if (
                c.key in ALWAYS_SHOWN
                or any(e.score(c.task, c.part, c.metric) for e in rows_entries)
            )
            and (hits_k(c.metric) is None or hits_k(c.metric) < views)
        ]
        columns = (RANK, NAME, *shown, DIM, SEEDS, RESULTS)
        rows = []
        for rank, entry in enumerate(rows_entries, start=1):
            seeds = len(entry.data["protocol"]["seeds"])
            dim = entry.data["encoder"]["embedding_dim"]
            rows.append(
                (
                    Cell(str(rank), rank),
                    Cell(entry.name),
                    *(_score_cell(entry, c) for c in shown),
                    Cell(str(dim), dim),
                    Cell(str(seeds), seeds),
                    Cell(f"results/{entry.path}"),
                )
            )
        title = track.title(dataset_names)
        reference = _reference_row(rows_entries, columns)
        tables.append(Table(title, columns, tuple(rows), tuple(rows_entries), reference))
    return tables


def reported_tables(reported: list[Reported]) -> list[Table]:
    """One table per reported track, tracks and rows in file order."""
    groups: dict[str, list[Reported]] = {}
    for row in reported:
        groups.setdefault(row.track, []).append(row)
    tables = []
    for title, group in groups.items():
        rows = []
        for row in group:
            cells = [Cell(row.method)]
            for column in REPORTED_COLUMNS[1:-1]:
                text = row.values.get(column.metric, "")
                cells.append(Cell(text, row.value(column.metric)))
            rows.append((*cells, Cell(row.source)))
        tables.append(Table(title, REPORTED_COLUMNS, tuple(rows)))
    return tables
