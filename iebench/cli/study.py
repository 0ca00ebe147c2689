"""`iebench study transformations`: the E-SSL transformation study (iebench.studies); its
options are StudyConfig's fields."""

from __future__ import annotations

import click

from iebench.cli.options import config_options, config_values, examples
from iebench.core.io import check_output
from iebench.studies.transformations import StudyConfig, format_table, run_study

# The order --help lists them in: the data, where the outputs go, then the study's settings.
OPTION_ORDER = (
    "data", "cifar", "out", "transformations", "resolution", "backbone", "width", "steps",
    "batch_size", "optimizer", "lr", "probe_epochs", "max_train_images", "max_test_images",
    "seed", "device", "workers", "progress",
)  # fmt: skip


@click.group(
    epilog=examples("iebench study transformations --data data/3DIEBench --out study"),
)
def study() -> None:
    """Studies that train several encoders and compare them."""


@study.command(
    "transformations",
    epilog=examples(
        "iebench study transformations --data data/3DIEBench --out study",
        "iebench study transformations --cifar cifar-10-python.tar.gz --out study --steps 200",
    ),
)
@config_options(StudyConfig, *OPTION_ORDER)
def transformations(**options) -> None:
    """Pretrain one encoder per predicted transformation (equal budgets), linear-probe each
    and a random-init encoder; write study.csv and study.png to OUT and print the table."""
    out = options["out"]
    check_output(out, "directory")
    rows = run_study(StudyConfig(**config_values(StudyConfig, options)), log=click.echo)
    click.echo(format_table(rows))
    click.echo(f"wrote {out / 'study.csv'} and {out / 'study.png'}")
