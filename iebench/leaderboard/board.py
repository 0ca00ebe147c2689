"""The board on disk: accepted results files, their recorded hashes, dataset names.

    <board>/results/<track slug>/<encoder slug>.json   byte copies of accepted results files
    <board>/results/SHA256SUMS     "<sha256>  <track slug>/<file>" per accepted file, sorted
                                   (`cd results && sha256sum -c SHA256SUMS` checks it too)
    <board>/datasets.csv           fingerprint,name: readable names of datasets (optional)
    <board>/reported.csv           published numbers, shown apart (see reported.py)

The hashes are the tamper check: a results file changed, added or removed by
hand after `submit` accepted it no longer matches SHA256SUMS, and `build` and
`submit` refuse the board until that is undone. It makes edits visible; it does
not stop someone who also rewrites SHA256SUMS (a review of that diff does).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iebench.core.errors import IebenchError
from iebench.core.io import write_text_atomic
from iebench.leaderboard.track import Track
from iebench.protocol.results import schema_problems

RESULTS_DIR = "results"
SUMS_NAME = "SHA256SUMS"
DATASETS_NAME = "datasets.csv"
DEFAULT_BOARD = Path("leaderboard")


@dataclass(frozen=True)
class Entry:
    """One accepted results file."""

    path: str  # relative to <board>/results, e.g. "reference-256px-3f2a9c01b7de/sie.json"
    track: Track
    data: dict[str, Any]
    sha256: str

    @property
    def name(self) -> str:
        return self.data["encoder"]["name"]

    def score(self, task: str, part: str, metric: str) -> dict[str, Any] | None:
        """``{"mean", "std", "n"}`` of one metric, or None when the run did not report it."""
        return self.data["scores"].get(task, {}).get(part, {}).get(metric)


def slugify(name: str) -> str:
    """A file-name-safe form of an encoder name: "SIE (rot+col)" -> "sie-rot-col"."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "encoder"


def entry_path(track: Track, name: str) -> str:
    return f"{track.slug}/{slugify(name)}.json"


def results_dir(board: Path) -> Path:
    return Path(board) / RESULTS_DIR


def read_sums(board: Path) -> dict[str, str]:
    """The recorded hashes: entry path -> sha256."""
    path = results_dir(board) / SUMS_NAME
    if not path.is_file():
        return {}
    sums = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, _, name = line.partition("  ")
            sums[name] = digest
    return sums


def write_sums(board: Path, sums: dict[str, str]) -> None:
    text = "".join(f"{sums[name]}  {name}\n" for name in sorted(sums))
    write_text_atomic(results_dir(board) / SUMS_NAME, text)


@dataclass(frozen=True)
class BoardState:
    """The board's entries (sorted by path) and what is wrong with it, one line each."""

    entries: list[Entry]
    problems: list[str]  # unreadable, invalid, misplaced, or not matching SHA256SUMS
    missing: list[str]  # recorded in SHA256SUMS but absent: an interrupted submit

    def check(self, board: Path) -> None:
        """Raise IebenchError listing every problem, if any."""
        problems = self.problems + [
            f"{results_dir(board) / name}: recorded in {SUMS_NAME} but missing "
            "(an interrupted submit? submit it again)"
            for name in self.missing
        ]
        if problems:
            raise IebenchError(
                f"{board}: the board fails its checks:\n" + "\n".join(f"  - {p}" for p in problems)
            )


def load_board(board: Path) -> BoardState:
    """Every results file on the board, checked against SHA256SUMS and the schema."""
    root = results_dir(board)
    sums = read_sums(board)
    entries: list[Entry] = []
    problems: list[str] = []
    files = sorted(p.relative_to(root).as_posix() for p in root.glob("*/*.json"))
    for name in files:
        path = root / name
        raw = path.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        if name not in sums:
            problems.append(f"{path}: not recorded in {root / SUMS_NAME} (add results with submit)")
            continue
        if digest != sums[name]:
            problems.append(
                f"{path}: sha256 {digest} differs from the recorded {sums[name]} "
                "(changed after it was accepted)"
            )
            continue
        try:
            data = json.loads(raw.decode("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            problems.append(f"{path}: not a JSON file ({error})")
            continue
        invalid = schema_problems(data)
        if invalid:
            problems += [f"{path}: {problem}" for problem in invalid]
            continue
        track = Track.of(data)
        if name.split("/")[0] != track.slug:
            problems.append(f"{path}: belongs to track directory {track.slug}")
            continue
        entries.append(Entry(path=name, track=track, data=data, sha256=digest))
    return BoardState(entries, problems, missing=sorted(set(sums) - set(files)))


def read_dataset_names(board: Path) -> dict[str, str]:
    """fingerprint -> readable dataset name, from ``datasets.csv`` when the board has one."""
    path = Path(board) / DATASETS_NAME
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as handle:
        return {row["fingerprint"]: row["name"] for row in csv.DictReader(handle)}


def name_dataset(board: Path, fingerprint: str, name: str) -> None:
    """Record a readable name for a dataset fingerprint (replacing an earlier one)."""
    names = read_dataset_names(board) | {fingerprint: name}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["fingerprint", "name"])
    writer.writerows(sorted(names.items()))
    write_text_atomic(Path(board) / DATASETS_NAME, out.getvalue())
