"""SIE's central claim on our own renders: it keeps the rotation information VICReg discards.

    python benchmarks/sie_vs_vicreg.py --track mini       # 3DIEBench-mini: the verdict, 5 seeds
    python benchmarks/sie_vs_vicreg.py --track mini --board leaderboard   # + the board's rows
    python benchmarks/sie_vs_vicreg.py --track mini --tuning   # the tree settings are chosen on
    python benchmarks/sie_vs_vicreg.py --track mini --render-only --out leaderboard/mini-track
    python benchmarks/sie_vs_vicreg.py                    # the published factors (fails here)

Renders (once, then reused) built-in objects with the preview preset: by default
150 objects of each of 4 categories whose pose is unambiguous (airplane, car,
chair, watercraft) under the published factors. ``--track mini`` (3DIEBench-mini,
iebench.protocol.tracks.MINI) fixes everything a pair's views could differ by except the
rotation about the vertical axis (the `pose-only` factor spec), at 100 objects per category,
and gives SIE the loss weights under which its backbone learns pose at this budget. Those
settings were chosen on the track's tuning tree (``--tuning``: dataset seed 0); the verdict
and the board's rows come from its verdict tree (dataset seed 1), on which nothing was chosen.
Trains SIE and VICReg with the same budget (epochs, batch, backbone, resolution,
lr, projector) for each seed, with `iebench train`; evaluates every run with
`iebench evaluate` (reference probes: classification and rotation prediction; SIE
also its predictor's retrieval); prints top-1, rotation R^2 and MRR per run and
their mean and sample std over seeds. Reference rows say what the numbers can mean: the
constant predictor (every pair's relative quaternion predicted by the training
pairs' mean: the R^2 that needs no image at all), the randomly initialised
backbone of each seed, chance, and a bound trained on the rotation labels
themselves (`predict-rotation3d`: supervised regression of R_i^-1 R_j from the
pair's features). Runs go ``--jobs`` at a time, each single-threaded (on a shared
2-core machine this beats one run on 2 threads). Everything lands under ``--out``
and is reused when the script runs again, only if the same iebench commit and settings
made it (a stamp in each run folder; other folders are refused). ``--board DIR`` also
trains SimCLR and the bound for every seed and submits every run (and each seed's random
init) to that board as "<method> seed <k>".

The verdict checks the claim part by part: the bound beats the constant predictor by 0.3;
at least 5 training seeds per method; every trained method's top-1 is 3x chance; SIE's
predictor uses the rotation (validation error with the pair's own rotation at most 0.8x
that with another pair's, in every seed; MRR 1.5x chance); SIE's rotation R^2 beats
VICReg's in every seed by more than twice the larger seed-to-seed sample std; and the 95%
interval (Student's t, n - 1 degrees of freedom) of SIE - VICReg paired by seed lies above
0. Two diagnostics say why when it fails: SIE's predictor errors, and SIE's heads and
loss trained on frozen backbones (the bound's, SIE's, VICReg's, an untrained one):
whether the objective uses the rotation when the backbone carries pose. Exit
status 0 when the claim holds, 1 when it does not, 2 when this scale cannot tell
(the bound does not clear the constant predictor).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.stats
import torch
import torch.nn.functional as F

from iebench.core.errors import IebenchError
from iebench.core.io import write_json_atomic
from iebench.core.seeding import numpy_generator
from iebench.data.dataset import PairsDataset, ViewsDataset
from iebench.data.preprocess import BatchNormalize, to_uint8_tensor
from iebench.data.tree import TreeIndex
from iebench.evaluation.metrics import mrr_hits, r2_score
from iebench.evaluation.submission import iebench_commit
from iebench.leaderboard import build, load_board, submit
from iebench.leaderboard.track import Track
from iebench.methods.base import PairBatch
from iebench.objects import builtin_objects
from iebench.objects.objectset import cache_dir
from iebench.protocol.factors import ROTATION, FactorSpec, relative_quaternion
from iebench.protocol.results import Results, read_results
from iebench.protocol.tracks import MINI, POSED_CATEGORIES
from iebench.rendering import RenderConfig, render_objects
from iebench.training import TrainConfig, build_model
from iebench.training.export import HEADS_NAME, load_encoder, load_predictor, read_heads
from iebench.training.loop import UNTRAINED, PairInputs, write_untrained_run

METHODS = ("sie", "vicreg")
BOUND = "predict-rotation3d"  # trained on the rotation labels: what this scale can learn at all
# With --board, also trained for every seed: an invariant contrastive baseline and the bound
# (an equivariant-by-prediction method, E-SSL in the sense of Wang et al. 2024).
BOARD_METHODS = ("simclr", BOUND)
TASKS = "classification,rotation"


def tree_path(args: argparse.Namespace) -> Path:
    """Where render() puts the tree of these settings (named by them)."""
    every = args.categories == ["all"]
    categories = "" if every else f"-{'-'.join(args.categories)}"
    spec = FactorSpec.load(args.factors)
    factors = "" if spec.name == "published" else f"-{spec.name}"
    name = f"tree-{args.per_class}x{args.views}-{args.resolution}px{categories}{factors}"
    return args.out / f"{name}-seed{args.tree_seed}"


def render(args: argparse.Namespace) -> Path:
    every = args.categories == ["all"]
    tree = tree_path(args)
    config = RenderConfig(
        out=tree,
        objects=builtin_objects(per_class=args.per_class, seed=args.tree_seed),
        seed=args.tree_seed,
        synsets=None if every else tuple(args.categories),
        views=args.views,
        preset="preview",
        resolution=args.resolution,
        factors=args.factors,
        workers=args.jobs,
        progress=True,
    )
    report = render_objects(config, log=lambda message: None)
    if not report.ok:
        sys.exit(f"render failed: {report.summary()}")
    return tree


def weights(args: argparse.Namespace, method: str) -> list[str]:
    """The loss weights given to ``method`` beyond its defaults (SIE's, with --sie-weight)."""
    return list(args.sie_weight) if method == "sie" else []


def run_dir(args: argparse.Namespace, tree: Path, method: str, seed: int) -> Path:
    tag = "".join(f"-{w.replace('=', '')}" for w in weights(args, method))
    name = f"{method}{tag}-w{args.width}-p{args.projector}-b{args.batch_size}-e{args.epochs}"
    name += f"-s{seed}"
    return args.out / "runs" / tree.name / name


IEBENCH = [sys.executable, "-m", "iebench"]


@dataclass(frozen=True)
class Pipeline:
    """One run folder and the commands that make it (none when it is complete)."""

    run: Path
    steps: list[list[str]]


def commands(args: argparse.Namespace, tree: Path, method: str, seed: int) -> Pipeline:
    """Train (resuming whatever is there) then evaluate one run."""
    run = run_dir(args, tree, method, seed)
    train = [
        *IEBENCH, "train", method, "--data", str(tree), "--out", str(run), "--resume",
        "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
        "--resolution", str(args.resolution), "--width", str(args.width), "--seed", str(seed),
        "--projector", args.projector,
        *(option for weight in weights(args, method) for option in ("--weight", weight)),
        "--workers", "0", "--device", "cpu", "--quiet",
    ]  # fmt: skip
    tasks = TASKS + (",equivariance" if method == "sie" else "")
    return Pipeline(run, [train, *evaluation(args, tree, run, tasks)])


def evaluation(args: argparse.Namespace, tree: Path, run: Path, tasks: str) -> list[list[str]]:
    """`iebench evaluate` of a run's submission file, unless its results already hold ``tasks``."""
    results = run / "results.json"
    if results.is_file() and set(tasks.split(",")) <= set(read_results(results).scores):
        return []
    return [evaluate_command(run / "submission.py", tree, tasks, results, args.out / "features")]


def evaluate_command(
    submission: Path, tree: Path, tasks: str, out: Path, cache: Path | None, *options: str
) -> list[str]:
    """`iebench evaluate` of ``submission`` on ``tree`` into ``out`` (replaced), on the CPU in
    this process, its features cached under ``cache`` (None: the tree's own cache);
    ``options``: further options."""
    return [
        *IEBENCH, "evaluate", str(submission), "--data", str(tree), "--tasks", tasks,
        "--out", str(out), "--overwrite", "--device", "cpu", "--workers", "0",
        *(("--cache", str(cache)) if cache is not None else ()), *options,
    ]  # fmt: skip


def run_all(steps: list[list[str]], threads: int) -> None:
    environment = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    for command in steps:
        result = subprocess.run(command, env=environment, capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(command[2:5])} failed:\n{result.stderr[-3000:]}")


def random_init_dir(args: argparse.Namespace, tree: Path, seed: int) -> Path:
    return args.out / "runs" / tree.name / f"{UNTRAINED}-w{args.width}-s{seed}"


def random_init(args: argparse.Namespace, tree: Path, seed: int) -> Pipeline:
    """The floor: a run folder with the backbone a seed-``seed`` run starts from, untrained,
    as weights and a submission file like every trained run's; then its evaluation."""
    run = random_init_dir(args, tree, seed)
    return Pipeline(run, evaluation(args, tree, run, TASKS))


def write_random_init(args: argparse.Namespace, tree: Path, seed: int) -> None:
    run = random_init_dir(args, tree, seed)
    config = TrainConfig(
        method="vicreg", data=tree, out=run, width=args.width, resolution=args.resolution, seed=seed
    )
    write_untrained_run(config)


STAMP_NAME = "benchmark-stamp.json"


def stamp(args: argparse.Namespace) -> dict:
    """What a run folder's files depend on beyond its name: the code and the track settings."""
    return {
        "iebench_commit": iebench_commit(),
        "settings": {name: getattr(args, name) for name in DEFAULTS if name != "seeds"},
    }


def read_stamp(file: Path) -> dict | None:
    """A run folder's stamp, or None when it is missing or damaged (then the folder counts as
    made by unknown code)."""
    try:
        stamp = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    keys = {"iebench_commit", "settings"}
    return stamp if isinstance(stamp, dict) and keys <= stamp.keys() else None


def refuse_stale_runs(args: argparse.Namespace, pipelines: list[Pipeline]) -> None:
    """Reuse a run folder only when the same code and settings made it: a run left by other
    code (or one from before stamps) would mix versions in one verdict. Checked before any
    work; one line naming the first stale folder."""
    expected = stamp(args)
    for pipeline in pipelines:
        if not pipeline.run.exists():
            continue
        found = read_stamp(pipeline.run / STAMP_NAME)
        if found != expected:
            made_by = "unknown code" if found is None else f"iebench {found['iebench_commit']}"
            if found is not None and found["settings"] != expected["settings"]:
                made_by += " with other settings"
            sys.exit(
                f"{pipeline.run}: made by {made_by}, this is iebench {expected['iebench_commit']}"
                f"; pass another --out (or remove the folder) to run it afresh"
            )


def run_pipeline(args: argparse.Namespace, pipeline: Pipeline) -> None:
    """Run what is left of a pipeline, then stamp its folder."""
    run_all(pipeline.steps, args.threads)
    write_json_atomic(pipeline.run / STAMP_NAME, stamp(args))


def constant_floor(tree: Path) -> float:
    """Rotation R^2 of predicting every validation pair by the mean over all training pairs."""

    def all_pairs(split: str) -> np.ndarray:
        euler = TreeIndex.load(tree, split).latents[..., ROTATION]
        i, j = np.nonzero(~np.eye(euler.shape[1], dtype=bool))
        return relative_quaternion(euler[:, i], euler[:, j]).reshape(-1, 4)

    train, val = all_pairs("train"), all_pairs("val")
    return r2_score(np.broadcast_to(train.mean(axis=0), val.shape).copy(), val)


def run_config(run: Path) -> TrainConfig:
    """A run's settings: its config.json, else the copy in its heads.pth (a committed board run
    leaves config.json out: it names the machine's folders)."""
    if (run / "config.json").is_file():
        return TrainConfig.load(run / "config.json")
    return read_heads(run / HEADS_NAME)[0]


@torch.no_grad()
def predictor_errors(run: Path, tree: Path, epochs: int = 4) -> tuple[float, float, float]:
    """Does SIE's predictor use the rotation? MSE(prediction, e_j) on validation pairs with
    the pair's own rotation, with another pair's, and of e_i itself (no predictor)."""
    # The exported weights and heads, loaded as `iebench evaluate` loads them.
    config = run_config(run)
    weights = run / "final.pth"
    backbone = load_encoder(weights, config.width, config.layers, config.backbone).eval()
    predictor = load_predictor(weights, config.method)
    pairs = PairsDataset(
        tree, "val", resolution=config.resolution, transform=to_uint8_tensor, seed=0
    )
    inputs = PairInputs(torch.device("cpu"), channels_last=False)
    sums, count = np.zeros(3), 0
    for epoch in range(epochs):
        pairs.set_epoch(epoch)
        for pair in torch.utils.data.DataLoader(pairs, batch_size=64):
            batch = inputs(pair)
            e_i = predictor.project(backbone(batch.first))
            e_j = predictor.project(backbone(batch.second))
            own = predictor.predict(e_i, batch.action)
            other = predictor.predict(e_i, batch.action.roll(1, 0))
            errors = [torch.nn.functional.mse_loss(x, e_j).item() for x in (own, other, e_i)]
            sums += np.array(errors) * len(e_i)
            count += len(e_i)
    own, other, unchanged = sums / count
    return own, other, unchanged


@torch.no_grad()
def view_features(backbone: torch.nn.Module, tree: Path, split: str, resolution: int) -> tuple:
    """(objects, views, dims) features of every view of a split, and its Euler angles."""
    views = ViewsDataset(tree, split, mode="all", resolution=resolution, transform=to_uint8_tensor)
    normalize = BatchNormalize()
    batches = torch.utils.data.DataLoader(views, batch_size=256)
    index = TreeIndex.load(tree, split)
    features = torch.cat([backbone(normalize(view.image)) for view in batches])
    return features.view(index.num_objects, index.views, -1), index.latents[..., ROTATION]


def frozen_backbone_check(
    backbone: torch.nn.Module, sie_run: Path, tree: Path, steps: Sequence[int] = (3000,)
) -> list[tuple[float, float, float]]:
    """SIE's heads (fresh, as in ``sie_run``) trained with SIE's loss for each of ``steps``
    batches of 32 pairs on a FROZEN backbone's features (extracted once): does the objective
    make the predictor use the rotation when the backbone carries pose? Returns, per number of
    steps, the validation predictor error with the pair's own rotation and with another
    pair's, and the predictor's MRR."""
    config = run_config(sie_run)
    backbone = backbone.eval()
    train, val = (
        view_features(backbone, tree, split, config.resolution) for split in ("train", "val")
    )
    return [fresh_heads_scores(config, train, val, n) for n in steps]


def fresh_heads_scores(
    config: TrainConfig, train_split: tuple, val_split: tuple, steps: int
) -> tuple[float, float, float]:
    """frozen_backbone_check's scores of fresh heads trained for ``steps`` batches on the
    (features, Euler angles) of every view of the training and validation splits."""
    (train, train_euler), (val, val_euler) = train_split, val_split
    heads = build_model(config)
    heads.backbone = torch.nn.Identity()
    optimizer = torch.optim.Adam(heads.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    generator = numpy_generator(0, "frozen-backbone-check")
    views = train.shape[1]

    def pairs(features, euler, objects, i, j) -> PairBatch:
        rotation = relative_quaternion(euler[objects, i], euler[objects, j]).astype(np.float32)
        return PairBatch(features[objects, i], features[objects, j], torch.from_numpy(rotation))

    def draw(objects: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        i = generator.integers(views, size=len(objects))
        return objects, i, (i + generator.integers(1, views, size=len(objects))) % views

    heads.train()
    for _ in range(steps):
        loss, _ = heads(pairs(train, train_euler, *draw(generator.choice(len(train), 32))))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    heads.eval()
    with torch.no_grad():
        batch = pairs(val, val_euler, *draw(np.repeat(np.arange(len(val)), 8)))
        e_i, e_j = heads.embed_equivariant(batch.first), heads.embed_equivariant(batch.second)
        own = F.mse_loss(heads.predictor(e_i, batch.action), e_j).item()
        other = F.mse_loss(heads.predictor(e_i, batch.action.roll(1, 0)), e_j).item()
        # The harness's retrieval: view 0 of each object moved to every view, ranked there.
        embeddings = heads.embed_equivariant(val.flatten(0, 1)).view(*val.shape[:2], -1)
        source = embeddings[:, :1].expand_as(embeddings).flatten(0, 1)
        rotation = relative_quaternion(
            np.repeat(val_euler[:, :1], views, axis=1), val_euler
        ).astype(np.float32)
        predicted = heads.predictor(source, torch.from_numpy(rotation).flatten(0, 1))
        mrr = mrr_hits(predicted.view_as(embeddings), embeddings)["mrr"]
    return own, other, mrr


def score(results: Results, task: str, part: str, metric: str) -> float | None:
    value = results.scores.get(task, {}).get(part, {}).get(metric)
    return None if value is None else value.mean


ROTATION_R2 = ("rotation", "full", "r2")
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


# Named tracks: every option a track fixes (the rest stay as given).
TRACK_SETTINGS = {"mini": MINI}
TRACKS = {
    "mini": {
        "per_class": MINI.per_class,
        "categories": list(MINI.categories),
        "views": MINI.views,
        "resolution": MINI.resolution,
        "factors": MINI.factors,
        "width": MINI.width,
        "projector": "-".join(map(str, MINI.projector)),
        "epochs": MINI.epochs,
        "batch_size": MINI.batch_size,
        "sie_weight": [f"{name}={value:g}" for name, value in MINI.weights["sie"].items()],
        "seeds": MINI.seeds,
        "tree_seed": MINI.verdict_seed,
    },
}
# The claim's thresholds: the bound beats the constant predictor by this much;
# every method's top-1 is this many times chance; SIE's predictor error with the true
# rotation is at most this fraction of that with a shuffled one and its MRR this many times
# chance; SIE beats VICReg in every seed by more than this many seed-to-seed stds, and the
# 95% t interval of the per-seed paired difference excludes 0, over at least MIN_SEEDS seeds.
BOUND_MARGIN = 0.3
TOP1_CHANCE_FACTOR = 3.0
PREDICTOR_ERROR_RATIO = 0.8
MRR_CHANCE_FACTOR = 1.5
STD_FACTOR = 2.0
CONFIDENCE = 0.95
MIN_SEEDS = 5


# The settings a track may fix, and their values without one.
DEFAULTS = {
    "per_class": 150,
    "categories": list(POSED_CATEGORIES),
    "views": 12,
    "resolution": 64,
    "factors": "published",
    "width": 16,
    "projector": "64-64-64",
    "epochs": 300,
    "batch_size": 32,
    "sie_weight": [],
    "seeds": 2,
    "tree_seed": 0,
}


def parser() -> argparse.ArgumentParser:
    """The options; those in DEFAULTS default to None so that given ones can be told apart."""
    parser = argparse.ArgumentParser(prog=Path(__file__).name, description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=cache_dir().parent / "sie_vs_vicreg")
    parser.add_argument("--track", choices=sorted(TRACKS), help="a named track's settings")
    parser.add_argument("--per-class", type=int, help="objects per category")
    parser.add_argument("--categories", nargs="+", help="built-in categories to render, or 'all'")
    parser.add_argument("--views", type=int)
    parser.add_argument("--factors", help="factor spec: a variant name or a JSON file")
    parser.add_argument("--resolution", type=int)
    parser.add_argument("--width", type=int, help="ResNet width (64: ResNet-18)")
    parser.add_argument("--projector", help="VICReg's; SIE splits it")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument(
        "--sie-weight",
        action="append",
        metavar="NAME=VALUE",
        help="an SIE loss weight other than the paper's (repeatable)",
    )
    parser.add_argument("--seeds", type=int, help="at least 2: the verdict compares their spread")
    parser.add_argument(
        "--tree-seed",
        type=int,
        help="the dataset seed (built-in objects and render); a track fixes its verdict tree's",
    )
    parser.add_argument(
        "--tuning",
        action="store_true",
        help="with --track: run on the track's tuning tree, where settings are chosen (never "
        "on the board)",
    )
    parser.add_argument(
        "--board",
        type=Path,
        help="also train SimCLR and the bound for every seed and submit every run to this "
        "board (e.g. leaderboard), then rebuild it",
    )
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="render the tree and stop (e.g. to verify a board row from its committed weights)",
    )
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    return parser


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The options, with a track's settings or the defaults filled in. An option given with
    another value than ``--track`` fixes is refused in one line (it would be overridden)."""
    options = parser()
    args = options.parse_args(argv)
    if args.tuning and not args.track:
        options.exit(2, f"{options.prog}: error: --tuning needs --track\n")
    if args.tuning and args.board:
        options.exit(2, f"{options.prog}: error: --tuning: tuning runs never go on a board\n")
    settings = TRACKS[args.track] if args.track else DEFAULTS
    if args.tuning:
        settings = {**settings, "tree_seed": TRACK_SETTINGS[args.track].tuning_seed}
    clashes = [
        f"--{name.replace('_', '-')} {shown(getattr(args, name))} (the track's: {shown(value)})"
        for name, value in settings.items()
        if args.track and getattr(args, name) not in (None, value)
    ]
    if clashes:
        options.exit(
            2,
            f"{options.prog}: error: --track {args.track} fixes {'; '.join(clashes)}; "
            f"leave these out or leave out --track\n",
        )
    for name, value in settings.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.seeds < 2:
        options.exit(2, f"{options.prog}: error: --seeds {args.seeds}: the verdict needs >= 2\n")
    return args


def shown(value: object) -> str:
    """An option's value as it is typed."""
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


def seed_std(values: list[float]) -> float:
    """The seed-to-seed spread: the sample standard deviation (ddof 1) of a few seeds."""
    return float(np.std(values, ddof=1))


def paired_interval(differences: list[float]) -> tuple[float, float, float]:
    """Mean of per-seed paired differences and its two-sided CONFIDENCE interval, Student's
    t with n - 1 degrees of freedom (seeds pair the runs: same seed, same tree)."""
    n = len(differences)
    mean = float(np.mean(differences))
    half = scipy.stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1) * seed_std(differences) / np.sqrt(n)
    return mean, mean - float(half), mean + float(half)


def main() -> None:
    args = arguments()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    tree = render(args)
    if args.render_only:
        print(tree)
        return
    rendered = time.perf_counter()
    train_and_evaluate(args, tree)
    trained = time.perf_counter()
    scores = collect(args, tree)
    print_table(args, tree, scores)
    print(
        f"\nrender {rendered - started:.0f} s, train + evaluate {trained - rendered:.0f} s, "
        f"total {time.perf_counter() - started:.0f} s"
    )
    errors = print_predictor_errors(args, tree)
    print_frozen_backbone_checks(args, tree)
    if args.board:
        publish(args, tree, args.board)
    sys.exit(verdict(scores, errors))


def train_and_evaluate(args: argparse.Namespace, tree: Path) -> None:
    """Every run's training and evaluation (and each seed's random init), --jobs at a time."""
    seeds = range(args.seeds)
    # The bound first: whether this scale can learn pose at all is the first thing to know.
    pipelines = [commands(args, tree, BOUND, 0)] + [
        commands(args, tree, method, seed) for seed in seeds for method in METHODS
    ]
    pipelines += [random_init(args, tree, seed) for seed in seeds]
    if args.board:
        pipelines += [
            commands(args, tree, method, seed)
            for seed in seeds
            for method in BOARD_METHODS
            if (method, seed) != (BOUND, 0)
        ]
    refuse_stale_runs(args, pipelines)
    for seed in seeds:
        write_random_init(args, tree, seed)
    with ThreadPoolExecutor(args.jobs) as pool:
        list(pool.map(lambda pipeline: run_pipeline(args, pipeline), pipelines))


@dataclass(frozen=True)
class Scores:
    """The results the table and the verdict read, and the levels they compare with."""

    runs: dict[str, list[Results]]  # SIE's and VICReg's, by seed
    others: dict[str, list[Results]]  # with --board, the board's other methods, by seed
    randoms: list[Results]  # each seed's random init
    bound: Results  # the supervised bound, seed 0
    floor: float  # the constant predictor's rotation R^2
    chance_top1: float
    chance_mrr: float


def collect(args: argparse.Namespace, tree: Path) -> Scores:
    def results(method: str) -> list[Results]:
        return [read_results(run_dir(args, tree, method, s) / "results.json") for s in seeds]

    seeds = range(args.seeds)
    runs = {method: results(method) for method in METHODS}
    levels = runs["sie"][0].reference or {}
    return Scores(
        runs=runs,
        others={method: results(method) for method in BOARD_METHODS} if args.board else {},
        randoms=[read_results(random_init_dir(args, tree, s) / "results.json") for s in seeds],
        bound=read_results(run_dir(args, tree, BOUND, 0) / "results.json"),
        floor=constant_floor(tree),
        chance_top1=levels.get("classification", {}).get("top1"),
        chance_mrr=levels.get("equivariance", {}).get("mrr"),
    )


def print_table(args: argparse.Namespace, tree: Path, scores: Scores) -> None:
    """Each run's scores, each method's mean and seed std, and the reference rows."""
    categories = len(set(TreeIndex.load(tree, "train").labels))
    print(
        f"\n{tree.name}: {args.per_class} objects x {categories} categories, {args.views} views; "
        f"ResNet width {args.width}, {args.resolution} px, {args.epochs} epochs, "
        f"batch {args.batch_size}, projector {args.projector}; reference probes"
    )
    print(row("", []) + "".join(f"{name:>13}" for name, *_ in COLUMNS) + f"{'MRR':>13}")
    for seed in range(args.seeds):
        for method, results in scores.runs.items():
            values = [score(results[seed], *key) for _, *key in COLUMNS]
            print(row(f"{method} seed {seed}", [*values, score(results[seed], *MRR)]))
    for method, results in {**scores.runs, **scores.others}.items():
        columns = [[score(r, *key) for r in results] for _, *key in (*COLUMNS, (None, *MRR))]
        means = [None if None in column else float(np.mean(column)) for column in columns]
        stds = [None if None in column else seed_std(column) for column in columns]
        print(row(f"{method} mean", means))
        print(row(f"{method} std", stds))
    random_means = [[score(r, *key) for r in scores.randoms] for _, *key in COLUMNS]
    print(row("random init mean", [None if None in v else float(np.mean(v)) for v in random_means]))
    print(row("constant", [None, None, scores.floor, None, None]))
    bound = [score(scores.bound, *COLUMNS[0][1:]), None, score(scores.bound, *ROTATION_R2)]
    print(row("supervised bound", bound))
    chance_top1, chance_mrr = scores.chance_top1, scores.chance_mrr
    print(row("chance", [chance_top1, chance_top1, None, None, None, chance_mrr]))


def print_predictor_errors(args: argparse.Namespace, tree: Path) -> list[tuple[float, ...]]:
    """SIE's predictor errors on validation pairs, per seed (printed and returned)."""
    print("\nSIE predictor on validation pairs, MSE(prediction, e_j):")
    errors = [
        predictor_errors(run_dir(args, tree, "sie", seed), tree) for seed in range(args.seeds)
    ]
    for seed, (own, other, unchanged) in enumerate(errors):
        print(
            f"  seed {seed}: with the pair's rotation {own:.3f}, with another pair's "
            f"{other:.3f} (ratio {own / other:.2f}); e_i itself {unchanged:.3f}"
        )
    return errors


def print_frozen_backbone_checks(args: argparse.Namespace, tree: Path) -> None:
    """The diagnostic of frozen_backbone_check on the bound's, SIE's, VICReg's and an
    untrained backbone."""
    print(
        "\nSIE's heads and loss (3000 steps of 32 pairs) on a frozen backbone: the predictor's "
        "validation error with the pair's rotation / another pair's, and its MRR"
    )
    sie_run = run_dir(args, tree, "sie", 0)
    config = run_config(sie_run)
    for label, backbone in (
        ("supervised bound's", load_encoder(*trained_backbone(run_dir(args, tree, BOUND, 0)))),
        ("SIE seed 0's", load_encoder(*trained_backbone(sie_run))),
        ("VICReg seed 0's", load_encoder(*trained_backbone(run_dir(args, tree, "vicreg", 0)))),
        ("untrained", build_model(config).backbone),
    ):
        [(own, other, mrr)] = frozen_backbone_check(backbone, sie_run, tree)
        print(f"  {label:<20} {own:.3f} / {other:.3f} (ratio {own / other:.2f}), MRR {mrr:.3f}")


BOARD_DATASET = MINI.display_name


def publish(args: argparse.Namespace, tree: Path, board: Path) -> None:
    """Submit every run's results to ``board`` as "<run> seed <k>" and rebuild the board."""
    runs = [
        (run_dir(args, tree, method, seed), f"{run_label(args, method)} seed {seed}")
        for method in (*METHODS, *BOARD_METHODS)
        for seed in range(args.seeds)
    ]
    runs += [(random_init_dir(args, tree, s), f"{UNTRAINED} seed {s}") for s in range(args.seeds)]
    submit_runs(runs, board)


def submit_runs(runs: list[tuple[Path, str]], board: Path) -> None:
    """Submit each run folder's results.json to ``board`` under its name (a results file per
    run, named apart so the board takes them all) and rebuild the board. Runs already on the
    board's track under their name are left as they are."""
    on_board = {(entry.track, entry.name) for entry in load_board(board).entries}
    for run, name in runs:
        data = json.loads((run / "results.json").read_text())
        if (Track.of(data), name) in on_board:
            continue
        data["encoder"]["name"] = name
        named = run / "board-results.json"
        write_json_atomic(named, data)
        submit(named, board, dataset_name=BOARD_DATASET)
        print(f"submitted {name} to {board}")
    build(board)


def run_label(args: argparse.Namespace, method: str) -> str:
    """The method and the loss weights it was given, e.g. "sie equi=45 pred_std=0"."""
    return " ".join([method, *weights(args, method)])


def trained_backbone(run: Path) -> tuple:
    """load_encoder's arguments for a run's exported weights."""
    config = run_config(run)
    return run / "final.pth", config.width, config.layers, config.backbone


MRR = ("equivariance", "predictor", "mrr")


def verdict(scores: Scores, errors: list[tuple[float, ...]]) -> int:
    """Check each part of the claim; print it with its figures. 0: holds, 1: does not,
    2: this scale cannot tell (the supervised bound does not clear the constant predictor)."""
    runs, floor = scores.runs, scores.floor
    chance_top1, chance_mrr = scores.chance_top1, scores.chance_mrr
    bound = score(scores.bound, *ROTATION_R2)
    sie = [score(r, *ROTATION_R2) for r in runs["sie"]]
    vicreg = [score(r, *ROTATION_R2) for r in runs["vicreg"]]
    spread = STD_FACTOR * max(seed_std(sie), seed_std(vicreg))
    trained = {**runs, **scores.others}
    top1 = {m: [score(r, *COLUMNS[0][1:]) for r in rs] for m, rs in trained.items()}
    random_top1 = min(score(r, *COLUMNS[0][1:]) for r in scores.randoms)
    mrr = [score(r, *MRR) for r in runs["sie"]]
    differences = [s - v for s, v in zip(sie, vicreg, strict=True)]
    mean, low, high = paired_interval(differences)
    learnable = bound >= floor + BOUND_MARGIN
    checks = [
        (
            learnable,
            f"supervised bound {bound:.3f} >= constant {floor:.3f} + {BOUND_MARGIN}",
        ),
        (
            len(differences) >= MIN_SEEDS,
            f"at least {MIN_SEEDS} training seeds per method: {len(differences)}",
        ),
        (
            all(min(v) >= TOP1_CHANCE_FACTOR * chance_top1 for v in top1.values()),
            "top-1 of every trained method >= "
            f"{TOP1_CHANCE_FACTOR:g} x chance {chance_top1:.1f}: "
            + ", ".join(f"{m} min {min(v):.1f}" for m, v in top1.items())
            + f" (random init min {random_top1:.1f})",
        ),
        (
            all(own <= PREDICTOR_ERROR_RATIO * other for own, other, _ in errors),
            f"SIE predictor error with the true rotation <= {PREDICTOR_ERROR_RATIO} x with a "
            "shuffled one, every seed: ratios "
            + ", ".join(f"{own / other:.2f}" for own, other, _ in errors),
        ),
        (
            None not in mrr and min(mrr) >= MRR_CHANCE_FACTOR * chance_mrr,
            f"SIE predictor MRR >= {MRR_CHANCE_FACTOR:g} x chance {chance_mrr:.3f}: "
            + ", ".join("-" if m is None else f"{m:.3f}" for m in mrr),
        ),
        (
            all(s - v > spread for s, v in zip(sie, vicreg, strict=True)),
            f"SIE rotation R^2 > VICReg's by more than {STD_FACTOR:g} x the seed std "
            f"({spread:.3f}) in every seed: differences "
            + ", ".join(f"{d:+.3f}" for d in differences),
        ),
        (
            low > 0,
            f"SIE - VICReg rotation R^2, paired by seed: mean {mean:+.3f}, "
            f"{CONFIDENCE:.0%} t interval [{low:+.3f}, {high:+.3f}] above 0",
        ),
    ]
    print()
    for passed, text in checks:
        print(f"  [{'pass' if passed else 'FAIL'}] {text}")
    if not learnable:
        print("INCONCLUSIVE: even the supervised bound does not clear the constant predictor")
        return 2
    if all(passed for passed, _ in checks):
        print("the claim holds")
        return 0
    print("the claim DOES NOT HOLD on this track")
    return 1


def run_main(main: Callable[[], None]) -> None:
    """A benchmark's entry point: bad input (an IebenchError: a wrong path, a damaged file, a
    rejected submission) ends it in one line naming the file, not a traceback."""
    try:
        main()
    except IebenchError as error:
        sys.exit(str(error))


if __name__ == "__main__":
    run_main(main)
