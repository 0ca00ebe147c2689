"""`render_objects(config)`: discover, shard, plan every view, render on the worker pool with
resume, then write the manifest, failures.csv and the split files.

The tree is locked for the run (`iebench.core.locks`; each shard of a job array locks
its own share), so a second run into it is refused instead of mixing files."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import os
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from iebench import __version__
from iebench.core.errors import IebenchError
from iebench.core.io import TEMP_PREFIX, remove_stale_temps, write_text_atomic
from iebench.core.locks import hold_or_refuse
from iebench.data.splits import read_split_keys, seeded_split, split_like, write_split_files
from iebench.objects.shapenet import ShapeNetObject, discover, read_objects_list
from iebench.protocol.checksums import Checksums
from iebench.protocol.factors import sample_object, sample_view
from iebench.protocol.layout import (
    FAILURES_NAME,
    LOCK_NAME,
    MANIFEST_NAME,
    SHARD_LOCK_PATTERN,
    image_path,
    latent_path,
    object_dir,
    shard_names,
)
from iebench.protocol.manifest import Manifest, manifest_paths
from iebench.rendering.config import RenderConfig
from iebench.rendering.pool import ObjectJob, OnView, WorkerPool
from iebench.rendering.views import plan_view, remove_temp_files, view_complete, write_latent

if TYPE_CHECKING:
    from iebench.rendering.ray_pool import RayPool

Log = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Failure:
    object: str  # synset/id, or the path discovery passed over
    stage: str  # discover, model, render, crash, timeout
    reason: str


@dataclass
class RenderReport:
    out: Path
    manifest: Path
    failures_file: Path
    objects: int
    complete: int
    images_rendered: int
    images_found: int
    seconds: float
    failures: list[Failure] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    splits: dict | None = None

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        rate = self.images_rendered / self.seconds if self.seconds > 0 else 0.0
        lines = [
            f"{self.complete}/{self.objects} objects complete in {self.out}: "
            f"{self.images_rendered} images rendered ({rate:.2f} images/s), "
            f"{self.images_found} already there"
        ]
        if self.splits is not None:
            parts = [f"{s} {n['objects']} objects" for s, n in self.splits.items()]
            lines.append("split files: " + ", ".join(parts))
        if self.warnings:
            lines.append(f"{len(self.warnings)} warnings (see {self.manifest.name})")
        if self.failures:
            lines.append(f"{len(self.failures)} failed (see {self.failures_file}):")
            lines += [f"  {f.object}: [{f.stage}] {f.reason}" for f in self.failures[:10]]
            if len(self.failures) > 10:
                lines.append(f"  ... and {len(self.failures) - 10} more")
        return "\n".join(lines)


def output_names(config: RenderConfig) -> tuple[str, str]:
    """Manifest and failures file names; each shard of a job array writes its own."""
    if config.shard is None:
        return MANIFEST_NAME, FAILURES_NAME
    names = shard_names(*config.shard)
    return names.manifest, names.failures


def lock_tree(config: RenderConfig, log: Log) -> contextlib.ExitStack:
    """Lock the tree for this run: exclusively, or for a shard, shared with the other shards
    (and exclusively its own share); refuse in one line naming the holder."""
    what, instead = "another render is writing this tree", "render into another --out"
    with contextlib.ExitStack() as stack:
        tree = hold_or_refuse(
            config.out / LOCK_NAME,
            what,
            instead,
            shared=config.shard is not None,
            sharers=SHARD_LOCK_PATTERN,
        )
        stale = [stack.enter_context(tree)]
        if config.shard is not None:
            share = config.out / shard_names(*config.shard).lock
            stale.append(stack.enter_context(hold_or_refuse(share, what, instead)))
        for holder in filter(None, stale):
            log(f"{config.out}: taking over the lock of a run that died ({holder})")
        return stack.pop_all()


def select_objects(config: RenderConfig, log: Log) -> tuple[list[ShapeNetObject], list[Failure]]:
    """The objects of this run (after filters and sharding) and what discovery passed over."""
    root = config.objects
    if root is None:
        from iebench.objects import builtin_objects

        root = builtin_objects(**({"per_class": config.per_class} if config.per_class else {}))
        log(f"no --objects given: rendering the built-in object set from {root}")
    only = read_objects_list(config.objects_list) if config.objects_list else None
    found = discover(root, config.synsets, config.limit, config.per_class, only)
    failures = [Failure(s.path, "discover", s.reason) for s in found.skipped]
    objects = found.objects
    if config.shard is not None:
        index, count = config.shard
        objects = objects[index::count]
    if not objects:
        raise IebenchError(
            f"{root}: no objects to render{_selection(config, found.objects, failures)}"
        )
    return objects, failures


def _selection(config: RenderConfig, found: list, failures: list[Failure]) -> str:
    """Why a selection came out empty, for the refusal."""
    parts = []
    if config.synsets:
        parts.append(f"with --synsets {','.join(config.synsets)}")
    if config.objects_list:
        parts.append(f"listed in {config.objects_list}")
    if found and config.shard is not None:
        parts.append(f"in shard {config.shard[0]}/{config.shard[1]} of {len(found)} objects")
    if failures:
        parts.append(
            f"{len(failures)} passed over, e.g. {failures[0].object}: {failures[0].reason}"
        )
    return f" ({'; '.join(parts)})" if parts else ""


def plan_object(
    config: RenderConfig, item: ShapeNetObject, scratch: str
) -> tuple[ObjectJob, Checksums]:
    """The views of an object not complete on disk, planned, and its checksum record;
    leftovers of a killed run are removed first."""
    synset, object_id = item.synset, item.object_id
    directory = object_dir(config.out, synset, object_id)
    remove_temp_files(directory)
    checksums = Checksums.load(directory)
    missing = []
    for view in range(config.views):
        latent = sample_view(config.spec, config.seed, synset, object_id, view)
        image = image_path(config.out, synset, object_id, view)
        latent_file = latent_path(config.out, synset, object_id, view)
        if not view_complete(checksums, image, latent_file, latent):
            missing.append(
                plan_view(
                    config.spec, config.stage, config.seed, config.out, synset, object_id, view
                )
            )
    return ObjectJob(synset, object_id, item.mesh, tuple(missing), directory / scratch), checksums


def _check_compatible(config: RenderConfig) -> None:
    """Refuse to mix datasets: a tree keeps the identity it started with (`Manifest.identity`)."""
    planned = _manifest(config, None, _blender_version(None))
    paths = manifest_paths(config.out)
    if not paths and next(config.out.glob("*/*/latent_*.npy"), None) is not None:
        raise IebenchError(
            f"{config.out}: holds views not rendered by iebench (no {MANIFEST_NAME}); "
            "render into another --out"
        )
    for path in paths:
        Manifest.read(path).check_same_dataset(planned, path)


def _check_splits(config: RenderConfig, objects: list[ShapeNetObject]) -> None:
    """Refuse up front a run whose split files would have an empty side."""
    if config.shard is not None or (config.split_from is None and config.val_fraction == 0):
        return
    sides = _sides(
        config, [(item.synset, item.object_id) for item in objects], lambda message: None
    )
    for side, refs in sides.items():
        if refs:
            continue
        if config.split_from is not None:
            reason = f"none of the objects to render is in {config.split_from}'s {side} split"
        else:
            reason = (
                "no category has two objects (val takes objects of categories with at least "
                "two); render more objects per category, or all into train with --val-fraction 0"
            )
        raise IebenchError(f"{config.out}: the {side} split would be empty: {reason}")


def _blender_version(reported: dict | None) -> dict:
    """What a worker reported; else (no worker ran) the installed bpy module's version."""
    if reported is not None:
        return reported
    try:
        return {"blender": version("bpy"), "build": None, "device": None}
    except PackageNotFoundError:
        return {"blender": None, "build": None, "device": None}


