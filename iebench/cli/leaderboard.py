"""`iebench leaderboard submit|build|show|check|verify`."""

from __future__ import annotations

from pathlib import Path

import click

from iebench.cli.options import examples
from iebench.core.errors import IebenchError
from iebench.leaderboard.board import DEFAULT_BOARD, board_lock, results_dir
from iebench.leaderboard.build import build as build_board
from iebench.leaderboard.build import check as check_board
from iebench.leaderboard.build import show as show_board
from iebench.leaderboard.submit import submit as submit_results
from iebench.protocol.layout import BOARD_VERIFIED_NAME
from iebench.protocol.results import VERIFY_TOLERANCE_RULE

BOARD_OPTION = click.option(
    "--board",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_BOARD,
    show_default=True,
    help="The board directory.",
)


@click.group(
    epilog=examples(
        "iebench leaderboard submit sie.json --dataset-name 3DIEBench",
        "iebench leaderboard build",
        "iebench leaderboard show --reported",
    ),
)
def leaderboard() -> None:
    """Publish results: check and add results files, build the board's pages."""


@leaderboard.command(
    "submit",
    epilog=examples(
        "iebench leaderboard submit sie.json",
        "iebench leaderboard submit sie.json --board leaderboard --dataset-name 3DIEBench",
    ),
)
@click.argument("results", type=click.Path(dir_okay=False, path_type=Path))
@BOARD_OPTION
@click.option(
    "--dataset-name",
    default=None,
    help='Readable name of the results\' dataset, e.g. "3DIEBench" (kept in datasets.csv).',
)
def submit(results: Path, board: Path, dataset_name: str | None) -> None:
    """Check RESULTS.json (every problem is listed) and add it to the board."""
    accepted = submit_results(results, board, dataset_name=dataset_name)
    for note in accepted.notes:
        click.echo(f"note: {note}")
    click.echo(f"accepted: {board / 'results' / accepted.entry.path}")
    click.echo(f"run `iebench leaderboard build --board {board}` to update the pages")


@leaderboard.command(
    "build",
    epilog=examples("iebench leaderboard build", "iebench leaderboard build --board demo/board"),
)
@BOARD_OPTION
def build(board: Path) -> None:
    """Regenerate README.md, index.html and tradeoff.png from the results files."""
    built = build_board(board)
    click.echo(f"{built.entries} entries in {built.tracks} tracks")
    for path in (built.readme, built.page, built.plot):
        click.echo(f"wrote {path}")


@leaderboard.command(
    "show",
    epilog=examples("iebench leaderboard show", "iebench leaderboard show --reported"),
)
@BOARD_OPTION
@click.option("--reported", is_flag=True, help="Also print the numbers reported in papers.")
def show(board: Path, reported: bool) -> None:
    """Print the board's tables, each with its track's reference levels."""
    click.echo(show_board(board, with_reported=reported), nl=False)


VERIFY_HELP = f"""Re-run the evaluation RESULTS records and refuse scores that differ.

The encoder file, checkpoint and dataset must match the recorded sha256s; the re-run uses
the recorded protocol, tasks, seeds and settings. Each score must land within
{VERIFY_TOLERANCE_RULE} of the recorded one (metric top: 1 for fractions, 100 for
percentages; a same-machine re-run reproduces every score to about 1e-8). Exits 1 with one line
per differing score."""


@leaderboard.command(
    "verify",
    help=VERIFY_HELP,
    epilog=examples(
        "iebench leaderboard verify leaderboard/results/TRACK/sie.json --data data/tree",
        "iebench leaderboard verify sie.json --data data/tree --checkpoint final.pth "
        "--encoder runs/sie/submission.py --board leaderboard",
    ),
)
@click.argument("results", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--data", required=True, type=click.Path(path_type=Path), help="Dataset root.")
@click.option(
    "--checkpoint",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The weights (default: the recorded encoder.checkpoint, from the results' repository).",
)
@click.option(
    "--encoder",
    "submission_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The submission file (default: the recorded encoder.file, from the results' repository).",
)
@click.option(
    "--board",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="On a pass, record it in this board's verified.csv (RESULTS must be one of its entries).",
)
@click.option("--device", default=None, help="torch device (default: cuda when present).")
def verify_command(
    results: Path,
    data: Path,
    checkpoint: Path | None,
    submission_file: Path | None,
    board: Path | None,
    device: str | None,
) -> None:
    """Re-run the evaluation RESULTS records; exit 1 naming each score that differs."""
    # The harness loads torch: imported here so that the board's other commands never do.
    from iebench.evaluation.verify import append_verified, verified_row, verify

    entry = None
    if board is not None:
        root = results_dir(board).resolve()
        if not results.resolve().is_relative_to(root):
            raise IebenchError(f"{results}: not a results file of the board {board}")
        entry = results.resolve().relative_to(root).as_posix()
    report = verify(results, data, checkpoint, submission_file, device)
    if not report.passed:
        for check in report.failures:
            click.echo(check.line(), err=True)
        raise SystemExit(1)
    click.echo(
        f"verified: {len(report.checks)} scores within {VERIFY_TOLERANCE_RULE} "
        f"(largest difference {report.max_difference:.3g})"
    )
    if board is not None:
        with board_lock(board):
            append_verified(Path(board) / BOARD_VERIFIED_NAME, verified_row(report, entry))
        click.echo(f"recorded in {Path(board) / BOARD_VERIFIED_NAME}")


@leaderboard.command(
    "check",
    epilog=examples("iebench leaderboard check", "iebench leaderboard check leaderboard"),
)
@click.argument(
    "board", required=False, type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_BOARD
)
def check(board: Path) -> None:
    """Check BOARD (default: leaderboard) as `build` does, and that its generated pages are
    up to date; writes nothing (for CI on a pull request that adds results)."""
    entries = check_board(board)
    click.echo(f"{board}: {entries} results files pass every check; the pages are up to date")
