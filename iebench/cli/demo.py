"""`iebench demo`: the whole pipeline, small (``iebench.demo``)."""

from __future__ import annotations

from pathlib import Path

import click

from iebench.cli.options import examples
from iebench.core.io import check_output
from iebench.demo import DEMO_MINUTES, DemoConfig, run_demo


@click.command(
    "demo",
    help=(
        "Render a pilot of 3DIEBench-mini, train SIE, VICReg and predict-rotation3d, evaluate "
        "them and the untrained backbone, and publish them on a demo board.\n\n"
        f"The whole pipeline, small: about {DEMO_MINUTES} minutes on 2 CPU cores, set-up "
        "included. The table printed gives each score's reference level (chance, constant "
        "predictor)."
    ),
    epilog=examples(
        "iebench demo",
        "iebench demo --out /tmp/demo --per-class 2 --views 6 --epochs 5 --quiet",
    ),
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=DemoConfig.out,
    show_default=True,
    help="Folder of everything the demo writes (a second run resumes it).",
)
@click.option(
    "--per-class",
    type=int,
    default=DemoConfig.per_class,
    show_default=True,
    help="Built-in objects per category (the mini track's 4).",
)
@click.option(
    "--views",
    type=int,
    default=DemoConfig.views,
    show_default=True,
    help="Views rendered per object (preview preset).",
)
@click.option(
    "--epochs",
    type=int,
    default=DemoConfig.epochs,
    show_default=True,
    help="Training epochs of each method.",
)
@click.option(
    "--jobs",
    type=int,
    default=DemoConfig.jobs,
    show_default=True,
    help="Runs trained at a time, each in its own process.",
)
@click.option("--quiet", is_flag=True, help="No progress bars.")
def demo(out: Path, per_class: int, views: int, epochs: int, jobs: int, quiet: bool) -> None:
    check_output(out, "directory")
    config = DemoConfig(
        out=out, per_class=per_class, views=views, epochs=epochs, jobs=jobs, progress=not quiet
    )
    report = run_demo(config, say=click.echo)
    click.echo("")
    click.echo(report.table, nl=False)
    click.echo("")
    click.echo(f"page: {report.page}")
    click.echo(f"trade-off plot: {report.plot}")
    click.echo(f"results: {', '.join(str(p) for p in report.results.values())}")
    click.echo(f"demo finished in {report.seconds / 60:.1f} min")
