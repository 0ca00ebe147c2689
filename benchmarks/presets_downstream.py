"""Does a score depend on the render preset? The mini track's checkpoints on re-rendered views.

    python benchmarks/presets_downstream.py --runs leaderboard/mini-track

Renders the validation objects of the mini track's verdict tree again with each preset
(preview, default, reference) at 64 px, and the first ``--per-class-128`` of each category
at 128 px (same dataset seed, so the same objects, rotations and latents; checked), and
evaluates the same trained checkpoints on each: seed 0 of SIE, VICReg and the rotation-
supervised bound, from the track's run folders (``--runs``: a ``sie_vs_vicreg.py --track
mini --out`` folder, e.g. the board's committed one). Each evaluation tree is the verdict
tree with its validation views replaced: the probes still train on the training views the
checkpoints were trained on (preview, 64 px), so a difference measures what the preset of
the evaluated views changes. 128 px views are resized to the encoders' 64 px as ``iebench
evaluate --allow-resolution-mismatch`` does. Prints every score's difference against the
reference preset at the same resolution beside the probe-seed sample std (``--probe-seeds``
probes per score), and the render time of each preset.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import sie_vs_vicreg as pipeline  # beside this file: the track's pipeline

from iebench.core.locks import hold_or_refuse
from iebench.data.tree import TreeIndex
from iebench.objects import builtin_objects
from iebench.protocol.layout import split_files
from iebench.protocol.results import read_results
from iebench.protocol.tracks import MINI
from iebench.rendering import RenderConfig, render_objects
from iebench.scene.presets import PRESETS

RESOLUTIONS = (64, 128)
LOCK_NAME = "presets.lock"
BASELINE = "reference"
METHODS = ("sie", "vicreg", pipeline.BOUND)
# (label, task, part, metric): the scores compared; SIE's predictor MRR for SIE only.
SCORES = (*((name, *key) for name, *key in pipeline.COLUMNS), ("MRR", *pipeline.MRR))


def val_objects(tree: Path, per_class: int | None) -> list[tuple[str, str]]:
    """The verdict tree's validation objects, the first ``per_class`` of each category (all
    when None)."""
    objects = TreeIndex.load(tree, "val").objects
    if per_class is None:
        return list(objects)
    taken: dict[str, int] = {}
    chosen = []
    for synset, object_id in objects:
        if taken.get(synset, 0) < per_class:
            taken[synset] = taken.get(synset, 0) + 1
            chosen.append((synset, object_id))
    return chosen


def render_val(
    args: argparse.Namespace, objects: list[tuple[str, str]], preset: str, resolution: int
) -> Path:
    """``objects`` (the verdict tree's) rendered with ``preset`` at ``resolution``, all into
    one split: their views are moved into an evaluation tree. Resumes a render left part-way."""
    out = args.work / f"val-{preset}-{resolution}px"
    listing = args.work / f"val-objects-{resolution}px.txt"
    listing.write_text("".join(f"{synset}/{object_id}\n" for synset, object_id in objects))
    config = RenderConfig(
        out=out,
        objects=builtin_objects(per_class=MINI.per_class, seed=MINI.verdict_seed),
        objects_list=listing,
        seed=MINI.verdict_seed,
        synsets=MINI.categories,
        views=MINI.views,
        preset=preset,
        resolution=resolution,
        factors=MINI.factors,
        val_fraction=0,
        workers=args.jobs,
        progress=False,
    )
    report = render_objects(config, log=lambda message: None)
    if not report.ok:
        sys.exit(f"render failed: {report.summary()}")
    return out


def evaluation_tree(tree: Path, rendered: Path, out: Path) -> Path:
    """``tree`` with its validation split replaced by the objects of ``rendered`` (a tree of
    some of them, in its train split): their views, and the split files restricted to them.
    Files are hard-linked, never copied. Refused when a re-rendered object's latents are
    not the original's (another seed or factor spec would change what is scored)."""
    if out.exists():
        return out
    original, again = TreeIndex.load(tree, "val"), TreeIndex.load(rendered, "train")
    rows = [original.objects.index(o) for o in again.objects if o in original.objects]
    if len(rows) != len(again.objects):
        sys.exit(f"{rendered}: holds objects that are not in {tree}'s validation split")
    if not np.array_equal(again.latents, original.latents[rows]):
        sys.exit(f"{rendered}: latents differ from {tree}'s validation split")
    building = out.with_name(out.name + ".partial")
    shutil.rmtree(building, ignore_errors=True)
    shutil.copytree(tree, building, copy_function=os.link, ignore=shutil.ignore_patterns("*.lock"))
    for synset, object_id in original.objects:
        shutil.rmtree(building / synset / object_id)
    for synset, object_id in again.objects:
        folder = Path(synset) / object_id
        shutil.copytree(rendered / folder, building / folder, copy_function=os.link)
    val, source = split_files(building, "val"), split_files(tree, "val")
    for name in ("images", "labels", "latents"):
        target = getattr(val, name)
        target.unlink()  # a link to the original's: never written through
        values = np.load(getattr(source, name))
        if name == "latents":  # one row per view
            values = values.reshape(len(original.objects), original.views, -1)
        np.save(target, np.concatenate(values[rows]) if name == "latents" else values[rows])
    building.rename(out)
    return out


def evaluate(args: argparse.Namespace, run: Path, data: Path, method: str) -> Path:
    """`iebench evaluate` of a run's submission file on ``data`` (reused when done)."""
    out = args.work / "results" / f"{data.name}-{run.name}.json"
    if out.is_file():
        return out
    tasks = pipeline.TASKS + (",equivariance" if method == "sie" else "")
    command = pipeline.evaluate_command(
        run / "submission.py", data, tasks, out, args.work / "features",
        "--seeds", str(args.probe_seeds), "--allow-resolution-mismatch", "--quiet",
    )  # fmt: skip
    pipeline.run_all([command], args.jobs)
    return out


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=Path(__file__).name, description=__doc__.split("\n")[0])
    parser.add_argument(
        "--runs", type=Path, required=True, help="the track's sie_vs_vicreg --out folder"
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=pipeline.parser().get_default("out").with_name("presets"),
        help="where the verdict tree, the re-renders and the evaluations go (reused)",
    )
    parser.add_argument("--probe-seeds", type=int, default=3, help="probes per score (>= 2)")
    parser.add_argument(
        "--per-class-128",
        type=int,
        default=5,
        help="validation objects of each category rendered at 128 px (its cost is 4x a 64 px one)",
    )
    parser.add_argument("--jobs", type=int, default=2, help="Blender processes / torch threads")
    return parser


