"""The board on disk: accepted results files, their recorded hashes, dataset names.

    <board>/results/<track slug>/<encoder slug>.json   byte copies of accepted results files
    <board>/results/SHA256SUMS     "<sha256>  <track slug>/<file>" per accepted file, sorted
                                   (`cd results && sha256sum -c SHA256SUMS` checks it too)
    <board>/datasets.csv           fingerprint,name: readable names of datasets (optional)
    <board>/reported.csv           published numbers, shown apart (see reported.py)

The hashes are the tamper check: a results file changed, added or removed by
hand after `submit` accepted it no longer matches SHA256SUMS, and `build` and
`submit` refuse the board until that is undone. It makes edits visible; it does
not stop someone who also rewrites SHA256SUMS (a review of that diff does), but
`build` runs on every file each check `submit` ran, so an edited file still has to
be a valid results file.

Every change to the board happens under one exclusive lock, ``<board>/board.lock``
(`build` takes it shared): submits at once queue, none is lost.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iebench.core.errors import IebenchError
from iebench.core.io import write_text_atomic
from iebench.core.locks import Locked, hold
from iebench.leaderboard.checks import board_problems, entry_problems
from iebench.leaderboard.track import Track, method_and_seed, slugify
from iebench.protocol.layout import BOARD_DATASETS_NAME as DATASETS_NAME
from iebench.protocol.layout import BOARD_LOCK_NAME
from iebench.protocol.layout import BOARD_RESULTS_DIR as RESULTS_DIR
from iebench.protocol.layout import BOARD_SUMS_NAME as SUMS_NAME
from iebench.protocol.results import (
    SAFE_NAME_TEXT,
    is_safe_name,
    parse_results,
    read_results_bytes,
    shown,
)

DEFAULT_BOARD = Path("leaderboard")
LOCK_WAIT_S = 120.0  # the longest a submit or build waits for another one
_LOCK_POLL_S = 0.05
# "<track slug>/<encoder slug>.json": what entry_path makes, and all a board holds.
_ENTRY_NAME = re.compile(r"[a-z]+-[0-9]+px-[0-9a-f]{12}/[a-z0-9]+(?:-[a-z0-9]+)*\.json")
_SUMS_LINE = re.compile(r"(?P<digest>[0-9a-f]{64})  (?P<name>\S+)")


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

    @property
    def method(self) -> str:
        return method_and_seed(self.data["encoder"])[0]

    @property
    def training_seed(self) -> int | None:
        return method_and_seed(self.data["encoder"])[1]

    def score(self, task: str, part: str, metric: str) -> dict[str, Any] | None:
        """``{"mean", "std", "n"}`` of one metric, or None when the run did not report it."""
        return self.data["scores"].get(task, {}).get(part, {}).get(metric)


def entry_path(track: Track, name: str) -> str:
    return f"{track.slug}/{slugify(name)}.json"


def entry_file(board: Path, name: str) -> Path:
    """The file of entry ``name`` on ``board``; refuses a name that is no entry path or
    that would lead out of ``<board>/results`` (a link)."""
    root = results_dir(board)
    path = root / name
    if not _ENTRY_NAME.fullmatch(name) or not path.resolve().is_relative_to(root.resolve()):
        raise IebenchError(f"{root}: {shown(name)} is not a results file's place on the board")
    return path


@contextlib.contextmanager
def board_lock(board: Path, shared: bool = False) -> Iterator[None]:
    """Hold the board's lock (exclusive to change it, ``shared`` to read it whole),
    waiting up to LOCK_WAIT_S for another holder; then `Locked`, in one line."""
    deadline = time.monotonic() + LOCK_WAIT_S
    with contextlib.ExitStack() as stack:
        while True:
            try:
                stack.enter_context(hold(Path(board) / BOARD_LOCK_NAME, shared=shared))
                break
            except Locked:
                if time.monotonic() > deadline:
                    raise
                time.sleep(_LOCK_POLL_S)
            except OSError as error:  # a board this user cannot write
                raise IebenchError(f"{Path(board) / BOARD_LOCK_NAME}: {error.strerror}") from None
        yield


def results_dir(board: Path) -> Path:
    return Path(board) / RESULTS_DIR


def read_sums(board: Path) -> dict[str, str]:
    """The recorded hashes: entry path -> sha256; a line of another form is refused."""
    path = results_dir(board) / SUMS_NAME
    if not path.is_file():
        return {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise IebenchError(f"{path}: not a text file ({error.reason})") from None
    sums = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        match = _SUMS_LINE.fullmatch(line)
        if not match or not _ENTRY_NAME.fullmatch(match["name"]):
            raise IebenchError(
                f"{path}:{number}: expected '<sha256>  <track>/<encoder>.json', "
                f"got {shown(line, 120)}"
            )
        sums[match["name"]] = match["digest"]
    return sums


def write_sums(board: Path, sums: dict[str, str]) -> None:
    for name in sums:
        entry_file(board, name)  # every line names a place on the board, and only one line
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
        if len(problems) == 1:  # one line, naming the file and the reason (CI shows it)
            raise IebenchError(f"{board}: the board fails its checks: {problems[0]}")
        if problems:
            raise IebenchError(
                f"{board}: the board fails its checks:\n" + "\n".join(f"  - {p}" for p in problems)
            )


def load_board(board: Path) -> BoardState:
    """Every results file on the board, checked against SHA256SUMS and by every check
    `submit` made of it but the encoder's file hashes (made where it was evaluated)."""
    root = results_dir(board)
    sums = read_sums(board)
    entries: list[Entry] = []
    problems: list[str] = []
    files = sorted(p.relative_to(root).as_posix() for p in root.glob("*/*.json"))
    for name in files:
        path = root / name
        try:
            entry_file(board, name)  # first: the messages below quote the name
        except IebenchError as error:
            problems.append(str(error))
            continue
        if name not in sums:
            problems.append(f"{path}: not recorded in {root / SUMS_NAME} (add results with submit)")
            continue
        try:
            raw = read_results_bytes(path)
            digest = hashlib.sha256(raw).hexdigest()
            if digest != sums[name]:
                raise IebenchError(
                    f"{path}: sha256 {digest} differs from the recorded {sums[name]} "
                    "(changed after it was accepted)"
                )
            data = parse_results(raw, str(path))
        except IebenchError as error:
            problems.append(str(error))
            continue
        invalid = entry_problems(data) or board_problems(data, entries)
        if invalid:
            problems += [f"{path}: {problem}" for problem in invalid]
            continue
        track = Track.of(data)
        if name != entry_path(track, data["encoder"]["name"]):
            problems.append(f"{path}: belongs at {entry_path(track, data['encoder']['name'])}")
            continue
        entries.append(Entry(path=name, track=track, data=data, sha256=digest))
    return BoardState(entries, problems, missing=sorted(set(sums) - set(files)))


