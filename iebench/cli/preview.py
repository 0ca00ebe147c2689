"""`iebench preview`: a contact sheet of a tree (``iebench.data.preview``)."""

from __future__ import annotations

from pathlib import Path

import click

from iebench.core.io import check_output
from iebench.data.preview import contact_sheet, write_sheet


@click.command("preview")
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="PNG to write.")
@click.option("--objects", type=click.IntRange(min=1), default=6, show_default=True)
@click.option("--views", type=click.IntRange(min=1), default=8, show_default=True)
@click.option(
    "--cell",
    type=click.IntRange(min=16),
    default=128,
    show_default=True,
    help="Side of each view in the sheet, pixels.",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing --out file.")
def preview(data: Path, out: Path, objects: int, views: int, cell: int, overwrite: bool) -> None:
    """Write a contact sheet of DATA: objects x views, each view's factors under it."""
    check_output(out, "file", overwrite=overwrite)
    sheet = contact_sheet(data, objects, views, cell)
    write_sheet(sheet, out)
    click.echo(f"{out}: {sheet.width}x{sheet.height} contact sheet")
