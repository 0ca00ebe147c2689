"""`iebench validate DATA`: is a tree (rendered by iebench or published) complete and consistent?

Checks, per split with split files: the split files themselves (shapes, labels are
their synsets' labels, no object in two splits, no empty split), latent ranges against
the tree's factor spec (from iebench.json, else the published one), every view on disk,
and, for all objects or a seeded sample of them, that each image decodes at the
expected size, each per-view latent file equals its row of the split latents, and
(in a tree rendered by iebench) both are the files rendered, by their checksum record.
Every problem is one line naming the file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from iebench.core.errors import IebenchError
from iebench.core.seeding import stream_generator
from iebench.data.imageio import read_image
from iebench.data.tree import TreeIndex
from iebench.protocol.checksums import Checksums
from iebench.protocol.factors import FactorSpec
from iebench.protocol.layout import CHECKSUMS_NAME, SPLITS, split_files
from iebench.protocol.manifest import read_tree_manifest
from iebench.protocol.taxonomy import is_synset

MAX_RANGE_LINES = 10  # per latents file; the rest are counted, not listed


@dataclass
class SplitSummary:
    objects: int
    views: int
    images_decoded: int = 0
    latent_files_checked: int = 0


@dataclass
class ValidationReport:
    root: Path
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    splits: dict[str, SplitSummary] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        parts = [
            f"{name}: {s.objects} objects x {s.views} views, {s.images_decoded} images decoded, "
            f"{s.latent_files_checked} latent files checked"
            for name, s in self.splits.items()
        ]
        verdict = "OK" if self.ok else f"{len(self.problems)} problem(s)"
        return f"{self.root}: {verdict}; " + "; ".join(parts)


@dataclass(frozen=True)
class TreeExpectations:
    """What the tree's manifest (or, without one, the published dataset) promises."""

    spec: FactorSpec
    image_size: tuple[int, int] | None  # (width, height); None: take the first image's
    checksums: bool  # whether every object directory must hold a checksum record


def expectations(root: Path, latents: np.ndarray | None = None) -> TreeExpectations:
    """``latents``: the tree's, which tell a release without a manifest (3DIEBench,
    3DIEBench-T, 3DIEBench-OOD) its factor spec."""
    manifest = read_tree_manifest(root)
    if manifest is None:
        return TreeExpectations(FactorSpec.of_release(latents), None, checksums=False)
    resolution = manifest.resolution
    return TreeExpectations(
        manifest.spec, (resolution, resolution) if resolution else None, manifest.has_checksums
    )


@dataclass(frozen=True)
class ObjectCheck:
    """One object's job: its directory, the latents its views must have, whether to decode."""

    directory: Path
    images: list[Path]
    latent_files: list[Path]
    latents: np.ndarray  # (views, latent size)
    decode: bool
    image_size: tuple[int, int] | None
    checksums: bool  # a checksum record is required (else checked where present)


@dataclass
class ObjectResult:
    problems: list[str] = field(default_factory=list)
    images_decoded: int = 0
    latent_files_checked: int = 0
    latent_files_missing: list[Path] = field(default_factory=list)


def check_object(job: ObjectCheck) -> ObjectResult:
    """Every view of one object: on disk, and (if ``decode``) decodable at the right size
    and with a per-view latent file equal to the split latents."""
    result = ObjectResult()
    try:
        present = set(os.listdir(job.directory))
    except (FileNotFoundError, NotADirectoryError):
        result.problems.append(f"{job.directory}: object directory missing")
        return result
    for image, latent, expected in zip(job.images, job.latent_files, job.latents, strict=True):
        if image.name not in present:
            result.problems.append(f"{image}: view missing")
        elif job.decode:
            try:
                height, width = read_image(image).shape[:2]
                result.images_decoded += 1
                if job.image_size is not None and (width, height) != job.image_size:
                    w, h = job.image_size
                    result.problems.append(f"{image}: size {width}x{height}, expected {w}x{h}")
            except IebenchError as error:
                result.problems.append(str(error))
        if latent.name not in present:
            result.latent_files_missing.append(latent)
        elif job.decode:
            result.latent_files_checked += 1
            problem = _latent_file_problem(latent, expected)
            if problem:
                result.problems.append(f"{latent}: {problem}")
    if job.decode:
        result.problems += _checksum_problems(job, present)
    return result


