"""`iebench render`: a thin layer over `render_objects`."""

from __future__ import annotations

from pathlib import Path

import click

from iebench.core.io import check_output
from iebench.rendering.config import RenderConfig
from iebench.rendering.presets import PRESETS
from iebench.rendering.run import render_objects

FACTOR_SPECS = ("published", "translated", "ood-rotation")  # FactorSpec.named's names


@click.command("render")
@click.option(
    "--objects",
    type=click.Path(path_type=Path),
    help="ShapeNetCore tree (<synset>/<id>/models/model_normalized.obj); "
    "default: the built-in object set.",
)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Dataset root.")
@click.option("--synsets", help="Comma-separated synset ids or category names.")
@click.option("--limit", type=int, help="Render at most this many objects.")
@click.option("--per-class", type=int, help="At most this many objects per category.")
@click.option(
    "--objects-list", type=click.Path(path_type=Path), help="File of synset/id lines to render."
)
@click.option("--views", type=int, default=50, show_default=True, help="Views per object.")
@click.option("--seed", type=int, default=0, show_default=True, help="Dataset seed.")
@click.option("--factors", type=click.Choice(FACTOR_SPECS), default="published", show_default=True)
@click.option("--preset", type=click.Choice(sorted(PRESETS)), default="default", show_default=True)
@click.option("--resolution", type=int, help="Image size in pixels (overrides the preset).")
@click.option("--samples", type=int, help="Cycles samples (overrides the preset).")
@click.option("--engine", help="Render engine (overrides the preset; cycles).")
@click.option("--device", type=click.Choice(["cpu", "gpu"]), default="cpu", show_default=True)
@click.option("--workers", type=int, default=1, show_default=True, help="Blender processes.")
@click.option("--threads", type=int, default=0, help="Threads per worker (0: cores / workers).")
@click.option("--shard", help="Render only shard K of N (K/N, K from 0), e.g. for job arrays.")
@click.option(
    "--ray",
    is_flag=False,
    flag_value="local",
    metavar="[ADDRESS]",
    help="Render on --workers Ray actors (extra `distributed`): on the cluster at ADDRESS "
    "(e.g. auto, head:6379), or alone: on a local Ray instance.",
)
@click.option(
    "--split-from",
    type=click.Path(path_type=Path),
    help="Directory with official split files to reuse (default: seeded 80/20 per class).",
)
@click.option(
    "--timeout",
    type=float,
    default=600.0,
    show_default=True,
    help="Seconds an object may go without progress before its worker is killed.",
)
@click.option(
    "--recycle-after", type=int, default=100, show_default=True, help="Objects per worker process."
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def render(quiet: bool, **options) -> None:
    """Render 3DIEBench views of ShapeNetCore objects with Blender (resumable)."""
    check_output(options["out"], "directory")
    config = RenderConfig(progress=not quiet, **options)
    report = render_objects(config, log=lambda message: click.echo(message, err=True))
    click.echo(report.summary())
    if not report.ok:
        raise SystemExit(1)
