"""`iebench pack`: decode a tree once into memory-mapped arrays (``iebench.data.pack``)."""

from __future__ import annotations

from pathlib import Path

import click

from iebench.cli.options import config_options, config_values, examples
from iebench.data.pack import PackConfig, pack_tree


@click.command(
    "pack",
    epilog=examples(
        "iebench pack data/3DIEBench",
        "iebench pack data/3DIEBench --resolution 128 --split train --workers 8",
    ),
)
@click.argument("data", type=click.Path(path_type=Path))
@config_options(PackConfig)
def pack(data: Path, **options) -> None:
    """Decode every view of DATA once into a memory-mapped uint8 array per split."""
    pack_tree(PackConfig(data=data, **config_values(PackConfig, options)), log=click.echo)
