"""Published numbers (docs/protocol.md section 8), shown as "reported": never ranked with ours.

``reported.csv`` has one row per (track, method): the track describes the paper's
protocol in words, the values are copied as printed (empty when not reported),
and ``source`` names the paper.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from iebench.core.errors import IebenchError
from iebench.protocol.layout import BOARD_REPORTED_NAME as REPORTED_NAME

REPORTED_METRICS = ("top1", "rotation_r2", "colour_r2", "mrr", "h@1", "h@5")
REPORTED_FIELDS = ("track", "method", *REPORTED_METRICS, "source")


@dataclass(frozen=True)
class Reported:
    track: str
    method: str
    values: dict[str, str]  # metric -> the number as printed in the paper; absent when not given
    source: str

    def value(self, metric: str) -> float | None:
        text = self.values.get(metric)
        return None if text is None else float(text)


def read_reported(board: Path) -> list[Reported]:
    """The board's reported rows in file order (an absent file means none)."""
    path = Path(board) / REPORTED_NAME
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != REPORTED_FIELDS:
            raise IebenchError(f"{path}: expected the columns {','.join(REPORTED_FIELDS)}")
        rows = []
        for line, row in enumerate(reader, start=2):
            values = {m: row[m].strip() for m in REPORTED_METRICS if row[m].strip()}
            for metric, text in values.items():
                try:
                    float(text)
                except ValueError:
                    problem = f"{metric} is not a number: {text!r}"
                    raise IebenchError(f"{path}:{line}: {problem}") from None
            rows.append(Reported(row["track"], row["method"], values, row["source"]))
    return rows
