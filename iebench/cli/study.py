"""`iebench study transformations`: the E-SSL transformation study (iebench.studies)."""

from __future__ import annotations

from pathlib import Path

import click

from iebench.methods.pretext import TRANSFORMS
from iebench.models.backbones import BACKBONES
from iebench.studies.transformations import OPTIMIZERS, StudyConfig, format_table, run_study


@click.group()
def study() -> None:
    """Studies that train several encoders and compare them."""


@study.command("transformations")
@click.option("--data", type=click.Path(path_type=Path), help="A 3DIEBench tree (train -> val).")
@click.option(
    "--cifar",
    type=click.Path(path_type=Path),
    help="A CIFAR-10/100 python-format .tar.gz or extracted folder (never downloaded).",
)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Output folder.")
@click.option(
    "--transformations",
    default=",".join(TRANSFORMS),
    show_default=True,
    help="Comma-separated transformations to predict.",
)
@click.option("--resolution", type=int, default=64, show_default=True, help="Tree image size.")
@click.option(
    "--backbone",
    type=click.Choice(list(BACKBONES)),
    default=None,
    help="[default: resnet18-cifar at 64 px and below, else resnet18]",
)
@click.option("--width", type=int, default=64, show_default=True, help="First-stage width.")
@click.option("--steps", type=int, default=1000, show_default=True, help="Steps per encoder.")
@click.option("--batch-size", type=int, default=128, show_default=True)
@click.option("--optimizer", type=click.Choice(OPTIMIZERS), default="sgd", show_default=True)
@click.option("--lr", type=float, default=None, help="[default: sgd 0.6 x batch/512, adam 1e-3]")
@click.option("--probe-epochs", type=int, default=100, show_default=True)
@click.option("--max-train-images", type=int, default=None, help="Random subset of train images.")
@click.option("--max-test-images", type=int, default=None, help="Random subset of test images.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default=None, help="[default: cuda if available, else cpu]")
@click.option("--workers", type=int, default=0, show_default=True, help="Image loading workers.")
def transformations(data, cifar, out, transformations, device, **options) -> None:
    """Pretrain one encoder per predicted transformation (equal budgets), linear-probe each
    and a random-init encoder; write study.csv and study.png to OUT and print the table."""
    names = tuple(name.strip() for name in transformations.split(",") if name.strip())
    extra = {"device": device} if device else {}
    config = StudyConfig(out=out, data=data, cifar=cifar, transformations=names, **options, **extra)
    rows = run_study(config, log=click.echo)
    click.echo(format_table(rows))
    click.echo(f"wrote {out / 'study.csv'} and {out / 'study.png'}")
