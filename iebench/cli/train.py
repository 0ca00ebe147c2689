"""`iebench train METHOD --data DATA --out RUN [overrides]` (also under torchrun for DDP)."""

from __future__ import annotations

from pathlib import Path

import click
from click.core import ParameterSource

from iebench.cli.options import config_fields, default_of, examples
from iebench.core.errors import IebenchError
from iebench.core.io import check_output
from iebench.methods import CONDITIONINGS, METHODS
from iebench.methods.pretext import TRANSFORMS
from iebench.models.backbones import BACKBONES
from iebench.training.config import COVARIANCE_DIVISORS, LAST_BATCHES, PRECISIONS, TrainConfig


def _sizes(text: str | None, option: str) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        return tuple(int(part) for part in text.replace(",", "-").split("-"))
    except ValueError:
        raise IebenchError(f"{option} {text!r}: expected sizes like 2048-2048-2048") from None


# Command-line options -> the TrainConfig field each sets, where the names differ.
_FIELDS = {"transform": "options", "chunk_size": "options", "quiet": "progress"}


def _given_fields(context: click.Context) -> set[str]:
    """The config fields set explicitly on the command line (a resume takes the others from
    the run's stored config)."""
    return {
        _FIELDS.get(name, name)
        for name in context.params
        if context.get_parameter_source(name) is not ParameterSource.DEFAULT
    } - {"resume"}


def _weights(pairs: tuple[str, ...]) -> dict[str, float]:
    weights = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            raise IebenchError(f"--weight {pair!r}: expected NAME=VALUE, e.g. cov=1.0") from None
    return weights


def _default(name: str):
    return default_of(TrainConfig, name)


HELP = "\n".join(
    [
        "Train METHOD (SIE or a baseline of its paper) on DATA's train split into OUT.",
        "",
        "Defaults are the paper's (docs/protocol.md): Adam, lr 1e-3, global batch 1024, "
        "2000 epochs, 256 px, ResNet-18. For DDP: torchrun --nproc-per-node N -m iebench "
        "train ... (the global batch is split over the processes).",
        "",
        "\b",
        "METHOD is one of:",
        *(f"  {name:<19} {info.description}" for name, info in METHODS.items()),
    ]
)


@click.command(
    "train",
    help=HELP,
    epilog=examples(
        "iebench train sie --data data/3DIEBench --out runs/sie",
        "iebench train vicreg --data data/3DIEBench --out runs/vicreg --epochs 100 --workers 2",
        "iebench train predict-transform --data data/3DIEBench --out runs/rot4 --transform rot4",
    ),
)
@click.argument("method", type=click.Choice(list(METHODS)), metavar="METHOD")
@click.option("--data", required=True, type=click.Path(path_type=Path), help="Dataset root.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Run directory.")
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the run in --out from its checkpoint, with its stored settings "
    "(options given again may change only --epochs and how it runs).",
)
@click.option(
    "--epochs", type=int, default=_default("epochs"), show_default=True, help="Training epochs."
)
@click.option(
    "--batch-size",
    type=int,
    default=_default("batch_size"),
    show_default=True,
    help="Global batch (split evenly across torchrun processes).",
)
@click.option(
    "--lr", type=float, default=_default("lr"), show_default=True, help="Adam learning rate."
)
@click.option(
    "--weight-decay",
    type=float,
    default=_default("weight_decay"),
    show_default=True,
    help="Adam weight decay.",
)
@click.option(
    "--resolution",
    type=int,
    default=_default("resolution"),
    show_default=True,
    help="Input image side in pixels (a multiple of 32).",
)
@click.option(
    "--width",
    type=int,
    default=_default("width"),
    show_default=True,
    help="ResNet width: the representation has 8 x width dims (64: ResNet-18, 512-d).",
)
@click.option(
    "--layers",
    default="-".join(map(str, _default("layers"))),
    show_default=True,
    help="Residual blocks per stage.",
)
@click.option(
    "--backbone",
    type=click.Choice(list(BACKBONES)),
    default=_default("backbone"),
    show_default=True,
    help="Backbone architecture.",
)
@click.option(
    "--projector",
    default=None,
    help="Projector layer sizes, e.g. 2048-2048-2048 [default: 4x the output, 3 layers].",
)
@click.option(
    "--equivariant-dims",
    type=int,
    default=None,
    help="SIE-like methods: dims of the equivariant part [default: the method's].",
)
@click.option(
    "--conditioning",
    type=click.Choice(list(CONDITIONINGS)),
    default=None,
    help="What the predictor is given [default: the method's].",
)
@click.option("--weight", "weights", multiple=True, help="Loss weight NAME=VALUE (repeatable).")
@click.option(
    "--transform",
    type=click.Choice(list(TRANSFORMS)),
    default=None,
    help="predict-transform, care: the transformation [default: rot4].",
)
@click.option("--chunk-size", type=int, default=None, help="care: rows sharing a transformation.")
@click.option(
    "--temperature",
    type=float,
    default=_default("temperature"),
    show_default=True,
    help="InfoNCE temperature (SimCLR, EquiMod, SEN).",
)
@click.option(
    "--seed",
    type=int,
    default=_default("seed"),
    show_default=True,
    help="Seed of the weights, the views and the batch order.",
)
@click.option(
    "--workers",
    type=int,
    default=_default("workers"),
    show_default="4, fewer on fewer cores",
    help="Image-loading processes.",
)
@click.option(
    "--device",
    default=_default("device"),
    show_default=True,
    help="auto (CUDA when present), cpu or cuda[:N].",
)
@click.option(
    "--precision",
    type=click.Choice(PRECISIONS),
    default=_default("precision"),
    show_default=True,
    help="auto: bf16 autocast on CUDA, fp32 on CPU; fp16 (+ GradScaler) as the official loop.",
)
@click.option(
    "--last-batch",
    type=click.Choice(LAST_BATCHES),
    default=_default("last_batch"),
    show_default=True,
    help="Train on each epoch's partial last batch (as the official loop) or drop it.",
)
@click.option(
    "--covariance-divisor",
    type=click.Choice(COVARIANCE_DIVISORS),
    default=_default("covariance_divisor"),
    show_default=True,
    help="VICReg/SIE covariance over the rows present - 1, or (official) --batch-size - 1.",
)
@click.option("--channels-last", is_flag=True, help="GPU: channels-last memory format.")
@click.option("--compile", is_flag=True, help="torch.compile the model.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train_command(
    method: str,
    data: Path,
    out: Path,
    resume: bool,
    weights: tuple[str, ...],
    transform: str | None,
    chunk_size: int | None,
    quiet: bool,
    **options,
) -> None:
    from iebench.core.processes import end_torchrun_worker
    from iebench.training.loop import train

    check_output(out, "directory")
    method_options = {"transform": transform, "chunk_size": chunk_size}
    config = TrainConfig(
        method=method,
        data=str(data),
        out=str(out),
        weights=_weights(weights),
        options={name: value for name, value in method_options.items() if value is not None},
        progress=not quiet,
        **config_fields(
            TrainConfig,
            options,
            convert={
                "layers": lambda text: _sizes(text, "--layers"),
                "projector": lambda text: _sizes(text, "--projector"),
            },
        ),
    )
    result = train(config, resume=resume, given=_given_fields(click.get_current_context()))
    if result.main and result.history:
        last = result.history[-1]
        click.echo(f"{result.run}: {last['epoch']} epochs, final loss {last['loss']:.4f}")
    end_torchrun_worker()
