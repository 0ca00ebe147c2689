"""Backbone features, extracted once per image and cached on disk.

The cache key covers everything the features depend on: the submission file and
the modules it imports from outside the installed packages, the checkpoint, the
dataset (its fingerprint), the files extraction reads (each image's size and mtime,
the checksum records, or the pack), the resolution and the normalisation. Features
are written in shards of SHARD_OBJECTS objects, each atomically, so an interrupted
extraction resumes at the first missing shard. Under torchrun process r extracts the
missing shards s with s mod world_size == r.

    <cache root>/features-<key>/<split>-<shard>.npy   (objects, views, dim) float32
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from iebench.core.errors import IebenchError
from iebench.core.io import atomic_path, remove_stale_temps, sha256_file
from iebench.data.dataset import ViewsDataset
from iebench.data.pack import PACK_DIR, find_pack, pack_paths
from iebench.data.preprocess import BatchNormalize, to_uint8_tensor
from iebench.data.tree import TreeIndex
from iebench.evaluation.submission import Submission, check_features
from iebench.protocol.layout import CHECKSUMS_NAME, split_files
from iebench.protocol.manifest import read_tree_manifest

CACHE_FORMAT = 1
SHARD_OBJECTS = 1024


def dataset_fingerprint(root: Path, splits: tuple[str, ...] = ("train", "val")) -> str:
    """sha256 over the split files (image lists, labels, latents) and, for a rendered tree,
    what its pixels depend on beyond them (the manifest's identity: seed, factors, scene,
    render settings and Blender version; timestamps and counts left out). The published
    tree has no manifest."""
    digest = hashlib.sha256(f"iebench-dataset-{CACHE_FORMAT}".encode())
    for split in splits:
        files = split_files(root, split)
        for path in (files.images, files.labels, files.latents):
            if not path.is_file():
                raise IebenchError(f"{path}: split file missing")
            digest.update(f"{split}/{path.name}:{sha256_file(path)}".encode())
    manifest = read_tree_manifest(root)
    if manifest is not None:
        identity = json.dumps(manifest.identity(), sort_keys=True)
        digest.update(f"manifest:{identity}".encode())
    return digest.hexdigest()


def _stat_stamp(path: Path) -> str:
    try:
        status = os.stat(path)
    except OSError as error:
        raise IebenchError(f"{path}: cannot read ({error.strerror})") from None
    return f"{status.st_size}:{status.st_mtime_ns}"


def _record_stamp(directory: Path) -> str:
    path = directory / CHECKSUMS_NAME
    try:
        return sha256_file(path)
    except FileNotFoundError:
        return "none"  # the published tree has no checksum records
    except OSError as error:
        raise IebenchError(f"{path}: cannot read ({error.strerror})") from None


def files_stamp(indices: Iterable[TreeIndex], resolution: int) -> str:
    """sha256 over what extraction reads beyond the split files, cheaply (os.stat, no pixels
    hashed): per split, the pack's files when its images come from one, else each object's
    checksum record and each image's size and mtime. An image replaced in place changes it
    unless both its size and its mtime were kept (e.g. copied with ``cp -p``)."""
    digest = hashlib.sha256()
    for index in indices:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the dataset itself warns about a stale pack
            pack = find_pack(index, resolution)
        if pack is not None:
            for path in pack_paths(index.root / PACK_DIR, index.split, resolution):
                digest.update(f"{index.split}/pack/{path.name}:{_stat_stamp(path)}\n".encode())
            continue
        for k in range(index.num_objects):
            digest.update(f"{index.split}/{k}:{_record_stamp(index.object_dir(k))}\n".encode())
            for view in range(index.views):
                digest.update(f"{view}:{_stat_stamp(index.image_path(k, view))}\n".encode())
    return digest.hexdigest()


def cache_key(submission: Submission, fingerprint: str, files: str) -> str:
    """The feature cache's name for ``submission`` on a dataset: its ``fingerprint`` and the
    ``files_stamp`` of the files extraction reads."""
    metadata = submission.metadata
    fields = {
        "format": CACHE_FORMAT,
        "encoder": submission.file_sha256,
        "modules": submission.module_sources,
        "checkpoint": submission.checkpoint_sha256,
        "build_seed": submission.build_seed,
        "dataset": fingerprint,
        "files": files,
        "resolution": metadata.resolution,
        "mean": list(metadata.mean),
        "std": list(metadata.std),
        "shard_objects": SHARD_OBJECTS,
    }
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:24]


@dataclass(frozen=True)
class FeatureCache:
    directory: Path
    shard_objects: int = SHARD_OBJECTS

    def shard_path(self, split: str, shard: int) -> Path:
        return self.directory / f"{split}-{shard:05d}.npy"

    def shard_size(self, shard: int, objects: int) -> int:
        return min(self.shard_objects, objects - shard * self.shard_objects)

    def missing_shards(self, split: str, objects: int) -> list[int]:
        shards = math.ceil(objects / self.shard_objects)
        return [s for s in range(shards) if not self.shard_path(split, s).is_file()]

    def write_shard(self, split: str, shard: int, features: np.ndarray) -> None:
        with atomic_path(self.shard_path(split, shard)) as temp, open(temp, "wb") as handle:
            np.save(handle, features)

    def load(self, split: str, objects: int) -> np.ndarray:
        shards = math.ceil(objects / self.shard_objects)
        arrays = []
        for shard in range(shards):
            path = self.shard_path(split, shard)
            try:
                arrays.append(np.load(path))
            except (OSError, ValueError, EOFError) as error:
                raise IebenchError(
                    f"{path}: unreadable feature shard ({error}); delete it"
                ) from None
        return np.concatenate(arrays)


def open_cache(root: Path, key: str) -> FeatureCache:
    directory = Path(root) / f"features-{key}"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise IebenchError(
            f"{directory}: cannot create the feature cache ({error.strerror}); pass --cache DIR"
        ) from None
    remove_stale_temps(directory)  # shards a killed extraction was writing
    return FeatureCache(directory, SHARD_OBJECTS)


def extract_features(
    submission: Submission,
    index: TreeIndex,
    cache: FeatureCache,
    device: str,
    batch_size: int,
    workers: int,
    progress: bool,
) -> np.ndarray:
    """Every view's features, (objects, views, dim) float32: from the cache, extracting what
    is missing first (backbone in eval mode, no gradients, batched on ``device``).

    In a torch.distributed process group each process extracts a disjoint share of the
    missing shards; all wait until every shard is written, then each loads them all."""
    distributed = dist.is_available() and dist.is_initialized()
    missing = cache.missing_shards(index.split, index.num_objects)
    if distributed:
        # Shard s belongs to process s mod world: only its owner ever writes it, so what one
        # process sees missing cannot change under another's writes.
        rank, world = dist.get_rank(), dist.get_world_size()
        missing = [shard for shard in missing if shard % world == rank]
    if missing:
        _extract_shards(submission, index, cache, missing, device, batch_size, workers, progress)
    if distributed:
        dist.barrier()
    features = cache.load(index.split, index.num_objects)
    expected = (index.num_objects, index.views, submission.metadata.embedding_dim)
    if features.shape != expected:
        raise IebenchError(
            f"{cache.directory}: cached {index.split} features of shape {features.shape}, "
            f"expected {expected}; delete the directory"
        )
    return features


def _extract_shards(
    submission: Submission,
    index: TreeIndex,
    cache: FeatureCache,
    shards: list[int],
    device: str,
    batch_size: int,
    workers: int,
    progress: bool,
) -> None:
    """Run the encoder over the views of ``shards`` in one pass, writing each shard when full."""
    metadata, views = submission.metadata, index.views
    dataset = ViewsDataset(
        index, mode="all", resolution=metadata.resolution, transform=to_uint8_tensor
    )
    sizes = [cache.shard_size(shard, index.num_objects) * views for shard in shards]
    starts = [shard * cache.shard_objects * views for shard in shards]
    items = [
        item
        for start, size in zip(starts, sizes, strict=True)
        for item in range(start, start + size)
    ]
    loader = DataLoader(
        Subset(dataset, items),
        batch_size=batch_size,
        num_workers=workers,
        pin_memory=device.startswith("cuda"),
    )
    normalise = BatchNormalize(metadata.mean, metadata.std).to(device)
    encoder = submission.encoder.to(device).eval()
    bar = tqdm(total=len(items), unit="img", desc=f"features {index.split}", disable=not progress)
    pending: list[np.ndarray] = []
    done = seen = 0
    try:
        with torch.inference_mode():
            for batch in loader:
                rows = len(batch.image)
                first, last = items[seen] // views, items[seen + rows - 1] // views
                where = f"{index.split} objects {first}..{last} ({rows} images)"
                output = encoder(normalise(batch.image.to(device, non_blocking=True)))
                # Checked before anything of the batch is kept: no shard holds a faulty batch.
                output = check_features(submission, output, rows, where)
                pending.append(output.float().cpu().numpy())
                seen += rows
                bar.update(rows)
                # A batch may straddle shards: write every shard that is now complete.
                while done < len(shards) and sum(len(a) for a in pending) >= sizes[done]:
                    features = np.concatenate(pending)
                    shard = features[: sizes[done]].reshape(-1, views, features.shape[-1])
                    cache.write_shard(index.split, shards[done], shard)
                    pending = [features[sizes[done] :]]
                    done += 1
    except IebenchError as error:
        raise worker_error(error) from None
    finally:
        bar.close()


def worker_error(error: IebenchError) -> IebenchError:
    """``error`` as its one line, also when a DataLoader worker raised it (e.g. a corrupt
    image): DataLoader re-raises it here as the same type, its message the worker's whole
    traceback, which ends with ``module.Type: <the original message>``."""
    text = str(error)
    marker = f"{type(error).__module__}.{type(error).__qualname__}: "
    if "DataLoader worker" not in text.partition("\n")[0] or marker not in text:
        return error
    return IebenchError(text[text.rfind(marker) + len(marker) :].rstrip())
