"""Published numbers (docs/protocol.md section 8), shown as "reported": never ranked with ours.

``reported.csv`` has one row per (track, method): the track describes the paper's
protocol in words, the values are copied as printed (empty when not reported),
``r2_definition`` says which R^2 the paper computed (``global-mean``: one mean over all
outputs, SIE's and iebench's, a constant predictor scores ~0.23 on 3DIEBench;
``per-output-average``: sklearn's ``r2_score``, a constant predictor scores 0;
``unknown``), then where it was published and how (venue, input resolution, training
epochs, backbone; empty when not verified) and ``source``: the paper and its table or
figure. Rows of different tracks or R^2 definitions are never shown in one table.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from iebench.core.errors import IebenchError
from iebench.protocol.layout import BOARD_REPORTED_NAME as REPORTED_NAME
from iebench.protocol.results import shown

REPORTED_METRICS = (
    "top1",
    "rotation_r2",
    "colour_r2",
    "translation_r2",
    "mrr",
    "h@1",
    "h@5",
    "pre",
)
REPORTED_DETAILS = ("venue", "resolution", "epochs", "backbone")
REPORTED_FIELDS = (
    "track",
    "method",
    *REPORTED_METRICS,
    "r2_definition",
    *REPORTED_DETAILS,
    "source",
)
# What each R^2 definition is called on the board; a plot or table never mixes two.
R2_DEFINITIONS = {
    "global-mean": "R² with one global mean over all outputs (as iebench's)",
    "per-output-average": "R² averaged over outputs (sklearn's default; not iebench's)",
    "unknown": "R² of an unstated definition",
}
IEBENCH_R2_DEFINITION = "global-mean"  # iebench.evaluation.metrics computes this one
_INTEGER_DETAILS = ("resolution", "epochs")


@dataclass(frozen=True)
class Reported:
    track: str
    method: str
    values: dict[str, str]  # metric -> the number as printed in the paper; absent when not given
    source: str
    r2_definition: str = "unknown"
    details: dict[str, str] | None = None  # venue, resolution, epochs, backbone when known

    def value(self, metric: str) -> float | None:
        text = self.values.get(metric)
        return None if text is None else float(text)


def _row_problem(row: dict[str, str]) -> str | None:
    for metric in REPORTED_METRICS:
        text = row[metric].strip()
        try:
            finite = not text or math.isfinite(float(text))
        except ValueError:
            finite = False
        if not finite:
            return f"{metric} is not a number: {shown(text)}"
    if row["r2_definition"] not in R2_DEFINITIONS:
        expected = ", ".join(R2_DEFINITIONS)
        return f"r2_definition: expected one of {expected}, got {shown(row['r2_definition'])}"
    for key in _INTEGER_DETAILS:
        if row[key] and not row[key].isdigit():
            return f"{key}: expected a whole number, got {shown(row[key])}"
    if not row["source"].strip():
        return "source: empty (every published number names its paper)"
    return None


def read_reported(board: Path) -> list[Reported]:
    """The board's reported rows in file order (an absent file means none)."""
    path = Path(board) / REPORTED_NAME
    if not path.is_file():
        return []
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if tuple(reader.fieldnames or ()) != REPORTED_FIELDS:
                raise IebenchError(f"{path}: expected the columns {','.join(REPORTED_FIELDS)}")
            rows = []
            for line, row in enumerate(reader, start=2):
                if None in row or None in row.values():
                    raise IebenchError(f"{path}:{line}: expected {len(REPORTED_FIELDS)} columns")
                problem = _row_problem(row)
                if problem:
                    raise IebenchError(f"{path}:{line}: {problem}")
                values = {m: row[m].strip() for m in REPORTED_METRICS if row[m].strip()}
                details = {key: row[key] for key in REPORTED_DETAILS if row[key]}
                rows.append(
                    Reported(
                        row["track"],
                        row["method"],
                        values,
                        row["source"],
                        row["r2_definition"],
                        details,
                    )
                )
    except UnicodeDecodeError as error:
        raise IebenchError(f"{path}: not a text file ({error.reason})") from None
    except csv.Error as error:
        raise IebenchError(f"{path}: not a CSV file ({error})") from None
    return rows