def _failures_csv(failures: list[Failure]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["object", "stage", "reason"])
    writer.writerows([f.object, f.stage, f.reason] for f in failures)
    return buffer.getvalue()


def render_objects(config: RenderConfig, log: Log = _stderr) -> RenderReport:
    """Render every selected object's views into ``config.out`` (resuming what is there)."""
    started = time.monotonic()
    objects, failures = select_objects(config, log)
    _check_splits(config, objects)
    if config.out.exists():
        _check_compatible(config)
    config.out.mkdir(parents=True, exist_ok=True)
    with lock_tree(config, log):
        return _render_locked(config, objects, failures, started, log)


def _render_locked(
    config: RenderConfig,
    objects: list[ShapeNetObject],
    failures: list[Failure],
    started: float,
    log: Log,
) -> RenderReport:
    manifest_name, failures_name = output_names(config)
    remove_stale_temps(config.out)  # a killed run's half-written manifest or split file
    # Written first, so that a killed run's tree is recognised as iebench's on resume.
    _manifest(config, None, _blender_version(None)).write(config.out / manifest_name)
    plan = _plan_objects(config, objects)
    rendered = _render_jobs(config, plan, failures)
    splits = None
    if config.shard is None:
        splits = _write_splits(config, plan.complete, log)
    else:
        log("a shard writes no split files: run once more without --shard when all are done")
    write_text_atomic(config.out / failures_name, _failures_csv(failures))
    report = RenderReport(
        out=config.out,
        manifest=config.out / manifest_name,
        failures_file=config.out / failures_name,
        objects=len(objects),
        complete=len(plan.complete),
        images_rendered=rendered.images,
        images_found=plan.images_found,
        seconds=time.monotonic() - started,
        failures=failures,
        warnings=rendered.warnings,
        splits=splits,
    )
    _manifest(config, report, _blender_version(rendered.blender)).write(report.manifest)
    return report


@dataclass
class _Plan:
    """The objects with views to render (and their checksum records), and those complete."""

    jobs: list[ObjectJob]
    complete: list[ObjectJob]
    checksums: dict[str, Checksums]
    images_found: int


