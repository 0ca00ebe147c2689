"""`iebench preview`: a contact sheet of a tree (``iebench.data.preview``)."""

from __future__ import annotations

from pathlib import Path

import click

from iebench.cli.options import examples
from iebench.core.io import check_output
from iebench.data.preview import contact_sheet, write_sheet


@click.command(
    "preview",
    epilog=examples(
        "iebench preview data/3DIEBench --out sheet.png",
        "iebench preview data/3DIEBench --out sheet.png --count 12 --views 4 --cell 96",
    ),
)
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="PNG to write.")
@click.option(
    "--count",
    type=click.IntRange(min=1),
    default=6,
    show_default=True,
    help="Objects shown (rows), taken round-robin over the categories.",
)
@click.option(
    "--views",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Views shown per object (columns): views 0..N-1.",
)
@click.option(
    "--cell",
    type=click.IntRange(min=16),
    default=128,
    show_default=True,
    help="Side of each view in the sheet, pixels.",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing --out file.")
def preview(data: Path, out: Path, count: int, views: int, cell: int, overwrite: bool) -> None:
    """Write a contact sheet of DATA: objects x views, each view's factors under it.

    A view absent from disk is drawn grey (missing); one present but undecodable is drawn
    red (corrupt), and then the command exits 1 after writing the sheet."""
    check_output(out, "file", overwrite=overwrite)
    sheet = contact_sheet(data, count, views, cell)
    write_sheet(sheet.image, out)
    click.echo(f"{out}: {sheet.image.width}x{sheet.image.height} contact sheet")
    if sheet.corrupt:  # drawn, and the sheet written, but the tree needs fixing
        for problem in sheet.corrupt:
            click.echo(f"corrupt: {problem}", err=True)
        raise click.ClickException(
            f"{len(sheet.corrupt)} corrupt file(s) in {data}; run `iebench validate {data}`"
        )