def _checksum_problems(job: ObjectCheck, present: set[str]) -> list[str]:
    """The views on disk that are not the files rendered, by the object's checksum record."""
    record = Checksums.load(job.directory)
    if CHECKSUMS_NAME not in present:
        return [f"{record.path}: checksum record missing"] if job.checksums else []
    files = [path for path in (*job.images, *job.latent_files) if path.name in present]
    return [f"{path}: {problem}" for path in files if (problem := record.problem(path))]


def _latent_file_problem(path: Path, expected: np.ndarray) -> str | None:
    try:
        values = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        return f"not a readable .npy array ({error})"
    if values.shape != expected.shape:
        return f"shape {values.shape}, expected {expected.shape}"
    if not np.allclose(values, expected, rtol=0, atol=1e-9):
        return "differs from its row in the split latents"
    return None


def _run(jobs: list[ObjectCheck], workers: int, progress: bool) -> Iterator[ObjectResult]:
    bar = {"total": len(jobs), "unit": "obj", "disable": not progress}
    if workers <= 1:
        yield from tqdm(map(check_object, jobs), **bar)
        return
    with ProcessPoolExecutor(workers) as pool:
        yield from tqdm(pool.map(check_object, jobs, chunksize=16), **bar)


def latent_problems(index: TreeIndex, spec: FactorSpec) -> list[str]:
    """The split latents against the factor spec: one line per bad row (at most
    MAX_RANGE_LINES, the rest counted), each naming the file; empty when all are fine."""
    path = split_files(index.root, index.split).latents
    if index.latent_size != spec.size:
        return [
            f"{path}: {index.latent_size} values per view, factor spec {spec.name!r} has "
            f"{spec.size}"
        ]
    outside = np.argwhere(~spec.contains(index.latents))
    lines = []
    for k, view in outside[:MAX_RANGE_LINES]:
        synset, object_id = index.objects[k]
        problem = (
            f"factors outside the {spec.name!r} ranges"
            if np.isfinite(index.latents[k, view]).all()
            else "non-finite factors (NaN or inf)"
        )
        lines.append(
            f"{path}: row {k * index.views + view} (/{synset}/{object_id}/ view {view}) "
            f"has {problem}"
        )
    if len(outside) > MAX_RANGE_LINES:
        lines.append(f"{path}: {len(outside) - MAX_RANGE_LINES} more rows out of range")
    return lines


def _first_image_size(index: TreeIndex) -> tuple[int, int] | None:
    for k in range(index.num_objects):
        try:
            height, width = read_image(index.image_path(k, 0)).shape[:2]
            return width, height
        except IebenchError:
            continue
    return None


def validate_tree(
    root: str | Path,
    sample: int | None = None,
    workers: int = 1,
    seed: int = 0,
    progress: bool = False,
) -> ValidationReport:
    """Check a tree; ``sample`` decodes only that many random objects per split (seeded)."""
    root = Path(root)
    if not root.is_dir():
        raise IebenchError(f"{root}: dataset root is not a directory")
    report = ValidationReport(root)
    indexes = _load_indexes(root, report)
    latents = split_latents(indexes)
    try:
        expect = expectations(root, latents)
    except IebenchError as error:
        report.problems.append(str(error))
        expect = TreeExpectations(FactorSpec.of_release(latents), None, checksums=False)
    _check_split_overlap(indexes, report)
    missing_latents: list[Path] = []
    for split, index in indexes.items():
        missing_latents += _check_split(
            root, split, index, expect, report, sample, seed, workers, progress
        )
    total_views = sum(s.objects * s.views for s in report.splits.values())
    if missing_latents and len(missing_latents) == total_views:
        report.notes.append("no per-view latent files: the split latents are the only record")
    else:
        report.problems += [f"{path}: latent file missing" for path in missing_latents]
    report.notes += _untracked_objects(root, indexes)
    return report


