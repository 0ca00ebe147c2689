"""`iebench validate`: check a tree (``iebench.data.validate``)."""

from __future__ import annotations

from pathlib import Path

import click

from iebench.cli.options import examples
from iebench.data.validate import validate_tree


@click.command(
    "validate",
    epilog=examples(
        "iebench validate data/3DIEBench",
        "iebench validate /datasets/3DIEBench --sample 500 --workers 8",
    ),
)
@click.argument("data", type=click.Path(path_type=Path))
@click.option(
    "--sample",
    type=click.IntRange(min=1),
    default=None,
    help="Decode only this many random objects per split (all views are still checked on "
    "disk). For the 2.6 M-image published tree, e.g. --sample 500.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seed of the --sample draw.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Decoding processes.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def validate(data: Path, sample: int | None, seed: int, workers: int, quiet: bool) -> None:
    """Check a 3DIEBench tree for completeness and consistency; exit 1 on any problem."""
    report = validate_tree(data, sample=sample, workers=workers, seed=seed, progress=not quiet)
    for problem in report.problems:
        click.echo(problem)
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(report.summary())
    if not report.ok:
        raise click.exceptions.Exit(1)
