"""`iebench pack`: decode a tree once into memory-mapped arrays (``iebench.data.pack``)."""

from __future__ import annotations

from pathlib import Path

import click

from iebench.cli.options import examples
from iebench.core.errors import IebenchError
from iebench.core.io import check_output
from iebench.data.pack import PACK_DIR, pack_split
from iebench.data.preprocess import DEFAULT_RESOLUTION
from iebench.data.tree import TreeIndex, require_objects
from iebench.protocol.layout import SPLITS, split_files


@click.command(
    "pack",
    epilog=examples(
        "iebench pack data/3DIEBench",
        "iebench pack data/3DIEBench --resolution 128 --split train --workers 8",
    ),
)
@click.argument("data", type=click.Path(path_type=Path))
@click.option(
    "--resolution",
    type=click.IntRange(min=1),
    default=DEFAULT_RESOLUTION,
    show_default=True,
    help="Shorter image side in the pack.",
)
@click.option(
    "--split",
    "splits",
    type=click.Choice(SPLITS),
    multiple=True,
    help="Split(s) to pack (default: every split present).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Pack directory (default DATA/packed, where datasets look).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Decoding processes.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def pack(
    data: Path,
    resolution: int,
    splits: tuple[str, ...],
    out: Path | None,
    workers: int,
    quiet: bool,
) -> None:
    """Decode every view of DATA once into a memory-mapped uint8 array per split."""
    if not data.is_dir():
        raise IebenchError(f"{data}: dataset root is not a directory")
    check_output(out if out is not None else data / PACK_DIR, "directory")
    splits = splits or tuple(s for s in SPLITS if split_files(data, s).images.is_file())
    if not splits:
        raise IebenchError(f"{data}: no split files (train_images.npy, val_images.npy)")
    # Every split is checked before the first is packed.
    indices = [require_objects(TreeIndex.load(data, split)) for split in splits]
    for split, index in zip(splits, indices, strict=True):
        path = pack_split(index, resolution, out, workers, progress=not quiet)
        size = path.stat().st_size / 2**30
        click.echo(
            f"{split}: {index.num_objects} objects x {index.views} views -> {path} ({size:.2f} GiB)"
        )
