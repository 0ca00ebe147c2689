"""`iebench train METHOD --data DATA --out RUN [overrides]` (also under torchrun for DDP)."""

from __future__ import annotations

import click
from click.core import ParameterSource

from iebench.cli.options import config_options, config_values, examples
from iebench.core.io import check_output
from iebench.methods import METHODS
from iebench.methods.pretext import TRANSFORMS
from iebench.training.config import TrainConfig

# Command-line options -> the TrainConfig field each sets, where they are no field of their own.
_FIELDS = {"transform": "options", "chunk_size": "options"}


def _given_fields(context: click.Context) -> set[str]:
    """The config fields set explicitly on the command line (a resume takes the others from
    the run's stored config)."""
    return {
        _FIELDS.get(name, name)
        for name in context.params
        if context.get_parameter_source(name) is not ParameterSource.DEFAULT
    } - {"resume"}


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
@config_options(
    TrainConfig,
    after={
        "out": [
            click.option(
                "--resume",
                is_flag=True,
                help="Continue the run in --out from its checkpoint, with its stored settings "
                "(options given again may change only --epochs and how it runs).",
            )
        ],
        # Method settings, stored in TrainConfig.options.
        "weights": [
            click.option(
                "--transform",
                type=click.Choice(list(TRANSFORMS)),
                default=None,
                help="predict-transform, care: the transformation [default: rot4].",
            ),
            click.option(
                "--chunk-size", type=int, default=None, help="care: rows sharing a transformation."
            ),
        ],
    },
)
def train_command(
    method: str,
    resume: bool,
    transform: str | None,
    chunk_size: int | None,
    **options,
) -> None:
    from iebench.core.processes import end_torchrun_worker
    from iebench.training.loop import train

    check_output(options["out"], "directory")
    method_options = {"transform": transform, "chunk_size": chunk_size}
    config = TrainConfig(
        method=method,
        options={name: value for name, value in method_options.items() if value is not None},
        **config_values(TrainConfig, options),
    )
    result = train(config, resume=resume, given=_given_fields(click.get_current_context()))
    if result.main and result.history:
        last = result.history[-1]
        click.echo(f"{result.run}: {last['epoch']} epochs, final loss {last['loss']:.4f}")
    end_torchrun_worker()
