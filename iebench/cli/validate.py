"""`iebench validate`: check a tree (``iebench.data.validate``)."""

from __future__ import annotations

from pathlib import Path

import click

from iebench.cli.options import examples
from iebench.data import splits
from iebench.data.validate import validate_tree
from iebench.protocol.layout import SPLITS, split_files


@click.command(
    "validate",
    epilog=examples(
        "iebench validate data/3DIEBench",
        "iebench validate /datasets/3DIEBench --sample 500 --workers 8",
        "iebench validate /datasets/3DIEBench-T --assemble-latents",
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
@click.option(
    "--assemble-latents",
    is_flag=True,
    help="First write each split's missing all_latents_<split>.npy from the views' latent "
    "files (3DIEBench-T and 3DIEBench-OOD ship only those); an existing one is kept.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def validate(
    data: Path, sample: int | None, seed: int, workers: int, assemble_latents: bool, quiet: bool
) -> None:
    """Check a 3DIEBench tree for completeness and consistency; exit 1 on any problem."""
    if assemble_latents:
        _assemble_missing_latents(data)
    report = validate_tree(data, sample=sample, workers=workers, seed=seed, progress=not quiet)
    for problem in report.problems:
        click.echo(problem)
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(report.summary())
    if not report.ok:
        raise click.exceptions.Exit(1)


def _assemble_missing_latents(data: Path) -> None:
    for split in SPLITS:
        files = split_files(data, split)
        if files.images.is_file() and not files.latents.is_file():
            click.echo(f"wrote {splits.assemble_latents(data, split)}", err=True)
