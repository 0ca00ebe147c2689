"""`iebench demo`: the whole pipeline, small (``iebench.demo``)."""

from __future__ import annotations

from pathlib import Path

import click

from iebench.core.io import check_output
from iebench.demo import DemoConfig, run_demo


@click.command("demo")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("demo"),
    show_default=True,
)
@click.option("--per-class", type=int, default=DemoConfig.per_class, show_default=True)
@click.option("--views", type=int, default=DemoConfig.views, show_default=True)
@click.option("--epochs", type=int, default=DemoConfig.epochs, show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bars.")
def demo(out: Path, per_class: int, views: int, epochs: int, quiet: bool) -> None:
    """Render, train SIE and VICReg, evaluate and publish, on the built-in objects."""
    check_output(out, "directory")
    config = DemoConfig(
        out=out, per_class=per_class, views=views, epochs=epochs, progress=not quiet
    )
    report = run_demo(config, say=click.echo)
    click.echo("")
    click.echo(report.table, nl=False)
    click.echo("")
    click.echo(f"page: {report.page}")
    click.echo(f"trade-off plot: {report.plot}")
    click.echo(f"results: {', '.join(str(p) for p in report.results.values())}")
    click.echo(f"demo finished in {report.seconds / 60:.1f} min")