def read_dataset_names(board: Path) -> dict[str, str]:
    """fingerprint -> readable dataset name, from ``datasets.csv`` when the board has one."""
    path = Path(board) / DATASETS_NAME
    if not path.is_file():
        return {}
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (UnicodeDecodeError, csv.Error) as error:
        raise IebenchError(f"{path}: not a CSV file ({error})") from None
    names = {}
    for line, row in enumerate(rows, start=2):
        fingerprint, name = row.get("fingerprint"), row.get("name")
        problem = dataset_name_problem(name) or (
            None
            if isinstance(fingerprint, str) and re.fullmatch(r"[0-9a-f]{64}", fingerprint)
            else f"fingerprint: expected a sha256 hex digest, got {shown(fingerprint)}"
        )
        if problem:
            raise IebenchError(f"{path}:{line}: {problem}")
        names[fingerprint] = name
    return names


def dataset_name_problem(name: Any) -> str | None:
    """Why ``name`` cannot name a dataset on the board (it is shown in titles), or None."""
    if is_safe_name(name):
        return None
    return f"dataset name: expected {SAFE_NAME_TEXT}, got {shown(name)}"


def name_dataset(board: Path, fingerprint: str, name: str) -> None:
    """Record a readable name for a dataset fingerprint (replacing an earlier one)."""
    problem = dataset_name_problem(name)
    if problem:
        raise IebenchError(problem)
    names = read_dataset_names(board) | {fingerprint: name}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["fingerprint", "name"])
    writer.writerows(sorted(names.items()))
    write_text_atomic(Path(board) / DATASETS_NAME, out.getvalue())
