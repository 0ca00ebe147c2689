"""The index of one split of a 3DIEBench tree: objects, labels, latents and image paths.

Read from the published split files (docs/protocol.md section 1), so it works the same
on the published dataset and on trees rendered by iebench.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from iebench.core.errors import IebenchError
from iebench.core.io import sha256_file
from iebench.protocol.layout import (
    VIEWS_PER_OBJECT,
    image_path,
    latent_path,
    object_dir,
    parse_object_key,
    split_files,
)
from iebench.protocol.taxonomy import is_synset, label_of

LATENT_SIZES = (7, 10)  # published, and 3DIEBench-T with the translation


def load_array(path: Path) -> np.ndarray:
    """A split file as an array; IebenchError naming the file when absent or unreadable."""
    if not path.is_file():
        raise IebenchError(f"{path}: split file missing")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise IebenchError(f"{path}: not a readable .npy array ({error})") from None


@dataclass(frozen=True, eq=False)
class TreeIndex:
    """One split of a tree. Object k is ``objects[k] = (synset, object_id)`` with class
    ``labels[k]`` and view latents ``latents[k]`` of shape (views, 7 or 10)."""

    root: Path
    split: str
    objects: tuple[tuple[str, str], ...]
    labels: np.ndarray  # (objects,) int64
    latents: np.ndarray  # (objects, views, latent size) float64
    fingerprint: str  # sha256 of the split's image list: identifies the split (e.g. for packs)

    @classmethod
    def load(cls, root: str | Path, split: str) -> TreeIndex:
        """Read ``<split>_images.npy``, ``<split>_labels.npy`` and ``all_latents_<split>.npy``.

        Checks shapes and that each label is its synset's; files on disk are checked
        by ``missing_images`` (one directory listing per object), not here.
        """
        root = Path(root)
        if not root.is_dir():
            raise IebenchError(f"{root}: dataset root is not a directory")
        files = split_files(root, split)
        objects, labels = read_split_objects(root, split)
        if not files.latents.is_file():
            raise IebenchError(
                f"{files.latents}: split file missing; a release that ships only each view's "
                f"latent_<i>.npy (3DIEBench-T, 3DIEBench-OOD) gets it from "
                f"`iebench validate {root} --assemble-latents`"
            )
        latents = load_array(files.latents)
        views = _views_per_object(latents, len(objects), files.latents)
        return cls(
            root=root,
            split=split,
            objects=objects,
            labels=labels,
            latents=latents.astype(np.float64).reshape(len(objects), views, latents.shape[1]),
            fingerprint=sha256_file(files.images),
        )

    @property
    def num_objects(self) -> int:
        return len(self.objects)

    @property
    def views(self) -> int:
        return self.latents.shape[1]

    @property
    def latent_size(self) -> int:
        return self.latents.shape[2]

    def object_dir(self, k: int) -> Path:
        return object_dir(self.root, *self.objects[k])

    def image_path(self, k: int, view: int) -> Path:
        return image_path(self.root, *self.objects[k], view)

    def latent_path(self, k: int, view: int) -> Path:
        return latent_path(self.root, *self.objects[k], view)

    def missing_images(self) -> list[Path]:
        """Every image of the split absent from disk (one directory listing per object)."""
        missing = []
        for k in range(self.num_objects):
            try:
                present = set(os.listdir(self.object_dir(k)))
            except (FileNotFoundError, NotADirectoryError):
                present = set()
            images = (self.image_path(k, v) for v in range(self.views))
            missing += [path for path in images if path.name not in present]
        return missing

    def check_images(self) -> None:
        """Raise IebenchError naming the first missing image, if any."""
        missing = self.missing_images()
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise IebenchError(f"{missing[0]}: view missing on disk{more}")


def read_split_objects(root: Path, split: str) -> tuple[tuple[tuple[str, str], ...], np.ndarray]:
    """The objects ``(synset, object_id)`` of ``<split>_images.npy`` and their int64 labels from
    ``<split>_labels.npy``, each checked (known synset, an id that names a folder inside its
    synset's, the synset's label)."""
    files = split_files(root, split)
    keys = load_array(files.images)
    if keys.ndim != 1 or keys.dtype.kind not in "US":
        raise IebenchError(f"{files.images}: expected a 1-d array of object paths")
    try:
        objects = tuple(parse_object_key(str(key)) for key in keys)
    except IebenchError as error:
        raise IebenchError(f"{files.images}: {error}") from None
    unknown = sorted({synset for synset, _ in objects if not is_synset(synset)})
    if unknown:
        raise IebenchError(f"{files.images}: unknown synsets {', '.join(unknown)}")
    outside = next((o for _, o in objects if o in (".", "..") or "\\" in o or "\0" in o), None)
    if outside is not None:
        raise IebenchError(f"{files.images}: object id {outside!r} is not a folder name")
    labels = load_array(files.labels)
    if labels.shape != (len(objects),) or labels.dtype.kind not in "iu":
        raise IebenchError(
            f"{files.labels}: expected {len(objects)} integer labels, "
            f"got shape {labels.shape} of {labels.dtype}"
        )
    for k, (synset, object_id) in enumerate(objects):
        if int(labels[k]) != label_of(synset):
            raise IebenchError(
                f"{files.labels}: label {int(labels[k])} of /{synset}/{object_id}/ "
                f"(row {k}) is not its synset's label {label_of(synset)}"
            )
    return objects, labels.astype(np.int64)


def require_objects(index: TreeIndex) -> TreeIndex:
    """``index``, refused when its split lists no objects: nothing could be trained or scored
    on it (e.g. every category had one object, and the seeded split keeps a lone object in
    train)."""
    if index.num_objects == 0:
        raise IebenchError(
            f"{split_files(index.root, index.split).images}: split {index.split!r} has no "
            f"objects; render at least 2 objects per category (e.g. --per-class 2) so that "
            f"both splits get some"
        )
    return index


def _views_per_object(latents: np.ndarray, objects: int, path: Path) -> int:
    """Views per object from the latent rows (object-major, views 0..V-1)."""
    if latents.ndim != 2 or latents.shape[1] not in LATENT_SIZES or latents.dtype.kind != "f":
        raise IebenchError(
            f"{path}: latents of the wrong shape {latents.shape} ({latents.dtype}); "
            f"expected (objects * views, 7 or 10) floats"
        )
    if objects == 0:
        return VIEWS_PER_OBJECT
    if latents.shape[0] == 0 or latents.shape[0] % objects:
        raise IebenchError(
            f"{path}: latents of the wrong shape {latents.shape}: {latents.shape[0]} rows "
            f"is not a whole number of views for {objects} objects"
        )
    return latents.shape[0] // objects