def main() -> None:
    args = parser().parse_args()
    if args.probe_seeds < 2:
        sys.exit(f"--probe-seeds {args.probe_seeds}: the spread needs at least 2")
    track = pipeline.arguments(["--track", "mini", "--out", str(args.work)])
    settings = pipeline.arguments(["--track", "mini", "--out", str(args.runs)])
    planned_tree = pipeline.tree_path(track)
    runs = {method: pipeline.run_dir(settings, planned_tree, method, 0) for method in METHODS}
    for run in runs.values():  # before the render's minutes
        if not (run / "submission.py").is_file():
            sys.exit(f"{run}: no submission.py; --runs takes a sie_vs_vicreg --track mini --out")
    args.work.mkdir(parents=True, exist_ok=True)
    busy = "another preset comparison is writing here"
    with hold_or_refuse(args.work / LOCK_NAME, busy, "pass another --work"):
        compare(args, pipeline.render(track), runs)


def compare(args: argparse.Namespace, tree: Path, runs: dict[str, Path]) -> None:
    """Every preset's re-render, evaluation tree and evaluations; then the table."""
    results = {}
    for resolution in RESOLUTIONS:
        per_class = None if resolution == MINI.resolution else args.per_class_128
        objects = val_objects(tree, per_class)
        for preset in PRESETS:
            started = time.perf_counter()
            rendered = render_val(args, objects, preset, resolution)
            seconds = time.perf_counter() - started
            data = evaluation_tree(tree, rendered, args.work / f"eval-{preset}-{resolution}px")
            for method, run in runs.items():
                results[preset, resolution, method] = read_results(
                    evaluate(args, run, data, method)
                )
            print(
                f"{preset} {resolution} px: {len(objects)} validation objects x {MINI.views} "
                f"views, rendered in {seconds:.0f} s (0 when reused)"
            )
    print_table(list(PRESETS), results)


def print_table(presets: list[str], results: dict) -> None:
    """Each score at each preset, its difference against the reference preset at the same
    resolution, and the probe-seed sample std of the reference preset's score."""
    others = [preset for preset in presets if preset != BASELINE]
    header = "".join(f"{f'{p} - ref':>14}" for p in others)
    print(f"\n{'resolution, method, score':<38}{'reference':>11}{'probe std':>11}{header}")
    for resolution in RESOLUTIONS:
        for method in METHODS:
            for label, *key in SCORES:
                reference = results[BASELINE, resolution, method].scores
                value = reference.get(key[0], {}).get(key[1], {}).get(key[2])
                if value is None:
                    continue
                differences = "".join(
                    f"{pipeline.score(results[p, resolution, method], *key) - value.mean:>+14.3f}"
                    for p in others
                )
                print(
                    f"{f'{resolution} px {method} {label}':<38}{value.mean:>11.3f}"
                    f"{value.std:>11.3f}{differences}"
                )


if __name__ == "__main__":
    pipeline.run_main(main)
