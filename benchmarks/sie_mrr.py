"""What SIE's predictor MRR on the mini track needs, and what moves it.

    python benchmarks/sie_mrr.py calibrate --track-runs leaderboard/mini-track --data TREE
    python benchmarks/sie_mrr.py refit RUN --data TREE --steps 3000 10000
    python benchmarks/sie_mrr.py train --tuning --sie-weight equi=90 --seeds 3  # a candidate
    python benchmarks/sie_mrr.py train --sie-weight equi=90                     # its verdict
    python benchmarks/sie_mrr.py publish RUN... --data TREE --board B --label "sie equi=90"

``calibrate`` asks what MRR a predictor of a given error can reach on a run's own embeddings.
The harness ranks the prediction of view v (from view 0 and R_0^-1 R_v) by cosine similarity
among the object's own view embeddings, so what matters is the error on the unit sphere
against how far apart an object's views lie there. For each SIE run (its submission file,
loaded as ``iebench evaluate`` loads it) it embeds every validation view and prints the views'
spread (mean squared distance between an object's unit-norm view embeddings) and nearest
distance, the run's predictor's squared error relative to the spread (all of it, and the part
in the directions the object's views differ in, its "span"), its MRR, and the MRR of an
oracle: the true target embedding plus Gaussian noise of a given relative squared error,
isotropic or confined to the span. The oracle's curve says which relative error an MRR needs;
its value at the run's own in-span error, set beside the run's MRR, says whether the
predictor's error costs more than random noise of its size.

``refit`` trains SIE's heads afresh, with its loss, on each run's frozen backbone for a given
number of steps: how far a better-trained predictor moves MRR on that backbone.

``publish`` evaluates SIE run folders moved into the board's repository where they now lie and
submits them to a board as "<label> seed <k>".

``train`` trains SIE with the track's settings but the given loss weights (or epochs) on the
track's tuning tree (``--tuning``, where settings are chosen) or its verdict tree, through
``benchmarks/sie_vs_vicreg.py``'s pipeline (same run folders, stamps and evaluation), and
prints each seed's top-1, rotation R^2 and predictor MRR beside 1.5x chance.
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import sie_vs_vicreg as pipeline  # beside this file: the track's pipeline
import torch
import torch.nn.functional as F

from iebench.core.io import write_text_atomic
from iebench.core.seeding import numpy_generator
from iebench.data.tree import TreeIndex
from iebench.evaluation.features import dataset_fingerprint
from iebench.evaluation.metrics import mrr_hits
from iebench.evaluation.submission import load_submission
from iebench.leaderboard import load_board
from iebench.protocol.factors import relative_quaternion
from iebench.protocol.reference import chance_retrieval
from iebench.protocol.results import read_results
from iebench.protocol.tracks import MINI
from iebench.training import TrainConfig
from iebench.training.export import load_encoder, run_submission_source

# Squared errors, relative to the mean squared distance between an object's views, at which
# the oracle is scored.
RELATIVE_ERRORS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0)
ORACLE_DRAWS = 5


@torch.no_grad()
def embeddings_and_predictions(run: Path, tree: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit-norm (objects, views, dims) validation embeddings of a run's projector and its
    predictor's unit-norm predictions of each view from view 0, with the run's submission
    file loaded as ``iebench evaluate`` loads it."""
    submission = load_submission(run / "submission.py")
    backbone, predictor = submission.encoder.eval(), submission.predictor
    features, euler = pipeline.view_features(backbone, tree, "val", submission.metadata.resolution)
    objects, views, _ = features.shape
    embeddings = predictor.project(features.flatten(0, 1)).view(objects, views, -1)
    sources = embeddings[:, :1].expand_as(embeddings).flatten(0, 1)
    rotations = relative_quaternion(np.repeat(euler[:, :1], views, axis=1), euler)
    rotations = torch.from_numpy(rotations.astype(np.float32)).flatten(0, 1)
    predictions = predictor.predict(sources, rotations).view_as(embeddings)
    return F.normalize(embeddings, dim=-1), F.normalize(predictions, dim=-1)


def view_spread(embeddings: torch.Tensor) -> tuple[float, float]:
    """Mean squared distance between an object's different unit-norm view embeddings, and
    from each view to its nearest other view of the same object."""
    distances = torch.cdist(embeddings, embeddings).square()
    views = embeddings.shape[1]
    other = ~torch.eye(views, dtype=torch.bool)
    mean = distances[:, other].mean()
    nearest = distances.masked_fill(~other, float("inf")).amin(dim=-1).mean()
    return float(mean), float(nearest)


