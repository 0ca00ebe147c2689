"""Object-level train/val splits and the published split files (docs/protocol.md section 1).

The default split is seeded and per class: within each category, objects are
ordered by a hash of (seed, synset, id) and the first ``round(0.2 n)`` go to val
(at least one when the class has two or more objects). An object's side depends
only on the seed and the other objects of its class, never on the order of
rendering. `--split-from DIR` reuses official split files instead.

``assemble_latents`` writes a split's ``all_latents_<split>.npy`` from each view's own
``latent_<i>.npy``: the published 3DIEBench ships that file separately, while 3DIEBench-T
(EquiCaps) and 3DIEBench-OOD (seq-JEPA) ship only the per-view files.
"""

from __future__ import annotations

import io
import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from iebench.core.errors import IebenchError
from iebench.core.io import write_bytes_atomic
from iebench.core.seeding import key_digest
from iebench.data.tree import LATENT_SIZES, read_split_objects
from iebench.protocol import taxonomy
from iebench.protocol.layout import (
    SPLITS,
    latent_path,
    object_dir,
    object_key,
    parse_object_key,
    split_files,
)

ObjectRef = tuple[str, str]  # (synset, object_id)


def _rank(seed: int, synset: str, object_id: str) -> bytes:
    return key_digest("split", seed, synset, object_id)


def seeded_split(
    objects: Iterable[ObjectRef], seed: int, val_fraction: float = 0.2
) -> dict[str, list[ObjectRef]]:
    """Per-class seeded split; each side sorted by (label, object id)."""
    by_class: dict[str, list[str]] = defaultdict(list)
    for synset, object_id in objects:
        by_class[synset].append(object_id)
    sides: dict[str, list[ObjectRef]] = {split: [] for split in SPLITS}
    for synset, ids in by_class.items():
        ordered = sorted(set(ids), key=lambda object_id: _rank(seed, synset, object_id))
        n_val = round(val_fraction * len(ordered))
        if val_fraction > 0 and len(ordered) >= 2:
            n_val = max(1, n_val)
        sides["val"] += [(synset, i) for i in ordered[:n_val]]
        sides["train"] += [(synset, i) for i in ordered[n_val:]]
    return {split: sorted(refs, key=_order) for split, refs in sides.items()}


def _order(ref: ObjectRef) -> tuple[int, str]:
    return taxonomy.label_of(ref[0]), ref[1]


def read_split_keys(directory: Path) -> dict[ObjectRef, str]:
    """Object -> split of the split files in ``directory`` (e.g. the official ones)."""
    sides = {}
    for split in SPLITS:
        path = split_files(directory, split).images
        try:
            keys = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise IebenchError(f"{path}: cannot read split file ({error})") from None
        for key in keys.tolist():
            sides[parse_object_key(key)] = split
    return sides


def split_like(
    objects: Iterable[ObjectRef], official: dict[ObjectRef, str]
) -> tuple[dict[str, list[ObjectRef]], list[ObjectRef]]:
    """Each object on its side of ``official``; also the objects it does not list."""
    sides: dict[str, list[ObjectRef]] = {split: [] for split in SPLITS}
    unlisted = []
    for ref in objects:
        if ref in official:
            sides[official[ref]].append(ref)
        else:
            unlisted.append(ref)
    return {split: sorted(refs, key=_order) for split, refs in sides.items()}, sorted(unlisted)


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def write_split_files(
    root: Path,
    sides: dict[str, list[ObjectRef]],
    latents_of: Callable[[str, str], np.ndarray],
    latent_size: int,
) -> dict[str, dict[str, int]]:
    """Write ``{split}_images.npy``, ``{split}_labels.npy`` and ``all_latents_{split}.npy``
    (object-major, views in order) atomically; return objects and images per split."""
    summary = {}
    for split in SPLITS:
        refs = sides.get(split, [])
        files = split_files(root, split)
        keys = np.array([object_key(*ref) for ref in refs], dtype=str)
        labels = np.array([taxonomy.label_of(synset) for synset, _ in refs], dtype=np.int64)
        blocks = [np.asarray(latents_of(*ref), dtype=np.float64) for ref in refs]
        latents = np.concatenate(blocks) if blocks else np.zeros((0, latent_size))
        write_bytes_atomic(files.images, _npy_bytes(keys))
        write_bytes_atomic(files.labels, _npy_bytes(labels))
        write_bytes_atomic(files.latents, _npy_bytes(latents))
        summary[split] = {"objects": len(refs), "images": len(latents)}
    return summary


_LATENT_FILE = re.compile(r"latent_(0|[1-9][0-9]*)\.npy")


def _view_numbers(directory: Path) -> list[int]:
    """The view numbers of the ``latent_<i>.npy`` files in ``directory``, sorted."""
    try:
        names = os.listdir(directory)
    except OSError as error:
        raise IebenchError(f"{directory}: object folder unreadable ({error})") from None
    return sorted(int(m.group(1)) for m in map(_LATENT_FILE.fullmatch, names) if m)


def _read_latent(path: Path, size: int | None) -> np.ndarray:
    try:
        latent = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise IebenchError(f"{path}: not a readable .npy array ({error})") from None
    if latent.ndim != 1 or latent.dtype.kind != "f" or latent.shape[0] not in LATENT_SIZES:
        raise IebenchError(
            f"{path}: expected a latent of 7 or 10 floats, got shape {latent.shape} of "
            f"{latent.dtype}"
        )
    if size is not None and latent.shape[0] != size:
        raise IebenchError(f"{path}: {latent.shape[0]} values where the split's first has {size}")
    return latent.astype(np.float64)


def assemble_latents(root: Path, split: str) -> Path:
    """Write ``all_latents_<split>.npy`` (float64, object-major, views in order) from the
    per-view latent files of the objects ``<split>_images.npy`` lists; return its path.

    Every object must hold views 0..V-1, the same V for all, and every latent the same size;
    anything else is refused in one line naming the file. An existing file is never
    overwritten (it is the split's record). Reads one file per view: on the full release
    (2.6 million views) this takes a while, once.
    """
    root = Path(root)
    target = split_files(root, split).latents
    if target.exists():
        raise IebenchError(f"{target}: already exists; assemble_latents writes it only once")
    objects, _ = read_split_objects(root, split)
    blocks: list[np.ndarray] = []
    size: int | None = None
    views: list[int] | None = None
    for synset, object_id in objects:
        numbers = _view_numbers(object_dir(root, synset, object_id))
        if numbers != list(range(len(numbers))) or not numbers:
            raise IebenchError(
                f"{object_dir(root, synset, object_id)}: latent files must be latent_0.npy .. "
                f"latent_<V-1>.npy, found views {numbers[:5] or 'none'}"
                f"{' ...' if len(numbers) > 5 else ''}"
            )
        if views is not None and numbers != views:
            raise IebenchError(
                f"{object_dir(root, synset, object_id)}: {len(numbers)} views where the "
                f"split's first object has {len(views)}"
            )
        views = numbers
        block = []
        for view in numbers:
            latent = _read_latent(latent_path(root, synset, object_id, view), size)
            size = latent.shape[0]
            block.append(latent)
        blocks.append(np.stack(block))
    latents = np.concatenate(blocks) if blocks else np.zeros((0, LATENT_SIZES[0]))
    write_bytes_atomic(target, _npy_bytes(latents))
    return target
