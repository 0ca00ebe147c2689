"""A packed cache of a split: every view decoded once into one memory-mapped uint8 array.

    <dir>/<split>-<R>px.npy    (objects, views, H, W, 3) uint8, object-major as the split files
    <dir>/<split>-<R>px.json   the index: shape, resolution, and the split's fingerprint

``<dir>`` is ``<root>/packed`` by default. Images are decoded and resized exactly as
the JPEG loader does (no DCT scaling), so packed and unpacked datasets return the
same tensors. Both files are written atomically, the index last: a pack without
its index is never used.
"""

from __future__ import annotations

import json
import shutil
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from tqdm import tqdm

from iebench import __version__
from iebench.core.errors import IebenchError
from iebench.core.io import atomic_path, check_output, remove_stale_temps, write_json_atomic
from iebench.data.imageio import read_image
from iebench.data.preprocess import DEFAULT_RESOLUTION
from iebench.data.tree import TreeIndex, require_objects
from iebench.protocol.layout import PACK_DIR, SPLITS, pack_paths, split_files

PACK_FORMAT = "iebench-pack-1"


class PackedImages:
    """Read access to a pack: ``pack[object, view]`` -> HxWx3 uint8 array.

    The memory map is opened lazily in each process and never pickled, so a
    dataset holding one can go to DataLoader workers cheaply.
    """

    def __init__(self, array_path: Path, shape: tuple[int, ...]) -> None:
        self.array_path = Path(array_path)
        self.shape = tuple(shape)
        self._array: np.ndarray | None = None

    def __getitem__(self, key: tuple[int, int]) -> np.ndarray:
        if self._array is None:
            self._array = np.load(self.array_path, mmap_mode="r")
        return self._array[key]

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_array": None}


def find_pack(
    index: TreeIndex, resolution: int, directory: Path | None = None, required: bool = False
) -> PackedImages | None:
    """The pack of ``index``'s split at ``resolution`` if one is there and current.

    A pack made from other split files is stale: a warning (or, when ``required``,
    an IebenchError) says so and None is returned, so the caller reads the JPEGs.
    """
    directory = Path(directory) if directory is not None else index.root / PACK_DIR
    array_path, index_path = pack_paths(directory, index.split, resolution)
    if not index_path.is_file():
        if required:
            raise IebenchError(f"{index_path}: no pack; run `iebench pack` first")
        return None
    meta = json.loads(index_path.read_text(encoding="utf-8"))
    expected = (index.num_objects, index.views)
    problem = None
    if meta.get("format") != PACK_FORMAT:
        problem = f"unknown pack format {meta.get('format')!r}"
    elif meta.get("split_fingerprint") != index.fingerprint:
        problem = "stale pack: the split files changed since it was made; re-run `iebench pack`"
    elif tuple(meta.get("shape", ()))[:2] != expected or not array_path.is_file():
        problem = f"pack shape {meta.get('shape')} does not match {expected} (objects, views)"
    if problem is None:
        return PackedImages(array_path, tuple(meta["shape"]))
    if required:
        raise IebenchError(f"{index_path}: {problem}")
    warnings.warn(f"{index_path}: {problem}; reading the JPEGs instead", stacklevel=2)
    return None


def _read_object(job: tuple[list[Path], int]) -> np.ndarray:
    paths, resolution = job
    return np.stack([read_image(path, resolution) for path in paths])


def _decoded_objects(index: TreeIndex, resolution: int, workers: int) -> Iterator[np.ndarray]:
    """Each object's views as (views, H, W, 3), in split order, decoded by ``workers``."""
    jobs = (
        ([index.image_path(k, v) for v in range(index.views)], resolution)
        for k in range(index.num_objects)
    )
    if workers <= 1:
        yield from map(_read_object, jobs)
        return
    with ProcessPoolExecutor(workers) as pool:
        yield from pool.map(_read_object, jobs, chunksize=8)