def view_span(embeddings: torch.Tensor) -> torch.Tensor:
    """Per object, an orthonormal basis (objects, views, dims) of the span of its centred
    view embeddings, rows beyond its rank zeroed: the directions in which its views differ."""
    centred = embeddings - embeddings.mean(dim=1, keepdim=True)
    _, singular, basis = torch.linalg.svd(centred, full_matrices=False)
    kept = singular > 1e-4 * singular[:, :1]
    return basis * kept[..., None]


def in_span(vectors: torch.Tensor, span: torch.Tensor) -> torch.Tensor:
    """``vectors`` (objects, views, dims) projected onto each object's view span."""
    return vectors @ span.transpose(1, 2) @ span


def oracle_mrr(
    embeddings: torch.Tensor, relative_error: float, spread: float, key: str, span=None
) -> float:
    """MRR of predicting each unit-norm view embedding by itself plus Gaussian noise whose
    expected squared norm is ``relative_error`` x the views' spread (mean over ORACLE_DRAWS
    draws): isotropic, or confined to each object's view span when ``span`` is given."""
    # An object whose views all embed alike has an empty span: no noise can move it.
    dims = embeddings.shape[-1] if span is None else span.square().sum((1, 2))[:, None, None]
    dims = torch.clamp(torch.as_tensor(dims, dtype=torch.float32), min=1)
    scale = torch.sqrt(torch.as_tensor(relative_error * spread) / dims)
    scores = []
    for draw in range(ORACLE_DRAWS):
        generator = numpy_generator(0, "mrr-oracle", key, relative_error, span is None, draw)
        noise = torch.from_numpy(generator.standard_normal(embeddings.shape).astype(np.float32))
        if span is not None:
            noise = in_span(noise, span)
        scores.append(mrr_hits(embeddings + scale * noise, embeddings)["mrr"])
    return float(np.mean(scores))


def oracle_at(curve: list[tuple[float, float]], relative_error: float) -> float:
    """The oracle's MRR at ``relative_error`` (linear between the measured points)."""
    errors, mrrs = zip(*curve, strict=True)
    return float(np.interp(relative_error, errors, mrrs))


def needed_relative_error(curve: list[tuple[float, float]], target: float) -> float:
    """The relative error at which the oracle's MRR falls to ``target`` (linear between the
    measured points; the curve falls with the error)."""
    errors, mrrs = zip(*curve, strict=True)
    return float(np.interp(target, mrrs[::-1], errors[::-1]))


@dataclass(frozen=True)
class Calibration:
    """One run's figures: its views' spread, its predictor's error and MRR, and the oracle."""

    spread: float
    nearest: float
    error: float
    error_in_span: float
    mrr: float
    unmoved_mrr: float  # view 0's embedding as every prediction
    curves: dict[str, list[tuple[float, float]]]  # oracle (relative error, MRR), by noise kind

    def relative(self, error: float) -> float:
        """``error`` over the views' spread; nan when every view embeds alike."""
        return error / self.spread if self.spread > 0 else float("nan")


def calibration(embeddings: torch.Tensor, predictions: torch.Tensor, key: str) -> Calibration:
    """The figures of unit-norm (objects, views, dims) embeddings and predictions of them."""
    spread, nearest = view_spread(embeddings)
    span = view_span(embeddings)
    miss = predictions - embeddings
    return Calibration(
        spread=spread,
        nearest=nearest,
        error=float(miss.square().sum(-1).mean()),
        error_in_span=float(in_span(miss, span).square().sum(-1).mean()),
        mrr=mrr_hits(predictions, embeddings)["mrr"],
        unmoved_mrr=mrr_hits(embeddings[:, :1].expand_as(embeddings), embeddings)["mrr"],
        curves={
            kind: [(e, oracle_mrr(embeddings, e, spread, key, part)) for e in RELATIVE_ERRORS]
            for kind, part in (("isotropic", None), ("in span", span))
        },
    )


