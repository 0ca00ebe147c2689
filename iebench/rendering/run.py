"""`render_objects(config)`: discover, shard, render on the worker pool with resume, then
write the manifest, failures.csv and the split files."""

from __future__ import annotations

import csv
import io
import json
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
from iebench.core.io import write_json_atomic, write_text_atomic
from iebench.data.splits import read_split_keys, seeded_split, split_like, write_split_files
from iebench.objects.shapenet import ShapeNetObject, discover, read_objects_list
from iebench.rendering.config import RenderConfig
from iebench.rendering.pool import ObjectJob, WorkerPool
from iebench.rendering.views import remove_temp_files, view_complete
from iebench.spec.factors import sample_object, sample_view
from iebench.spec.layout import FAILURES_NAME, MANIFEST_NAME, image_path, latent_path, object_dir

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
    index, count = config.shard
    return f"iebench.shard-{index}-of-{count}.json", f"failures.shard-{index}-of-{count}.csv"


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
    return objects, failures


def missing_views(config: RenderConfig, item: ShapeNetObject) -> tuple[int, ...]:
    """The views of an object not complete on disk; leftovers of a killed run are removed."""
    synset, object_id = item.synset, item.object_id
    remove_temp_files(object_dir(config.out, synset, object_id))
    missing = []
    for view in range(config.views):
        latent = sample_view(config.spec, config.seed, synset, object_id, view)
        image = image_path(config.out, synset, object_id, view)
        latent_file = latent_path(config.out, synset, object_id, view)
        if not view_complete(image, latent_file, latent, config.settings.resolution):
            missing.append(view)
    return tuple(missing)


def _check_compatible(config: RenderConfig) -> None:
    """Refuse to mix datasets: a tree keeps the seed, factors and settings it started with."""
    # Through JSON, as stored (tuples become lists).
    wanted = json.loads(
        json.dumps(
            {
                "seed": config.seed,
                "factor_spec": config.spec.to_dict(),
                "render_settings": config.settings.to_dict(),
            }
        )
    )
    manifests = sorted(config.out.glob("iebench*.json"))
    if not manifests and next(config.out.glob("*/*/latent_*.npy"), None) is not None:
        raise IebenchError(
            f"{config.out}: holds views not rendered by iebench (no {MANIFEST_NAME}); "
            "render into another --out"
        )
    for path in manifests:
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise IebenchError(f"{path}: unreadable manifest ({error})") from None
        previous = {
            "seed": manifest.get("config", {}).get("seed"),
            "factor_spec": manifest.get("factor_spec"),
            "render_settings": manifest.get("render_settings"),
        }
        for name, value in wanted.items():
            if previous[name] != value:
                raise IebenchError(
                    f"{path}: this tree was rendered with another {name.replace('_', ' ')} "
                    f"({previous[name]}); render into another --out"
                )


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
    if config.out.exists():
        _check_compatible(config)
    config.out.mkdir(parents=True, exist_ok=True)
    manifest_name, failures_name = output_names(config)
    # Written first, so that a killed run's tree is recognised as iebench's on resume.
    write_json_atomic(config.out / manifest_name, _manifest(config, None, _blender_version(None)))
    jobs, complete = [], []
    checking = tqdm(objects, desc="check", unit="obj", disable=not config.progress, leave=False)
    for item in checking:
        views = missing_views(config, item)
        job = ObjectJob(item.synset, item.object_id, item.mesh, views)
        (jobs if views else complete).append(job)
    images_found = len(objects) * config.views - sum(len(job.views) for job in jobs)
    bar = tqdm(
        total=sum(len(job.views) for job in jobs),
        unit="img",
        desc="render",
        disable=not config.progress,
        dynamic_ncols=True,
    )
    pool = _pool(config, on_view=lambda job: bar.update(1))
    warnings: list[dict] = []
    rendered = 0
    try:
        for result in pool.run(jobs):
            rendered += result.rendered
            warnings += [{"object": result.job.key, "warning": w} for w in result.warnings]
            if result.ok:
                complete.append(result.job)
            else:
                failures.append(Failure(result.job.key, result.stage, result.reason))
                bar.total -= len(result.job.views) - result.rendered  # out of rate and ETA
                bar.set_postfix(failed=len(failures), refresh=True)
    finally:
        bar.close()

    splits = None
    if config.shard is None:
        splits = _write_splits(config, complete, log)
    else:
        log("a shard writes no split files: run once more without --shard when all are done")
    write_text_atomic(config.out / failures_name, _failures_csv(failures))
    report = RenderReport(
        out=config.out,
        manifest=config.out / manifest_name,
        failures_file=config.out / failures_name,
        objects=len(objects),
        complete=len(complete),
        images_rendered=rendered,
        images_found=images_found,
        seconds=time.monotonic() - started,
        failures=failures,
        warnings=warnings,
        splits=splits,
    )
    write_json_atomic(report.manifest, _manifest(config, report, _blender_version(pool.blender)))
    return report


def _pool(config: RenderConfig, on_view: Callable[[ObjectJob], None]) -> WorkerPool | RayPool:
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
        "spec": config.spec.to_dict(),
        "seed": config.seed,
        "out": str(config.out),
        "device": config.device,
        "threads": config.threads_per_worker,
        "max_faces": config.max_faces,
    }


def _write_splits(config: RenderConfig, complete: list[ObjectJob], log: Log) -> dict:
    """Split files over the fully rendered objects of this run."""
    refs = [(job.synset, job.object_id) for job in complete]
    if config.split_from is not None:
        sides, unlisted = split_like(refs, read_split_keys(config.split_from))
        if unlisted:
            log(f"{len(unlisted)} objects are in neither split of {config.split_from}: left out")
    else:
        sides = seeded_split(refs, config.seed, config.val_fraction)

    def latents_of(synset: str, object_id: str) -> np.ndarray:
        return sample_object(config.spec, config.seed, synset, object_id, config.views)

    return write_split_files(config.out, sides, latents_of, config.spec.size)


def _manifest(config: RenderConfig, report: RenderReport | None, blender: dict) -> dict:
    """The manifest; written when a run starts (status running) and again when it ends."""
    manifest = {
        "format": "iebench-render/1",
        "status": "running" if report is None else "finished",
        "updated": datetime.now(UTC).isoformat(timespec="seconds"),
        "iebench_version": __version__,
        "blender": blender,
        "config": config.to_dict(),
        "threads_per_worker": config.threads_per_worker,
        "factor_spec": config.spec.to_dict(),
        "latent_names": list(config.spec.names),
        "render_settings": config.settings.to_dict(),
        "scene": config.stage.to_dict(),
    }
    if report is None:
        return manifest
    return manifest | {
        "counts": {
            "objects": report.objects,
            "complete": report.complete,
            "failed": len(report.failures),
            "views_per_object": config.views,
            "images_rendered": report.images_rendered,
            "images_found_complete": report.images_found,
        },
        "splits": report.splits,
        "seconds": round(report.seconds, 3),
        "failures": [vars(f) for f in report.failures],
        "warnings": report.warnings,
    }
