"""`iebench leaderboard submit|build|show|check`."""

from __future__ import annotations

from pathlib import Path

import click

from iebench.cli.options import examples
from iebench.leaderboard.board import DEFAULT_BOARD
from iebench.leaderboard.build import build as build_board
from iebench.leaderboard.build import check as check_board
from iebench.leaderboard.build import show as show_board
from iebench.leaderboard.submit import submit as submit_results

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
