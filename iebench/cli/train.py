"""`iebench train METHOD --data DATA --out RUN [overrides]` (also under torchrun for DDP)."""

from __future__ import annotations

from pathlib import Path

import click
from click.core import ParameterSource

from iebench.core.errors import IebenchError
from iebench.core.io import check_output
from iebench.methods import CONDITIONINGS, METHODS
from iebench.methods.pretext import TRANSFORMS
from iebench.models.backbones import BACKBONES
from iebench.training.config import PRECISIONS, TrainConfig


def _sizes(text: str | None, option: str) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        return tuple(int(part) for part in text.replace(",", "-").split("-"))
    except ValueError:
        raise IebenchError(f"{option} {text!r}: expected sizes like 2048-2048-2048") from None


# Command-line options -> the TrainConfig field each sets, where the names differ.
_FIELDS = {
    "transform": "options",
    "chunk_size": "options",
    "compile_": "compile",
    "quiet": "progress",
}


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


@click.command("train")
@click.argument("method", type=click.Choice(list(METHODS)))
@click.option("--data", required=True, type=click.Path(path_type=Path), help="Dataset root.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Run directory.")
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the run in --out from its checkpoint, with its stored settings "
    "(options given again may change only --epochs and how it runs).",
)
@click.option("--epochs", type=int, default=2000, show_default=True)
@click.option("--batch-size", type=int, default=1024, show_default=True, help="Global batch.")
@click.option("--lr", type=float, default=1e-3, show_default=True)
@click.option("--weight-decay", type=float, default=1e-6, show_default=True)
@click.option("--resolution", type=int, default=256, show_default=True)
@click.option("--width", type=int, default=64, show_default=True, help="ResNet width (64: R18).")
@click.option("--layers", default="2-2-2-2", show_default=True, help="Blocks per stage.")
@click.option(
    "--backbone", type=click.Choice(list(BACKBONES)), default="resnet18", show_default=True
)
@click.option("--projector", default=None, help="Projector sizes [default: 4x output, 3 layers].")
@click.option("--equivariant-dims", type=int, default=None, help="SIE: equivariant dims.")
@click.option("--conditioning", type=click.Choice(list(CONDITIONINGS)), default=None)
@click.option("--weight", "weights", multiple=True, help="Loss weight NAME=VALUE (repeatable).")
@click.option(
    "--transform",
    type=click.Choice(list(TRANSFORMS)),
    default=None,
    help="predict-transform, care: the transformation [default: rot4].",
)
@click.option("--chunk-size", type=int, default=None, help="care: rows sharing a transformation.")
@click.option("--temperature", type=float, default=0.1, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--workers", type=int, default=4, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--precision", type=click.Choice(PRECISIONS), default="auto", show_default=True)
@click.option("--channels-last", is_flag=True, help="GPU: channels-last memory format.")
@click.option("--compile", "compile_", is_flag=True, help="torch.compile the model.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train_command(method: str, data: Path, out: Path, resume: bool, **options) -> None:
    """Train METHOD (SIE or a baseline of its paper) on DATA's train split into OUT.

    Defaults are the paper's. For DDP: torchrun --nproc-per-node N -m iebench train ...
    """
    from iebench.core.processes import end_torchrun_worker
    from iebench.training.loop import train

    check_output(out, "directory")
    config = TrainConfig(
        method=method,
        data=str(data),
        out=str(out),
        epochs=options["epochs"],
        batch_size=options["batch_size"],
        lr=options["lr"],
        weight_decay=options["weight_decay"],
        resolution=options["resolution"],
        width=options["width"],
        layers=_sizes(options["layers"], "--layers"),
        backbone=options["backbone"],
        projector=_sizes(options["projector"], "--projector"),
        equivariant_dims=options["equivariant_dims"],
        conditioning=options["conditioning"],
        weights=_weights(options["weights"]),
        options={
            name: options[name] for name in ("transform", "chunk_size") if options[name] is not None
        },
        temperature=options["temperature"],
        seed=options["seed"],
        workers=options["workers"],
        device=options["device"],
        precision=options["precision"],
        channels_last=options["channels_last"],
        compile=options["compile_"],
        progress=not options["quiet"],
    )
    result = train(config, resume=resume, given=_given_fields(click.get_current_context()))
    if result.main and result.history:
        last = result.history[-1]
        click.echo(f"{result.run}: {last['epoch']} epochs, final loss {last['loss']:.4f}")
    end_torchrun_worker()
