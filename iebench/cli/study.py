"""`iebench study transformations`: the E-SSL transformation study (iebench.studies)."""

from __future__ import annotations

from pathlib import Path

import click

from iebench.cli.options import default_of, examples
from iebench.core.io import check_output
from iebench.models.backbones import BACKBONES
from iebench.studies.transformations import OPTIMIZERS, StudyConfig, format_table, run_study


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
@click.option("--data", type=click.Path(path_type=Path), help="A 3DIEBench tree (train -> val).")
@click.option(
    "--cifar",
    type=click.Path(path_type=Path),
    help="A CIFAR-10/100 python-format .tar.gz or extracted folder (never downloaded).",
)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Output folder.")
@click.option(
    "--transformations",
    default=",".join(default_of(StudyConfig, "transformations")),
    show_default=True,
    help="Comma-separated transformations to predict.",
)
@click.option(
    "--resolution",
    type=int,
    default=default_of(StudyConfig, "resolution"),
    show_default=True,
    help="Tree image size.",
)
@click.option(
    "--backbone",
    type=click.Choice(list(BACKBONES)),
    default=None,
    help="Backbone [default: resnet18-cifar at 64 px and below, else resnet18].",
)
@click.option(
    "--width",
    type=int,
    default=default_of(StudyConfig, "width"),
    show_default=True,
    help="First-stage width.",
)
@click.option(
    "--steps",
    type=int,
    default=default_of(StudyConfig, "steps"),
    show_default=True,
    help="Steps per encoder.",
)
@click.option(
    "--batch-size",
    type=int,
    default=default_of(StudyConfig, "batch_size"),
    show_default=True,
    help="Pretraining batch.",
)
@click.option(
    "--optimizer",
    type=click.Choice(OPTIMIZERS),
    default=default_of(StudyConfig, "optimizer"),
    show_default=True,
    help="Pretraining optimizer.",
)
@click.option(
    "--lr",
    type=float,
    default=None,
    help="Pretraining learning rate [default: sgd 0.6 x batch/512, adam 1e-3].",
)
@click.option(
    "--probe-epochs",
    type=int,
    default=default_of(StudyConfig, "probe_epochs"),
    show_default=True,
    help="Linear-probe epochs.",
)
@click.option("--max-train-images", type=int, default=None, help="Random subset of train images.")
@click.option("--max-test-images", type=int, default=None, help="Random subset of test images.")
@click.option(
    "--seed",
    type=int,
    default=default_of(StudyConfig, "seed"),
    show_default=True,
    help="Seed of weights, data and probes.",
)
@click.option("--device", default=None, help="torch device [default: cuda if available, else cpu]")
@click.option(
    "--workers",
    type=int,
    default=default_of(StudyConfig, "workers"),
    show_default=True,
    help="Image loading workers.",
)
@click.option("--quiet", is_flag=True, help="No progress bars.")
def transformations(data, cifar, out, transformations, device, quiet, **options) -> None:
    """Pretrain one encoder per predicted transformation (equal budgets), linear-probe each
    and a random-init encoder; write study.csv and study.png to OUT and print the table."""
    check_output(out, "directory")
    names = tuple(name.strip() for name in transformations.split(",") if name.strip())
    extra = {"device": device} if device else {}
    config = StudyConfig(
        out=out,
        data=data,
        cifar=cifar,
        transformations=names,
        progress=not quiet,
        **options,
        **extra,
    )
    rows = run_study(config, log=click.echo)
    click.echo(format_table(rows))
    click.echo(f"wrote {out / 'study.csv'} and {out / 'study.png'}")
