"""`iebench demo`: the whole pipeline on a pilot of 3DIEBench-mini: objects, render, train,
evaluate, publish.

On the built-in objects of the mini track's 4 posed categories it renders the track's
pose-only views (``iebench.protocol.tracks.MINI_PILOT``: 40 objects per category, 12 views,
64 px), trains SIE, VICReg and an equivariant-by-prediction method (``predict-rotation3d``)
with the track's settings, writes the untrained backbone as a fourth entry, evaluates each
under the reference protocol, submits them to a demo board and builds it. The board's table
puts the reference levels (chance, the constant predictor) under the scores. Runs go
``jobs`` at a time in their own processes, one thread each (on 2 cores this beats one run on
2 threads). Every stage resumes: a second run reuses what the first one finished. How long it
takes on 2 CPU cores is ``DEMO_MINUTES``.

    <out>/objects/          the built-in objects (ShapeNetCore v2 layout)
    <out>/3DIEBench/        the rendered dataset
    <out>/runs/<method>/    training runs (checkpoints, logs, submission.py)
    <out>/results/<method>.json
    <out>/board/            the demo board: results/, README.md, index.html, tradeoff.png
"""

from __future__ import annotations

import multiprocessing
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from iebench.core.cpus import cores_per_process
from iebench.core.errors import IebenchError
from iebench.core.io import write_json_atomic
from iebench.core.locks import hold_or_refuse
from iebench.protocol.layout import DEMO_LOCK_NAME
from iebench.protocol.tasks import RANKING
from iebench.protocol.tracks import MINI_PILOT

if TYPE_CHECKING:
    from iebench.leaderboard import Built

TRACK = MINI_PILOT
DEMO_DATASET_NAME = TRACK.display_name
RENDER_PRESET = "preview"
PROTOCOL = "reference"
# The demo's duration on 2 CPU cores, set-up included (`make demo` on a clean clone measured
# 9 min 18 s): the one statement of it, which the command's help repeats.
DEMO_MINUTES = 10


@dataclass(frozen=True)
class DemoConfig:
    """The demo's sizes (the rest is the track's); the defaults take ``DEMO_MINUTES`` on
    2 CPU cores."""

    # Each field with a help is an `iebench demo` option (iebench.cli.options).
    out: Path = field(
        default=Path("demo"),
        metadata={"help": "Folder of everything the demo writes (a second run resumes it)."},
    )
    # 2 or more: both splits.
    per_class: int = field(
        default=TRACK.per_class,
        metadata={"help": "Built-in objects per category (the mini track's 4)."},
    )
    views: int = field(
        default=TRACK.views, metadata={"help": "Views rendered per object (preview preset)."}
    )
    epochs: int = field(default=TRACK.epochs, metadata={"help": "Training epochs of each method."})
    seed: int = 0
    # SIE, the invariant baseline, and one equivariant-by-prediction method (E-SSL).
    methods: tuple[str, ...] = ("sie", "vicreg", "predict-rotation3d")
    jobs: int = field(
        default=2, metadata={"help": "Runs trained at a time, each in its own process."}
    )
    render_workers: int = 2
    progress: bool = field(
        default=True, metadata={"help": "No progress bars.", "option": "--quiet"}
    )

    def __post_init__(self) -> None:
        from iebench.methods import METHODS

        object.__setattr__(self, "out", Path(self.out))
        problems = [
            f"{name} must be >= {low}, got {getattr(self, name)}"
            for name, low in (("per_class", 2), ("views", 2), ("epochs", 1), ("jobs", 1))
            if getattr(self, name) < low
        ]
        problems += [f"unknown method {m!r}" for m in self.methods if m not in METHODS]
        if problems:
            raise IebenchError(f"demo config: {'; '.join(problems)}")

    def to_dict(self) -> dict:
        return {**asdict(self), "out": str(self.out), "track": asdict(TRACK)}


@dataclass(frozen=True)
class DemoReport:
    board: Path
    page: Path
    plot: Path
    results: dict[str, Path]
    table: str
    seconds: float


@dataclass(frozen=True)
class _Run:
    """One entry of the demo: trained with the track's settings (or left untrained), then
    evaluated; run in a worker process."""

    method: str  # a method name, or UNTRAINED (the backbone left as initialised)
    data: Path
    out: Path
    results: Path
    cache: Path
    epochs: int
    batch_size: int
    seed: int
    threads: int


def _train_and_evaluate(run: _Run) -> Path:
    import torch

    from iebench.evaluation.config import EvalConfig
    from iebench.evaluation.run import evaluate
    from iebench.protocol.results import write_results
    from iebench.training.config import TrainConfig
    from iebench.training.loop import UNTRAINED, train, write_untrained_run
    from iebench.training.run_files import RunFiles

    torch.set_num_threads(run.threads)
    untrained = run.method == UNTRAINED
    config = TrainConfig(
        method="vicreg" if untrained else run.method,
        data=run.data,
        out=run.out,
        epochs=run.epochs,
        batch_size=run.batch_size,
        resolution=TRACK.resolution,
        width=TRACK.width,
        layers=TRACK.layers,
        projector=TRACK.projector,
        weights=TRACK.weights.get(run.method, {}),
        seed=run.seed,
        workers=0,
        device="cpu",
        progress=False,
    )
    files = write_untrained_run(config) if untrained else RunFiles(train(config, resume=True).run)
    evaluation = EvalConfig(
        data=run.data, protocol=PROTOCOL, cache_dir=run.cache, device="cpu", workers=0,
        progress=False,
    )  # fmt: skip
    write_results(evaluate(files.submission, evaluation), run.results)
    return run.results


