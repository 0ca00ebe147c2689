"""`iebench render`: a thin layer over `render_objects`; its options are RenderConfig's fields."""

from __future__ import annotations

import click

from iebench.cli.options import config_options, config_values, examples
from iebench.core.io import check_output
from iebench.rendering.config import RenderConfig
from iebench.rendering.run import render_objects

# The order --help lists them in: what to render, how, where, then the run's mechanics.
OPTION_ORDER = (
    "objects", "out", "synsets", "limit", "per_class", "objects_list", "views", "seed",
    "factors", "scene", "preset", "resolution", "samples", "engine", "device", "workers",
    "threads", "shard", "ray", "split_from", "val_fraction", "timeout", "recycle_after",
    "progress",
)  # fmt: skip


@click.command(
    "render",
    epilog=examples(
        "iebench render --out data/3DIEBench --views 12 --preset preview",
        "iebench render --objects ShapeNetCore.v2 --out data/3DIEBench --workers 8",
        "iebench render --objects ShapeNetCore.v2 --out data/3DIEBench --shard 0/4",
    ),
)
@config_options(RenderConfig, *OPTION_ORDER)
def render(**options) -> None:
    """Render 3DIEBench views of ShapeNetCore objects with Blender (resumable)."""
    check_output(options["out"], "directory")
    config = RenderConfig(**config_values(RenderConfig, options))
    report = render_objects(config, log=lambda message: click.echo(message, err=True))
    click.echo(report.summary())
    if not report.ok:
        raise SystemExit(1)
