"""``verified.csv``: results files that `iebench leaderboard verify` computed again and matched.

    entry,results_sha256,verified_at,iebench_commit,tolerance,max_difference

one line per verification: ``entry`` is the file's place under ``results/`` (as in
SHA256SUMS), ``results_sha256`` the sha256 of the file it re-computed. A board row is
verified when every one of its training seeds' files has a line whose digest is that
file's (a line whose max_difference exceeds its tolerance verifies nothing). The file is
untrusted input (a pull request may edit it): bounded in size, every field checked, and a
line for a file the board does not hold is refused.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from iebench.core.errors import IebenchError
from iebench.protocol.layout import BOARD_VERIFIED_NAME as VERIFIED_NAME
from iebench.protocol.results import shown

VERIFIED_FIELDS = (
    "entry",
    "results_sha256",
    "verified_at",
    "iebench_commit",
    "tolerance",
    "max_difference",
)
MAX_VERIFIED_BYTES = 1 << 20  # about 5000 lines
_HEX64 = re.compile(r"[0-9a-f]{64}")
_COMMIT = re.compile(r"[0-9a-f]{7,64}(?:-dirty)?")


@dataclass(frozen=True)
class Verification:
    entry: str
    results_sha256: str


def _line_problem(row: dict[str, str | None], entries: set[str]) -> str | None:
    if None in row.values() or None in row:
        return f"expected the {len(VERIFIED_FIELDS)} columns {','.join(VERIFIED_FIELDS)}"
    if row["entry"] not in entries:
        return f"entry {shown(row['entry'])}: no such results file on this board"
    if not _HEX64.fullmatch(row["results_sha256"]):
        return f"results_sha256: expected a sha256 hex digest, got {shown(row['results_sha256'])}"
    try:
        datetime.fromisoformat(row["verified_at"])
    except ValueError:
        return f"verified_at: expected an ISO-8601 time, got {shown(row['verified_at'])}"
    # Empty: verified by an installed iebench, which knows no commit.
    if row["iebench_commit"] and not _COMMIT.fullmatch(row["iebench_commit"]):
        return f"iebench_commit: expected a git commit (hex), got {shown(row['iebench_commit'])}"
    for key in ("tolerance", "max_difference"):
        try:
            value = float(row[key])
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value >= 0):
            return f"{key}: expected a number >= 0, got {shown(row[key])}"
    return None


def read_verified(board: Path, entries: set[str]) -> list[Verification]:
    """The board's verifications (none without the file), every line checked against
    ``entries`` (the board's results files); IebenchError naming the file and line."""
    path = Path(board) / VERIFIED_NAME
    if not path.is_file():
        return []
    with open(path, "rb") as handle:
        raw = handle.read(MAX_VERIFIED_BYTES + 1)
    if len(raw) > MAX_VERIFIED_BYTES:
        raise IebenchError(f"{path}: larger than {MAX_VERIFIED_BYTES} bytes")
    try:
        reader = csv.DictReader(io.StringIO(raw.decode("utf-8"), newline=""))
        if tuple(reader.fieldnames or ()) != VERIFIED_FIELDS:
            raise IebenchError(f"{path}: expected the header {','.join(VERIFIED_FIELDS)}")
        verifications = []
        for line, row in enumerate(reader, start=2):
            problem = _line_problem(row, entries)
            if problem:
                raise IebenchError(f"{path}:{line}: {problem}")
            if float(row["max_difference"]) <= float(row["tolerance"]):  # else: it failed
                verifications.append(Verification(row["entry"], row["results_sha256"]))
    except UnicodeDecodeError as error:
        raise IebenchError(f"{path}: not a text file ({error.reason})") from None
    except csv.Error as error:
        raise IebenchError(f"{path}: not a CSV file ({error})") from None
    return verifications