def _plan_objects(config: RenderConfig, objects: list[ShapeNetObject]) -> _Plan:
    # One scratch name per run: nothing another process writes can land in this run's views.
    scratch = f"{TEMP_PREFIX}render-{os.getpid()}-{secrets.token_hex(4)}.png"
    plan = _Plan(jobs=[], complete=[], checksums={}, images_found=0)
    checking = tqdm(objects, desc="check", unit="obj", disable=not config.progress, leave=False)
    for item in checking:
        job, record = plan_object(config, item, scratch)
        if job.views:
            plan.jobs.append(job)
            plan.checksums[job.key] = record
        else:
            plan.complete.append(job)
    plan.images_found = len(objects) * config.views - sum(len(job.views) for job in plan.jobs)
    return plan


@dataclass(frozen=True)
class _Rendered:
    images: int
    warnings: list[dict]
    blender: dict | None  # what the workers reported; None when none ran


def _render_jobs(config: RenderConfig, plan: _Plan, failures: list[Failure]) -> _Rendered:
    """Render the planned jobs on the pool, each view's latent and checksum written as its
    JPEG arrives; finished objects join ``plan.complete``, failed ones ``failures``."""
    bar = tqdm(
        total=sum(len(job.views) for job in plan.jobs),
        unit="img",
        desc="render",
        disable=not config.progress,
        dynamic_ncols=True,
    )

    def on_view(job: ObjectJob, message: dict) -> None:
        write_latent(job.plan(message["view"]), plan.checksums[job.key], message["image"])
        bar.update(1)

    pool = _pool(config, on_view)
    warnings: list[dict] = []
    rendered = 0
    try:
        for result in pool.run(plan.jobs):
            rendered += result.rendered
            warnings += [{"object": result.job.key, "warning": w} for w in result.warnings]
            if result.ok:
                plan.complete.append(result.job)
            else:
                failures.append(Failure(result.job.key, result.stage, result.reason))
                bar.total -= len(result.job.views) - result.rendered  # out of rate and ETA
                bar.set_postfix(failed=len(failures), refresh=True)
    finally:
        bar.close()
    return _Rendered(rendered, warnings, pool.blender)


def _pool(config: RenderConfig, on_view: OnView) -> WorkerPool | RayPool:
    """The local pool of worker processes, or with ``config.ray`` its Ray counterpart."""
    options = {
        "init": _worker_init(config),
        "workers": config.workers,
        "timeout": config.timeout,
        "recycle_after": config.recycle_after,
        "on_view": on_view,
    }
    if config.ray is None:
        return WorkerPool(**options)
    from iebench.rendering.ray_pool import RayPool  # Ray is an optional extra

    return RayPool(**options, address=config.ray, cpus_per_worker=config.threads or 1)


def _worker_init(config: RenderConfig) -> dict:
    return {
        "settings": config.settings.to_dict(),
        "stage": config.stage.to_dict(),
        "device": config.device,
        "threads": config.threads_per_worker,
        "max_faces": config.max_faces,
    }


def _sides(config: RenderConfig, refs: list[tuple[str, str]], log: Log) -> dict:
    if config.split_from is not None:
        sides, unlisted = split_like(refs, read_split_keys(config.split_from))
        if unlisted:
            log(f"{len(unlisted)} objects are in neither split of {config.split_from}: left out")
        return sides
    return seeded_split(refs, config.seed, config.val_fraction)


def _write_splits(config: RenderConfig, complete: list[ObjectJob], log: Log) -> dict:
    """Split files over the fully rendered objects of this run."""
    sides = _sides(config, [(job.synset, job.object_id) for job in complete], log)
    for side in [side for side, refs in sides.items() if not refs]:
        if side == "val" and config.split_from is None and config.val_fraction == 0:
            log("val fraction 0: every object is in train, the val split is empty")
            continue
        log(
            f"warning: the {side} split is empty (its objects failed); validate refuses such a tree"
        )

    def latents_of(synset: str, object_id: str) -> np.ndarray:
        return sample_object(config.spec, config.seed, synset, object_id, config.views)

    return write_split_files(config.out, sides, latents_of, config.spec.size)


def _manifest(config: RenderConfig, report: RenderReport | None, blender: dict) -> Manifest:
    """The manifest; written when a run starts (status running) and again when it ends."""
    manifest = Manifest(
        status="running" if report is None else "finished",
        updated=datetime.now(UTC).isoformat(timespec="seconds"),
        iebench_version=__version__,
        blender=blender,
        config=config.to_dict(),
        threads_per_worker=config.threads_per_worker,
        factor_spec=config.spec.to_dict(),
        latent_names=list(config.spec.names),
        render_settings=config.settings.to_dict(),
        scene=config.stage.to_dict(),
    )
    if report is None:
        return manifest
    return dataclasses.replace(
        manifest,
        counts={
            "objects": report.objects,
            "complete": report.complete,
            "failed": len(report.failures),
            "views_per_object": config.views,
            "images_rendered": report.images_rendered,
            "images_found_complete": report.images_found,
        },
        splits=report.splits,
        seconds=round(report.seconds, 3),
        failures=[vars(f) for f in report.failures],
        warnings=report.warnings,
    )