def calibrate(runs: list[Path], tree: Path) -> None:
    chance = chance_retrieval(TreeIndex.load(tree, "val").views)["mrr"]
    target = pipeline.MRR_CHANCE_FACTOR * chance
    print(
        f"{tree.name}, validation views; squared distances on the unit sphere; MRR chance "
        f"{chance:.3f}, {pipeline.MRR_CHANCE_FACTOR:g}x chance {target:.3f}"
    )
    print(
        f"\n{'run':<40}{'spread':>8}{'nearest':>8}{'error':>8}{'rel.':>7}{'in span':>8}"
        f"{'MRR':>7}{'e_0 MRR':>8}{'oracle':>8}{'needs':>7}{'in span':>8}"
    )
    figures = {}
    for run in runs:
        figures[run.name] = one = calibration(*embeddings_and_predictions(run, tree), run.name)
        needs = [needed_relative_error(curve, target) for curve in one.curves.values()]
        print(
            f"{run.name:<40}{one.spread:>8.4f}{one.nearest:>8.4f}{one.error:>8.4f}"
            f"{one.relative(one.error):>7.2f}{one.relative(one.error_in_span):>8.2f}"
            f"{one.mrr:>7.3f}{one.unmoved_mrr:>8.3f}"
            f"{oracle_at(one.curves['in span'], one.relative(one.error_in_span)):>8.3f}"
            f"{needs[0]:>7.2f}{needs[1]:>8.2f}"
        )
    print(f"\noracle MRR at relative error{' ' * 22}{''.join(f'{e:>7g}' for e in RELATIVE_ERRORS)}")
    for name, one in figures.items():
        for kind, curve in one.curves.items():
            print(f"{name:<40}{kind:>10}{''.join(f'{m:>7.3f}' for _, m in curve)}")
    print(
        "\nspread / nearest: mean squared distance between an object's unit-norm view embeddings "
        "/ from each view to its nearest other view; error: the run's predictor's mean squared "
        "error on the same sphere; rel.: error / spread; in span: the part of it in the "
        "directions the object's views differ in, / spread; e_0 MRR: view 0's embedding "
        "itself as every prediction (a predictor that ignores the rotation); oracle: the MRR "
        "of in-span noise as large as the predictor's in-span error; needs: the "
        f"relative error at which the oracle (target + noise, isotropic / in the views' span) "
        f"falls to MRR {target:.3f}"
    )


def refit(runs: list[Path], tree: Path, steps: list[int]) -> None:
    """SIE's heads trained afresh with its loss on each run's frozen backbone, for each number
    of steps: the MRR the backbone allows once the predictor has had more training."""
    print(f"{tree.name}: fresh SIE heads on each run's frozen backbone, batches of 32 pairs")
    print(f"{'run':<40}{'own MRR':>9}" + "".join(f"{f'{n} steps':>14}" for n in steps))
    for run in runs:
        own = mrr_hits(*reversed(embeddings_and_predictions(run, tree)))["mrr"]
        backbone = load_encoder(*pipeline.trained_backbone(run))
        mrrs = [mrr for *_, mrr in pipeline.frozen_backbone_check(backbone, run, tree, steps)]
        print(f"{run.name:<40}{own:>9.3f}" + "".join(f"{m:>14.3f}" for m in mrrs))


def candidate_settings(args: argparse.Namespace) -> argparse.Namespace:
    """sie_vs_vicreg's settings of the track (its tuning tree with --tuning) with the given
    SIE weights and epochs, which a candidate changes."""
    options = ["--track", "mini", "--out", str(args.out), "--jobs", str(args.jobs)]
    settings = pipeline.arguments([*options, *(["--tuning"] if args.tuning else [])])
    settings.sie_weight = args.sie_weight or settings.sie_weight
    settings.epochs = args.epochs or settings.epochs
    return settings


def train(args: argparse.Namespace) -> None:
    """SIE with the track's settings and the given weights or epochs, seeds 0..N-1."""
    settings = candidate_settings(args)
    tree = pipeline.render(settings)
    seeds = range(args.seeds)
    pipelines = [pipeline.commands(settings, tree, "sie", seed) for seed in seeds]
    pipeline.refuse_stale_runs(settings, pipelines)
    with ThreadPoolExecutor(settings.jobs) as pool:
        list(pool.map(lambda one: pipeline.run_pipeline(settings, one), pipelines))
    chance = None
    print(f"\n{tree.name}: SIE {' '.join(settings.sie_weight)}, {settings.epochs} epochs")
    for seed, one in enumerate(pipelines):
        results = read_results(one.run / "results.json")
        chance = (results.reference or {}).get("equivariance", {}).get("mrr")
        own, other, _ = pipeline.predictor_errors(one.run, tree)
        print(
            f"  seed {seed}: top-1 {pipeline.score(results, *pipeline.COLUMNS[0][1:]):.1f}, "
            f"rotation R^2 {pipeline.score(results, *pipeline.ROTATION_R2):.3f}, "
            f"predictor MRR {pipeline.score(results, *pipeline.MRR):.3f}, "
            f"error ratio {own / other:.2f}"
        )
    print(f"  MRR chance {chance:.3f}, {pipeline.MRR_CHANCE_FACTOR:g}x chance "
          f"{pipeline.MRR_CHANCE_FACTOR * chance:.3f}")  # fmt: skip
    if args.vicreg_board:
        print_paired(
            [pipeline.run_dir(settings, tree, "sie", seed) / "results.json" for seed in seeds],
            board_results(args.vicreg_board, tree, [f"vicreg seed {seed}" for seed in seeds]),
        )


def board_results(board: Path, tree: Path, names: list[str]) -> list[Path]:
    """The results files of ``names`` on ``board``'s track of ``tree`` (its fingerprint)."""
    fingerprint = dataset_fingerprint(tree)
    found = {
        entry.name: board / "results" / entry.path
        for entry in load_board(board).entries
        if entry.data["dataset"]["fingerprint"] == fingerprint
    }
    missing = [name for name in names if name not in found]
    if missing:
        sys.exit(f"{board}: no {', '.join(missing)} on the track of {tree.name}")
    return [found[name] for name in names]


