"""SIE's central claim on our own renders: it keeps the rotation information VICReg discards.

    python benchmarks/sie_vs_vicreg.py           # about 20 min on 2 CPU cores, first time

Renders (once, then reused) the built-in objects of all 15 built-in categories
with the preview preset; trains SIE and VICReg with the same budget (epochs,
batch, backbone, resolution, lr) for each seed, with `iebench train`; evaluates
every run with `iebench evaluate` (reference probes: classification and rotation
prediction); prints top-1 and rotation R^2 per run and their mean over seeds,
with a randomly initialised backbone as the floor. Runs go ``--jobs`` at a time,
each single-threaded (on a shared 2-core machine this beats one run on 2 threads).
Everything lands under ``--out`` and is reused when the script runs again.
Exit status 1 when SIE's rotation R^2 does not beat VICReg's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from iebench.evaluation import EvalConfig, evaluate
from iebench.objects import builtin_objects
from iebench.objects.objectset import cache_dir
from iebench.rendering import RenderConfig, render_objects
from iebench.results import Results, read_results, write_results
from iebench.submission import EncoderMetadata, Submission
from iebench.training import TrainConfig, build_model

METHODS = ("sie", "vicreg")
TASKS = "classification,rotation"


def render(args: argparse.Namespace) -> Path:
    tree = args.out / f"tree-{args.per_class}x{args.views}-{args.resolution}px"
    config = RenderConfig(
        out=tree,
        objects=builtin_objects(per_class=args.per_class, seed=0),
        views=args.views,
        preset="preview",
        resolution=args.resolution,
        workers=args.jobs,
        progress=True,
    )
    report = render_objects(config, log=lambda message: None)
    if not report.ok:
        sys.exit(f"render failed: {report.summary()}")
    return tree


def run_dir(args: argparse.Namespace, method: str, seed: int) -> Path:
    name = f"{method}-w{args.width}-p{args.projector}-b{args.batch_size}-e{args.epochs}-s{seed}"
    return args.out / "runs" / name


def commands(args: argparse.Namespace, tree: Path, method: str, seed: int) -> list[list[str]]:
    """Train (resuming whatever is there) then evaluate one run."""
    run = run_dir(args, method, seed)
    iebench = [sys.executable, "-m", "iebench"]
    train = [
        *iebench, "train", method, "--data", str(tree), "--out", str(run), "--resume",
        "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
        "--resolution", str(args.resolution), "--width", str(args.width), "--seed", str(seed),
        "--projector", args.projector,
        "--workers", "0", "--device", "cpu", "--quiet",
    ]  # fmt: skip
    evaluate_ = [
        *iebench, "evaluate", str(run / "submission.py"), "--data", str(tree),
        "--tasks", TASKS, "--out", str(run / "results.json"), "--device", "cpu",
        "--workers", "0", "--cache", str(args.out / "features"),
    ]  # fmt: skip
    return [train, evaluate_]


def run_all(steps: list[list[str]], threads: int) -> None:
    environment = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    for command in steps:
        result = subprocess.run(command, env=environment, capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(command[2:5])} failed:\n{result.stderr[-3000:]}")


def random_init(args: argparse.Namespace, tree: Path) -> Results:
    """The floor: the same backbone, untrained (cached in --out)."""
    path = args.out / f"random-init-w{args.width}-results.json"
    if path.is_file():
        return read_results(path)
    config = TrainConfig(
        method="vicreg", data=tree, out=".", width=args.width, resolution=args.resolution
    ).resolved()
    backbone = build_model(config).backbone.eval()
    metadata = EncoderMetadata(
        name="random-init", embedding_dim=config.embed_dim, resolution=args.resolution
    )
    results = evaluate(
        Submission.from_module(backbone, metadata),
        EvalConfig(
            data=tree,
            tasks=tuple(TASKS.split(",")),
            device="cpu",
            workers=0,
            cache_dir=args.out / "features",
            progress=False,
        ),
    )
    write_results(results, path)
    return results


def score(results: Results, task: str, part: str, metric: str) -> float | None:
    value = results.scores.get(task, {}).get(part, {}).get(metric)
    return None if value is None else value.mean


COLUMNS = (
    ("top-1", "classification", "full", "top1"),
    ("top-1 inv", "classification", "invariant", "top1"),
    ("R2 rot", "rotation", "full", "r2"),
    ("R2 rot inv", "rotation", "invariant", "r2"),
    ("R2 rot equi", "rotation", "equivariant", "r2"),
)


def row(label: str, values: list[float | None]) -> str:
    cells = "".join(f"{'-' if v is None else f'{v:.3f}':>13}" for v in values)
    return f"{label:<18}{cells}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=cache_dir().parent / "sie_vs_vicreg")
    parser.add_argument("--per-class", type=int, default=10, help="objects per category (15)")
    parser.add_argument("--views", type=int, default=12)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--width", type=int, default=16, help="ResNet width (64: ResNet-18)")
    parser.add_argument("--projector", default="64-64-64", help="VICReg's; SIE splits it")
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    started = time.perf_counter()
    tree = render(args)
    rendered = time.perf_counter()
    pipelines = [
        commands(args, tree, method, seed) for seed in range(args.seeds) for method in METHODS
    ]
    with ThreadPoolExecutor(args.jobs) as pool:
        list(pool.map(lambda steps: run_all(steps, args.threads), pipelines))
    trained = time.perf_counter()
    floor = random_init(args, tree)

    print(
        f"\n{tree.name}: {args.per_class} objects x 15 categories, {args.views} views; "
        f"ResNet width {args.width}, {args.resolution} px, {args.epochs} epochs, "
        f"batch {args.batch_size}; reference probes"
    )
    print(row("", []) + "".join(f"{name:>13}" for name, *_ in COLUMNS))
    means: dict[str, list[list[float | None]]] = {method: [] for method in METHODS}
    for seed in range(args.seeds):
        for method in METHODS:
            results = read_results(run_dir(args, method, seed) / "results.json")
            values = [score(results, *key) for _, *key in COLUMNS]
            means[method].append(values)
            print(row(f"{method} seed {seed}", values))
    averaged = {}
    for method, runs in means.items():
        averaged[method] = [
            None if column[0] is None else sum(column) / len(column)
            for column in zip(*runs, strict=True)
        ]
        print(row(f"{method} mean", averaged[method]))
    print(row("random init", [score(floor, *key) for _, *key in COLUMNS]))
    print(
        f"\nrender {rendered - started:.0f} s, train + evaluate {trained - rendered:.0f} s, "
        f"total {time.perf_counter() - started:.0f} s"
    )
    sie, vicreg = averaged["sie"][2], averaged["vicreg"][2]
    holds = sie > vicreg
    print(
        f"rotation R^2 (full representation), mean over {args.seeds} seeds: SIE {sie:.3f} vs "
        f"VICReg {vicreg:.3f}: the claim {'holds' if holds else 'DOES NOT HOLD'}"
    )
    sys.exit(0 if holds else 1)


if __name__ == "__main__":
    main()
