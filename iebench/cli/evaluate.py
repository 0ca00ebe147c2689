"""`iebench evaluate ENCODER.py --data DATA`: evaluate a submission, write its results."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from iebench.cli.options import config_options, config_values, examples
from iebench.core.errors import IebenchError
from iebench.core.io import check_output
from iebench.core.processes import end_torchrun_worker
from iebench.evaluation.config import EvalConfig
from iebench.evaluation.output import holding_results
from iebench.evaluation.run import evaluate as run_evaluation
from iebench.protocol.results import format_table, write_results
from iebench.protocol.tasks import TASKS

# The order --help lists them in; --tasks, --out and --overwrite are the command's own.
OPTION_ORDER = (
    "data", "checkpoint", "protocol", "seeds", "seed", "allow_resolution_mismatch", "cache_dir",
    "device", "batch_size", "workers", "progress",
)  # fmt: skip


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
@config_options(
    EvalConfig,
    *OPTION_ORDER,
    after={
        "protocol": [
            click.option(
                "--tasks",
                default=None,
                help=f"Comma-separated subset of {','.join(TASKS)} (default: all the encoder "
                "supports).",
            )
        ],
        "allow_resolution_mismatch": [
            click.option(
                "--out",
                type=click.Path(path_type=Path),
                default=Path("results.json"),
                show_default=True,
                help="Results file (written only when the whole run succeeds; never replaced "
                "silently).",
            ),
            click.option(
                "--overwrite", is_flag=True, help="Replace an existing --out results file."
            ),
        ],
    },
)
def evaluate(encoder: Path, tasks: str | None, out: Path, overwrite: bool, **options: Any) -> None:
    """Evaluate the encoder built by ENCODER.py on the dataset at DATA.

    Probes are trained on DATA's train split and scored on its val split; the table
    printed gives each score's reference level (docs/protocol.md)."""
    check_output(out, "file", overwrite=overwrite)
    if options["cache_dir"] is not None:
        check_output(options["cache_dir"], "directory", "--cache")
    config = EvalConfig(tasks=_tasks(tasks), **config_values(EvalConfig, options))
    with holding_results(out):
        # Again under the lock: a run into --out that ended meanwhile has written it.
        check_output(out, "file", overwrite=overwrite)
        results = run_evaluation(encoder, config, command=sys.argv)
        if results is not None:  # None: a torchrun process other than 0, which extracted a share
            write_results(results, out)
            click.echo(format_table(results))
            click.echo(f"results written to {out}")
    end_torchrun_worker()
