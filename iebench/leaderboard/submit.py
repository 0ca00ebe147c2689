"""`submit`: check a results file against everything at once, then copy it onto the board."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from iebench.core.errors import IebenchError
from iebench.core.io import write_bytes_atomic
from iebench.leaderboard.board import (
    Entry,
    board_lock,
    dataset_name_problem,
    entry_file,
    entry_path,
    load_board,
    name_dataset,
    read_sums,
    write_sums,
)
from iebench.leaderboard.checks import board_problems, entry_problems, file_hash_problems
from iebench.leaderboard.track import Track
from iebench.protocol.results import parse_results, read_results_bytes, schema_problems


class SubmissionRejected(IebenchError):
    """A results file the board refuses; ``reasons`` holds every problem, one line each."""

    def __init__(self, source: Path, reasons: list[str]) -> None:
        self.source = source
        self.reasons = reasons
        lines = [f"{source}: rejected ({len(reasons)} problem{'s' * (len(reasons) > 1)})"]
        super().__init__("\n".join(lines + [f"  - {reason}" for reason in reasons]))


@dataclass(frozen=True)
class Accepted:
    entry: Entry
    notes: list[str] = field(default_factory=list)  # checks that could not be made here


def submit(
    path: Path, board: Path, base: Path = Path("."), dataset_name: str | None = None
) -> Accepted:
    """Check ``path`` (schema, required tasks, value ranges, file hashes, duplicates, the
    board's own integrity) and copy it byte for byte onto ``board``.

    Raises SubmissionRejected listing every problem; then nothing is written.
    ``base`` is where relative encoder and checkpoint paths are looked up;
    ``dataset_name`` names the track's dataset (recorded in datasets.csv).
    """
    path = Path(path)
    raw = read_results_bytes(path)
    try:
        data = parse_results(raw, str(path))
    except IebenchError as error:
        raise SubmissionRejected(path, [str(error).removeprefix(f"{path}: ")]) from None
    own = entry_problems(data)
    if dataset_name is not None and dataset_name_problem(dataset_name):
        own.append(dataset_name_problem(dataset_name))
    board = Path(board)
    if own and schema_problems(data):  # nothing else can be checked: list the board's too
        state = load_board(board)
        raise SubmissionRejected(path, [f"board: {p}" for p in state.problems] + own)
    board.mkdir(parents=True, exist_ok=True)
    with board_lock(board):  # the board's state, read and changed by one submit at a time
        state = load_board(board)
        # A file recorded but missing is an interrupted submit: it blocks `build`, not a
        # new submit.
        reasons = [f"board: {problem}" for problem in state.problems] + own
        hash_problems, notes = file_hash_problems(data, base)
        reasons += hash_problems + board_problems(data, state.entries)
        if reasons:
            raise SubmissionRejected(path, reasons)

        track = Track.of(data)
        name = entry_path(track, data["encoder"]["name"])
        target = entry_file(board, name)
        digest = hashlib.sha256(raw).hexdigest()
        present = {entry.path for entry in state.entries}
        # Record first, then copy: an interruption leaves a recorded-but-missing file,
        # which the next submit of the same file repairs.
        sums = {k: v for k, v in read_sums(board).items() if k in present}
        write_sums(board, sums | {name: digest})
        write_bytes_atomic(target, raw)
        if dataset_name:
            name_dataset(board, track.fingerprint, dataset_name)
    entry = Entry(path=name, track=track, data=data, sha256=digest)
    return Accepted(entry=entry, notes=notes)