def run_demo(config: DemoConfig, say: Callable[[str], None] = print) -> DemoReport:
    """Run every stage, saying what happens; returns where the outputs are. A second demo
    into the same folder while one runs is refused in one line naming the holder."""
    config.out.mkdir(parents=True, exist_ok=True)
    with hold_or_refuse(config.out / DEMO_LOCK_NAME, "another demo is running in this folder"):
        return _run_stages(config, say)


def _run_stages(config: DemoConfig, say: Callable[[str], None]) -> DemoReport:
    from iebench.leaderboard import show
    from iebench.objects import make_object_set
    from iebench.training.loop import UNTRAINED

    started = time.perf_counter()
    out = config.out
    names = (*config.methods, UNTRAINED)
    stages = 4 + len(names)
    stage = iter(range(1, stages + 1))

    def step(text: str) -> None:
        say(f"[{next(stage)}/{stages} {time.perf_counter() - started:6.0f} s] {text}")

    write_json_atomic(out / "demo.json", config.to_dict())

    step(f"built-in objects: {config.per_class} per category of {', '.join(TRACK.categories)}")
    objects = make_object_set(
        out / "objects", config.per_class, seed=config.seed, categories=TRACK.categories
    )
    data, train_objects = _render_dataset(config, objects, say, step)
    runs = _runs(config, names, data, train_objects)
    results = _train_and_evaluate_all(config, runs, say, step)
    board = out / "board"
    built = _publish(board, results, say, step)
    return DemoReport(
        board=board,
        page=built.page,
        plot=built.plot,
        results=results,
        table=show(board),
        seconds=time.perf_counter() - started,
    )


def _render_dataset(
    config: DemoConfig,
    objects: Path,
    say: Callable[[str], None],
    step: Callable[[str], None],
) -> tuple[Path, int]:
    """Render the pilot into ``<out>/3DIEBench``, refusing a tree with an empty split before
    any training; returns the tree and its count of training objects."""
    from iebench.data.tree import TreeIndex, require_objects
    from iebench.protocol.layout import SPLITS
    from iebench.rendering import RenderConfig, render_objects

    out = config.out
    step(
        f"render {config.views} views per object ({TRACK.factors} factors, {RENDER_PRESET} "
        f"preset, {TRACK.resolution} px) -> {out / '3DIEBench'}"
    )
    render = RenderConfig(
        out=out / "3DIEBench",
        objects=objects,
        views=config.views,
        seed=config.seed,
        preset=RENDER_PRESET,
        resolution=TRACK.resolution,
        factors=TRACK.factors,
        workers=config.render_workers,
        progress=config.progress,
    )
    report = render_objects(render, log=say)
    say(report.summary())
    if not report.ok:
        raise IebenchError(f"{render.out}: some objects failed to render (see above)")
    for split in SPLITS:  # refused here, not after training
        require_objects(TreeIndex.load(render.out, split))
    return render.out, report.splits["train"]["objects"]


def _runs(config: DemoConfig, names: tuple[str, ...], data: Path, train_objects: int) -> list[_Run]:
    # A tiny demo may have fewer training objects than the batch: one batch per epoch then.
    batch_size = min(TRACK.batch_size, train_objects)
    return [
        _Run(
            method=name,
            data=data,
            out=config.out / "runs" / name,
            results=config.out / "results" / f"{name}.json",
            cache=config.out / "cache",
            epochs=config.epochs,
            batch_size=batch_size,
            seed=config.seed,
            threads=cores_per_process(config.jobs),
        )
        for name in names
    ]


def _train_and_evaluate_all(
    config: DemoConfig,
    runs: list[_Run],
    say: Callable[[str], None],
    step: Callable[[str], None],
) -> dict[str, Path]:
    """Train and evaluate every entry, ``config.jobs`` at a time; their results files in the
    entries' order."""
    from iebench.protocol.results import read_results

    say(
        f"train {', '.join(config.methods)} ({config.epochs} epochs, batch {runs[0].batch_size}, "
        f"ResNet width {TRACK.width}) and evaluate them and the untrained backbone "
        f"({PROTOCOL} protocol), {config.jobs} at a time"
    )
    # Spawned, not forked: torch's thread pools do not survive a fork.
    context = multiprocessing.get_context("spawn")
    results: dict[str, Path] = {}
    with ProcessPoolExecutor(config.jobs, mp_context=context) as pool:
        pending = {pool.submit(_train_and_evaluate, run): run.method for run in runs}
        for done in as_completed(pending):
            name = pending[done]
            results[name] = done.result()
            scores = read_results(results[name]).scores
            top1, r2 = (scores[task][part][metric].mean for task, part, metric in RANKING)
            step(f"{name}: top-1 {top1:.1f} %, rotation R^2 {r2:.3f}")
    return {run.method: results[run.method] for run in runs}


def _publish(
    board: Path,
    results: dict[str, Path],
    say: Callable[[str], None],
    step: Callable[[str], None],
) -> Built:
    """Submit the results to a fresh demo board and build it; returns what the build wrote."""
    from iebench.leaderboard import build, submit

    step(f"submit {len(results)} results to a fresh demo board -> {board}")
    shutil.rmtree(board / "results", ignore_errors=True)  # rebuilt from this run's results
    for path in results.values():
        for note in submit(path, board, dataset_name=DEMO_DATASET_NAME).notes:
            say(f"note: {note}")
    step("build the board")
    return build(board)