def split_latents(indexes: dict[str, TreeIndex]) -> np.ndarray | None:
    """Every view's latent of the splits, for telling a release's spec (None: no splits; the
    splits' own latent sizes are checked against the spec)."""
    flat = [index.latents.reshape(-1, index.latents.shape[-1]) for index in indexes.values()]
    if not flat or len({block.shape[-1] for block in flat}) != 1:
        return flat[0] if flat else None
    return np.concatenate(flat)


def _load_indexes(root: Path, report: ValidationReport) -> dict[str, TreeIndex]:
    """The index of every split with split files; each unreadable one is a problem."""
    indexes = {}
    for split in SPLITS:
        files = split_files(root, split)
        if not any(p.is_file() for p in (files.images, files.labels, files.latents)):
            continue
        try:
            indexes[split] = TreeIndex.load(root, split)
        except IebenchError as error:
            report.problems.append(str(error))
    if not indexes and not report.problems:
        report.problems.append(f"{root}: no split files (train_images.npy, val_images.npy)")
    return indexes


def _check_split(
    root: Path,
    split: str,
    index: TreeIndex,
    expect: TreeExpectations,
    report: ValidationReport,
    sample: int | None,
    seed: int,
    workers: int,
    progress: bool,
) -> list[Path]:
    """Check one split's objects into ``report``; the latent files found missing."""
    report.splits[split] = summary = SplitSummary(index.num_objects, index.views)
    if index.num_objects == 0:
        report.problems.append(f"{split_files(root, split).images}: the {split} split is empty")
    report.problems += latent_problems(index, expect.spec)
    image_size = expect.image_size or _first_image_size(index)
    if expect.image_size is None and image_size is not None:
        report.notes.append(f"{split}: expected image size {image_size} from the first image")
    decode = np.zeros(index.num_objects, dtype=bool)
    chosen = np.arange(index.num_objects)
    if sample is not None and sample < index.num_objects:
        chosen = stream_generator(seed, len(split)).choice(chosen, sample, False)
    decode[chosen] = True
    jobs = [
        ObjectCheck(
            directory=index.object_dir(k),
            images=[index.image_path(k, v) for v in range(index.views)],
            latent_files=[index.latent_path(k, v) for v in range(index.views)],
            latents=index.latents[k],
            decode=bool(decode[k]),
            image_size=image_size,
            checksums=expect.checksums,
        )
        for k in range(index.num_objects)
    ]
    missing: list[Path] = []
    for result in _run(jobs, workers, progress):
        report.problems += result.problems
        summary.images_decoded += result.images_decoded
        summary.latent_files_checked += result.latent_files_checked
        missing += result.latent_files_missing
    return missing


def _check_split_overlap(indexes: dict[str, TreeIndex], report: ValidationReport) -> None:
    if len(indexes) < 2:
        return
    train, val = (set(indexes[s].objects) for s in SPLITS)
    for synset, object_id in sorted(train & val):
        path = split_files(report.root, "val").images
        report.problems.append(f"{path}: /{synset}/{object_id}/ is also in the train split")


def _untracked_objects(root: Path, indexes: dict[str, TreeIndex]) -> list[str]:
    """Object directories on disk that no split lists (e.g. failed renders): a note."""
    listed = {obj for index in indexes.values() for obj in index.objects}
    on_disk = {
        (synset.name, obj.name)
        for synset in root.iterdir()
        if synset.is_dir() and is_synset(synset.name)
        for obj in synset.iterdir()
        if obj.is_dir()
    }
    extra = sorted(on_disk - listed)
    if not extra:
        return []
    shown = ", ".join(f"{s}/{o}" for s, o in extra[:5])
    return [f"{len(extra)} object directories in no split file (e.g. {shown})"]
