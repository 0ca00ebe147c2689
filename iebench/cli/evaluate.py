"""`iebench evaluate ENCODER.py --data DATA`: evaluate a submission, write its results."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from iebench.cli.options import default_of, examples
from iebench.core.errors import IebenchError
from iebench.core.io import check_output
from iebench.core.processes import end_torchrun_worker
from iebench.evaluation.config import PROTOCOLS, EvalConfig
from iebench.evaluation.output import holding_results
from iebench.evaluation.run import evaluate as run_evaluation
from iebench.protocol.layout import FEATURE_CACHE_NAME
from iebench.protocol.results import format_table, write_results
from iebench.protocol.tasks import TASKS


def _tasks(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    tasks = tuple(t.strip() for t in value.split(",") if t.strip())
    unknown = [t for t in tasks if t not in TASKS]
    if unknown or not tasks:
        raise IebenchError(
            f"--tasks: unknown {unknown or '(none)'}; choose from {', '.join(TASKS)}"
        )
    return tasks


@click.command(
    "evaluate",
    epilog=examples(
        "iebench evaluate runs/sie/submission.py --data data/3DIEBench --out sie.json",
        "iebench evaluate enc.py --data data/3DIEBench --protocol quick --tasks rotation",
        "iebench evaluate runs/vicreg/submission.py --data data/3DIEBench --seeds 3 --out v.json",
    ),
)
@click.argument("encoder", type=click.Path(path_type=Path))
@click.option("--data", required=True, type=click.Path(path_type=Path), help="Dataset root.")
@click.option(
    "--checkpoint",
    type=click.Path(path_type=Path),
    default=None,
    help="Weights passed to build_encoder (default: the file's METADATA.checkpoint).",
)
@click.option(
    "--protocol",
    type=click.Choice(list(PROTOCOLS)),
    default=default_of(EvalConfig, "protocol"),
    show_default=True,
    help="reference: the published probes (300 epochs); quick: 10 epochs, for smoke tests.",
)
@click.option(
    "--tasks",
    default=None,
    help=f"Comma-separated subset of {','.join(TASKS)} (default: all the encoder supports).",
)
@click.option(
    "--seeds",
    type=click.IntRange(min=1),
    default=default_of(EvalConfig, "seeds"),
    show_default=True,
    help="Train every probe with seeds 0..N-1; scores report mean, std and n.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=default_of(EvalConfig, "seed"),
    show_default=True,
    help="Seed of torch's, numpy's and random's global generators while the submission "
    "builds its encoder (recorded in the results).",
)
@click.option(
    "--allow-resolution-mismatch",
    is_flag=True,
    help="Evaluate although the encoder's resolution is not the tree's render resolution "
    "(images are resized; the results and the board say so).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("results.json"),
    show_default=True,
    help="Results file (written only when the whole run succeeds; never replaced silently).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing --out results file.")
@click.option(
    "--cache",
    type=click.Path(path_type=Path),
    default=None,
    help=f"Feature cache directory (default DATA/{FEATURE_CACHE_NAME}).",
)
@click.option(
    "--device",
    default=default_of(EvalConfig, "device"),
    show_default="cuda when present, else cpu",
    help="torch device.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=default_of(EvalConfig, "batch_size"),
    show_default=True,
    help="Images per batch when extracting features.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=default_of(EvalConfig, "workers"),
    show_default="cores - 1, at most 8",
    help="Image-loading processes.",
)
@click.option("--quiet", is_flag=True, help="No progress bars.")
def evaluate(
    encoder: Path,
    data: Path,
    checkpoint: Path | None,
    protocol: str,
    tasks: str | None,
    seeds: int,
    seed: int,
    allow_resolution_mismatch: bool,
    out: Path,
    overwrite: bool,
    cache: Path | None,
    device: str,
    batch_size: int,
    workers: int,
    quiet: bool,
) -> None:
    """Evaluate the encoder built by ENCODER.py on the dataset at DATA.

    Probes are trained on DATA's train split and scored on its val split; the table
    printed gives each score's reference level (docs/protocol.md)."""
    check_output(out, "file", overwrite=overwrite)
    if cache is not None:
        check_output(cache, "directory", "--cache")
    config = EvalConfig(
        data=data,
        checkpoint=checkpoint,
        protocol=protocol,
        tasks=_tasks(tasks),
        seeds=seeds,
        seed=seed,
        allow_resolution_mismatch=allow_resolution_mismatch,
        cache_dir=cache,
        device=device,
        batch_size=batch_size,
        workers=workers,
        progress=not quiet,
    )
    with holding_results(out):
        # Again under the lock: a run into --out that ended meanwhile has written it.
        check_output(out, "file", overwrite=overwrite)
        results = run_evaluation(encoder, config, command=sys.argv)
        if results is not None:  # None: a torchrun process other than 0, which extracted a share
            write_results(results, out)
            click.echo(format_table(results))
            click.echo(f"results written to {out}")
    end_torchrun_worker()
