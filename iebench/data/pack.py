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
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from tqdm import tqdm

from iebench import __version__
from iebench.core.errors import IebenchError
from iebench.core.io import atomic_path, remove_stale_temps, write_json_atomic
from iebench.data.imageio import read_image
from iebench.data.preprocess import DEFAULT_RESOLUTION
from iebench.data.tree import TreeIndex
from iebench.protocol.layout import PACK_DIR, pack_paths

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