def print_paired(sie: list[Path], vicreg: list[Path]) -> None:
    """SIE's rotation R^2 against VICReg's of the same seeds, as the track's verdict judges it."""
    sie_r2, vicreg_r2 = (
        [pipeline.score(read_results(path), *pipeline.ROTATION_R2) for path in paths]
        for paths in (sie, vicreg)
    )
    differences = [a - b for a, b in zip(sie_r2, vicreg_r2, strict=True)]
    mean, low, high = pipeline.paired_interval(differences)
    spread = pipeline.STD_FACTOR * max(pipeline.seed_std(sie_r2), pipeline.seed_std(vicreg_r2))
    print(
        "  SIE - VICReg rotation R^2 by seed: "
        + ", ".join(f"{d:+.3f}" for d in differences)
        + f"; {pipeline.STD_FACTOR:g} x the larger seed std {spread:.3f}; paired mean "
        f"{mean:+.3f}, {pipeline.CONFIDENCE:.0%} t interval [{low:+.3f}, {high:+.3f}]"
    )


def publish(runs: list[Path], tree: Path, board: Path, label: str) -> None:
    """Put SIE run folders on ``board`` as "<label> seed <k>": each moved into the board's
    repository beforehand (e.g. under leaderboard/mini-track/runs/), its submission file
    written again for where it now lies, evaluated there (so its results record paths relative
    to the repository and the board can find its weights), then submitted."""
    named = []
    for run in runs:
        config = replace(TrainConfig.load(run / "config.json"), out=run)
        write_text_atomic(run / "submission.py", run_submission_source(config))
        command = pipeline.evaluate_command(
            run / "submission.py", tree, f"{pipeline.TASKS},equivariance", run / "results.json",
            None, "--quiet",
        )  # fmt: skip
        pipeline.run_all([command], threads=1)
        named.append((run, f"{label} seed {config.seed}"))
    pipeline.submit_runs(named, board)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=Path(__file__).name, description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    runs_options = argparse.ArgumentParser(add_help=False)
    runs_options.add_argument("runs", nargs="*", type=Path, help="SIE run folders")
    runs_options.add_argument(
        "--track-runs",
        type=Path,
        help="a sie_vs_vicreg --track mini --out folder: its verdict tree's SIE runs",
    )
    runs_options.add_argument("--data", type=Path, help="the tree the runs were evaluated on")
    commands.add_parser(
        "calibrate", help="the oracle MRR curve of SIE runs", parents=[runs_options]
    )
    refitting = commands.add_parser(
        "refit", help="fresh SIE heads on the runs' frozen backbones", parents=[runs_options]
    )
    refitting.add_argument("--steps", type=int, nargs="+", default=[3000, 10000])
    publishing = commands.add_parser(
        "publish", help="evaluate SIE runs where they lie and submit them", parents=[runs_options]
    )
    publishing.add_argument("--board", type=Path, required=True)
    publishing.add_argument("--label", required=True, help='the rows\' name, e.g. "sie equi=90"')
    training = commands.add_parser("train", help="SIE on the track with other weights")
    training.add_argument("--sie-weight", action="append", metavar="NAME=VALUE")
    training.add_argument("--epochs", type=int)
    training.add_argument("--seeds", type=int, default=MINI.seeds)
    training.add_argument("--tuning", action="store_true", help="on the track's tuning tree")
    training.add_argument("--out", type=Path, default=pipeline.parser().get_default("out"))
    training.add_argument("--jobs", type=int, default=2)
    training.add_argument(
        "--vicreg-board",
        type=Path,
        help='a board with the track\'s VICReg rows of the same tree ("vicreg seed <k>", e.g. '
        "leaderboard): also print SIE - VICReg rotation R^2 paired by seed",
    )
    return parser


def main() -> None:
    args = parser().parse_args()
    torch.set_num_threads(1)
    if args.command == "train":
        train(args)
        return
    runs = list(args.runs)
    if args.track_runs:
        runs += sorted((args.track_runs / "runs").glob(f"*-seed{MINI.verdict_seed}/sie-*"))
    if not runs:
        sys.exit(f"{args.command}: no SIE run folders given")
    if args.data is None:
        sys.exit(f"{args.command}: pass --data TREE (the tree the runs were evaluated on)")
    if args.command == "refit":
        refit(runs, args.data, args.steps)
    elif args.command == "publish":
        publish(runs, args.data, args.board, args.label)
    else:
        calibrate(runs, args.data)


if __name__ == "__main__":
    pipeline.run_main(main)
