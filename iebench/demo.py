"""`iebench demo`: the whole pipeline, small: objects, render, train, evaluate, publish.

On the built-in objects it renders a small dataset (preview preset), trains
SIE and VICReg briefly, evaluates both under the quick protocol, submits them to
a demo board and builds it. Every stage resumes: a second run reuses what the
first one finished. Sized to finish within 15 minutes on 2 CPU cores.

    <out>/objects/          the built-in objects (ShapeNetCore v2 layout)
    <out>/3DIEBench/        the rendered dataset
    <out>/runs/<method>/    training runs (checkpoints, logs, submission.py)
    <out>/results/<method>.json
    <out>/board/            the demo board: results/, README.md, index.html, tradeoff.png
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from iebench.core.errors import IebenchError
from iebench.core.io import write_json_atomic

DEMO_DATASET_NAME = "built-in objects (demo render)"
RENDER_PRESET = "preview"
PROTOCOL = "quick"


@dataclass(frozen=True)
class DemoConfig:
    """The demo's sizes; the defaults fit the 15-minute budget on 2 CPU cores."""

    out: Path = Path("demo")
    per_class: int = 4  # built-in objects per category (15 categories); 2 or more: both splits
    views: int = 12
    seed: int = 0
    methods: tuple[str, ...] = ("sie", "vicreg")
    epochs: int = 30
    batch_size: int = 16
    width: int = 32  # ResNet width: a 256-d representation
    layers: tuple[int, ...] = (1, 1, 1, 1)
    projector: tuple[int, ...] = (512, 512, 512)
    render_workers: int = 2
    progress: bool = True

    def __post_init__(self) -> None:
        from iebench.methods import METHODS

        object.__setattr__(self, "out", Path(self.out))
        problems = [
            f"{name} must be >= {low}, got {getattr(self, name)}"
            for name, low in (("per_class", 2), ("views", 2), ("epochs", 1), ("batch_size", 2))
            if getattr(self, name) < low
        ]
        problems += [f"unknown method {m!r}" for m in self.methods if m not in METHODS]
        if problems:
            raise IebenchError(f"demo config: {'; '.join(problems)}")

    def to_dict(self) -> dict:
        return {**asdict(self), "out": str(self.out)}


@dataclass(frozen=True)
class DemoReport:
    board: Path
    page: Path
    plot: Path
    results: dict[str, Path]
    table: str
    seconds: float


def run_demo(config: DemoConfig, say: Callable[[str], None] = print) -> DemoReport:
    """Run every stage, saying what happens; returns where the outputs are."""
    from iebench.data.tree import TreeIndex, require_objects
    from iebench.evaluation.config import EvalConfig
    from iebench.evaluation.run import evaluate
    from iebench.leaderboard import build, show, submit
    from iebench.objects import make_object_set
    from iebench.rendering import RenderConfig, render_objects
    from iebench.spec.layout import SPLITS
    from iebench.spec.results import write_results
    from iebench.training.config import TrainConfig
    from iebench.training.loop import train

    started = time.perf_counter()
    out = config.out
    stages = 4 + len(config.methods) * 2
    stage = iter(range(1, stages + 1))

    def step(text: str) -> None:
        say(f"[{next(stage)}/{stages} {time.perf_counter() - started:6.0f} s] {text}")

    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "demo.json", config.to_dict())

    step(f"built-in objects: {config.per_class} per category -> {out / 'objects'}")
    objects = make_object_set(out / "objects", config.per_class, seed=config.seed)

    step(f"render {config.views} views per object ({RENDER_PRESET} preset) -> {out / '3DIEBench'}")
    render = RenderConfig(
        out=out / "3DIEBench",
        objects=objects,
        views=config.views,
        seed=config.seed,
        preset=RENDER_PRESET,
        workers=config.render_workers,
        progress=config.progress,
    )
    report = render_objects(render, log=say)
    say(report.summary())
    if not report.ok:
        raise IebenchError(f"{render.out}: some objects failed to render (see above)")
    for split in SPLITS:  # refused here, not after training
        require_objects(TreeIndex.load(render.out, split))

    # A tiny demo may have fewer training objects than the batch: one batch per epoch then.
    batch_size = min(config.batch_size, report.splits["train"]["objects"])
    results: dict[str, Path] = {}
    for method in config.methods:
        run = out / "runs" / method
        step(f"train {method}: {config.epochs} epochs -> {run}")
        train(
            TrainConfig(
                method=method,
                data=render.out,
                out=run,
                epochs=config.epochs,
                batch_size=batch_size,
                resolution=render.settings.resolution,
                width=config.width,
                layers=config.layers,
                projector=config.projector,
                seed=config.seed,
                workers=1,
                progress=config.progress,
            ),
            resume=True,
        )
        step(f"evaluate {method} ({PROTOCOL} protocol)")
        evaluation = EvalConfig(
            data=render.out, protocol=PROTOCOL, cache_dir=out / "cache", progress=config.progress
        )
        results[method] = out / "results" / f"{method}.json"
        write_results(evaluate(run / "submission.py", evaluation), results[method])

    board = out / "board"
    step(f"submit {len(results)} results to a fresh demo board -> {board}")
    shutil.rmtree(board / "results", ignore_errors=True)  # rebuilt from this run's results
    for path in results.values():
        for note in submit(path, board, dataset_name=DEMO_DATASET_NAME).notes:
            say(f"note: {note}")
    step("build the board")
    built = build(board)
    return DemoReport(
        board=board,
        page=built.page,
        plot=built.plot,
        results=results,
        table=show(board),
        seconds=time.perf_counter() - started,
    )
