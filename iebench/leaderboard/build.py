"""`build` and `show`: the board's views, from its results files alone.

Nothing submitted is ever imported or run. The output depends only on the files'
contents (sorted, no timestamps), so rebuilding gives byte-identical files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from iebench.core.errors import IebenchError
from iebench.core.io import sha256_file, write_bytes_atomic
from iebench.core.repository import committed_file, repository_root
from iebench.leaderboard.board import (
    DATASETS_NAME,
    RESULTS_DIR,
    Entry,
    board_lock,
    load_board,
    read_dataset_names,
)
from iebench.leaderboard.page import html_page
from iebench.leaderboard.plot import layout, png_bytes, to_svg, tradeoff_series
from iebench.leaderboard.reported import REPORTED_NAME, read_reported
from iebench.leaderboard.table import Table, reported_tables, track_tables
from iebench.leaderboard.text import markdown, terminal
from iebench.leaderboard.verified import read_verified
from iebench.protocol.layout import BOARD_PAGE_NAME as PAGE_NAME
from iebench.protocol.layout import BOARD_PLOT_NAME as PLOT_NAME
from iebench.protocol.layout import BOARD_README_NAME as README_NAME


@dataclass(frozen=True)
class Built:
    readme: Path
    page: Path
    plot: Path
    entries: int
    tracks: int


def require_board(board: Path) -> None:
    """Refuse a directory that is no board (a mistyped --board would get empty pages)."""
    board = Path(board)
    if not any((board / name).exists() for name in (RESULTS_DIR, REPORTED_NAME, DATASETS_NAME)):
        raise IebenchError(
            f"{board}: no board here (no {RESULTS_DIR}/, {REPORTED_NAME} or {DATASETS_NAME}); "
            f"pass --board, or start one with `iebench leaderboard submit RESULTS.json "
            f"--board {board}`"
        )


def committed_checkpoints(board: Path, entries: list[Entry]) -> set[str]:
    """The entries whose recorded checkpoint is in the repository holding the board (the
    board's folder outside one), with the recorded sha256: anyone with a clone can re-run
    them (`iebench leaderboard verify`)."""
    base = repository_root(board) or Path(board).resolve()
    committed = set()
    for entry in entries:
        encoder = entry.data["encoder"]
        path = committed_file(base, encoder["checkpoint"])
        if path is not None and sha256_file(path) == encoder["checkpoint_sha256"]:
            committed.add(entry.path)
    return committed


def board_tables(board: Path) -> tuple[list[Table], list[Table]]:
    """(measured tables, one per track; reported tables) after checking the whole board:
    its results files, verified.csv, reported.csv and datasets.csv."""
    state = load_board(board)
    state.check(board)
    verified = read_verified(board, {entry.path for entry in state.entries})
    done = {(v.entry, v.results_sha256) for v in verified}
    committed = committed_checkpoints(board, state.entries)
    measured = track_tables(state.entries, read_dataset_names(board), done, committed)
    return measured, reported_tables(read_reported(board))


def pages(board: Path) -> tuple[dict[str, bytes], list[Table]]:
    """The generated files of ``board`` (name -> bytes) and its measured tables, after
    every check of the board."""
    measured, reported = board_tables(board)
    plot = layout(tradeoff_series(measured, reported))
    generated = {
        README_NAME: markdown(measured, reported).encode("utf-8"),
        PAGE_NAME: html_page(measured, reported, to_svg(plot)).encode("utf-8"),
        PLOT_NAME: png_bytes(plot),
    }
    return generated, measured


def build(board: Path) -> Built:
    """Regenerate README.md, index.html and tradeoff.png of ``board``."""
    board = Path(board)
    require_board(board)
    with board_lock(board, shared=True):  # no submit changes the board while it is read
        generated, measured = pages(board)
        for name, content in generated.items():
            write_bytes_atomic(board / name, content)
    return Built(
        readme=board / README_NAME,
        page=board / PAGE_NAME,
        plot=board / PLOT_NAME,
        entries=sum(len(table.entries) for table in measured),
        tracks=len(measured),
    )


def check(board: Path) -> int:
    """Every check `build` runs, and that the generated pages are those on disk; writes
    nothing (no lock either: for CI on a pull request). Returns the number of entries."""
    board = Path(board)
    require_board(board)
    generated, measured = pages(board)
    stale = [
        name
        for name, content in generated.items()
        if not (board / name).is_file() or (board / name).read_bytes() != content
    ]
    if stale:
        raise IebenchError(
            f"{board}: {', '.join(stale)} not up to date with the results files: run "
            f"`iebench leaderboard build --board {board}` and commit what it writes"
        )
    return sum(len(table.entries) for table in measured)


def show(board: Path, with_reported: bool = False) -> str:
    """The board as plain text (measured tracks; reported tables when asked). Reads without
    the lock: a board may be read-only here."""
    require_board(board)
    measured, reported = board_tables(board)
    return terminal(measured, reported if with_reported else [])
