"""`iebench demo`: the whole pipeline, small (``iebench.demo``); its options are DemoConfig's
fields."""

from __future__ import annotations

import click

from iebench.cli.options import config_options, config_values, examples
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
@config_options(DemoConfig)
def demo(**options) -> None:
    check_output(options["out"], "directory")
    config = DemoConfig(**config_values(DemoConfig, options))
    report = run_demo(config, say=click.echo)
    click.echo("")
    click.echo(report.table, nl=False)
    click.echo("")
    click.echo(f"page: {report.page}")
    click.echo(f"trade-off plot: {report.plot}")
    click.echo(f"results: {', '.join(str(p) for p in report.results.values())}")
    click.echo(f"demo finished in {report.seconds / 60:.1f} min")