def pack_split(
    index: TreeIndex,
    resolution: int = DEFAULT_RESOLUTION,
    directory: Path | None = None,
    workers: int = 1,
    progress: bool = False,
) -> Path:
    """Decode every view of ``index`` at ``resolution`` into a pack; returns the array file."""
    if index.num_objects == 0:
        raise IebenchError(f"{index.root}: split {index.split!r} has no objects to pack")
    directory = Path(directory) if directory is not None else index.root / PACK_DIR
    array_path, index_path = pack_paths(directory, index.split, resolution)
    image_shape = read_image(index.image_path(0, 0), resolution).shape
    shape = (index.num_objects, index.views, *image_shape)
    directory.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(directory)  # a killed pack's half-written array
    needed = int(np.prod(shape))
    free = shutil.disk_usage(directory).free
    if needed > free:
        raise IebenchError(
            f"{directory}: the pack needs {needed / 2**30:.1f} GiB, only {free / 2**30:.1f} free"
        )
    index_path.unlink(missing_ok=True)  # an old index must not describe a half-written array
    with atomic_path(array_path) as temp:
        array = np.lib.format.open_memmap(temp, mode="w+", dtype=np.uint8, shape=shape)
        decoded = _decoded_objects(index, resolution, workers)
        bar = tqdm(decoded, total=index.num_objects, unit="obj", disable=not progress)
        for k, views in enumerate(bar):
            if views.shape[1:] != image_shape:
                raise IebenchError(
                    f"{index.object_dir(k)}: views of shape {views.shape[1:]}, "
                    f"expected {image_shape} like {index.image_path(0, 0)}"
                )
            array[k] = views
        array.flush()
        del array
    write_json_atomic(
        index_path,
        {
            "format": PACK_FORMAT,
            "split": index.split,
            "resolution": int(resolution),
            "shape": list(shape),
            "split_fingerprint": index.fingerprint,
            "iebench_version": __version__,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )
    return array_path


@dataclass(frozen=True)
class PackConfig:
    """One `iebench pack` run (the metadata of a field is its option)."""

    data: Path
    resolution: int = field(
        default=DEFAULT_RESOLUTION, metadata={"help": "Shorter image side in the pack.", "min": 1}
    )
    splits: tuple[str, ...] = field(
        default=(),
        metadata={
            "help": "Split(s) to pack (default: every split present).",
            "option": "--split",
            "choices": SPLITS,
        },
    )
    out: Path | None = field(
        default=None,
        metadata={"help": "Pack directory (default DATA/packed, where datasets look)."},
    )
    workers: int = field(default=1, metadata={"help": "Decoding processes.", "min": 1})
    progress: bool = field(default=True, metadata={"help": "No progress bar.", "option": "--quiet"})

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", Path(self.data))
        object.__setattr__(self, "splits", tuple(self.splits))
        if self.out is not None:
            object.__setattr__(self, "out", Path(self.out))
        for name in ("resolution", "workers"):
            if getattr(self, name) < 1:
                raise IebenchError(f"pack: {name} must be >= 1, got {getattr(self, name)}")
        unknown = sorted(set(self.splits) - set(SPLITS))
        if unknown:
            raise IebenchError(f"pack: unknown splits {', '.join(unknown)}; choose from {SPLITS}")


@dataclass(frozen=True)
class PackedSplit:
    split: str
    objects: int
    views: int
    path: Path  # the array file

    def summary(self) -> str:
        size = self.path.stat().st_size / 2**30
        return (
            f"{self.split}: {self.objects} objects x {self.views} views -> {self.path} "
            f"({size:.2f} GiB)"
        )


def pack_tree(config: PackConfig, log: Callable[[str], None] | None = None) -> list[PackedSplit]:
    """Pack each split of ``config.splits`` (default: every split with split files); every
    split is checked before the first is packed (an empty one is refused: name the others,
    e.g. train alone of a tree rendered with val fraction 0). ``log`` gets each split's line."""
    data = config.data
    if not data.is_dir():
        raise IebenchError(f"{data}: dataset root is not a directory")
    check_output(config.out if config.out is not None else data / PACK_DIR, "directory")
    splits = config.splits or tuple(s for s in SPLITS if split_files(data, s).images.is_file())
    if not splits:
        raise IebenchError(f"{data}: no split files (train_images.npy, val_images.npy)")
    indices = [require_objects(TreeIndex.load(data, split)) for split in splits]
    packed = []
    for index in indices:
        path = pack_split(index, config.resolution, config.out, config.workers, config.progress)
        packed.append(PackedSplit(index.split, index.num_objects, index.views, path))
        if log is not None:
            log(packed[-1].summary())
    return packed
