"""A 3DIEBench tree's on-disk layout, published and rendered alike (docs/protocol.md section 1).

- ``<root>/<synset>/<object_id>/image_<i>.jpg`` and ``latent_<i>.npy``, i = 0..views-1;
- ``<root>/{train,val}_images.npy``, ``{train,val}_labels.npy``, ``all_latents_{train,val}.npy``;
- ``<root>/iebench.json``, written by `iebench render` (absent from the published tree), and
  ``<root>/<synset>/<object_id>/checksums.json``: size and sha256 of each view's files as
  rendered (`iebench.protocol.checksums`);
- ``<root>/iebench.lock``: held while a render writes the tree (`iebench.core.locks`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from iebench.core.errors import IebenchError

MANIFEST_NAME = "iebench.json"
FAILURES_NAME = "failures.csv"
CHECKSUMS_NAME = "checksums.json"
LOCK_NAME = "iebench.lock"
SPLITS = ("train", "val")
VIEWS_PER_OBJECT = 50


def object_dir(root: Path, synset: str, object_id: str) -> Path:
    return Path(root) / synset / object_id


def image_path(root: Path, synset: str, object_id: str, view: int) -> Path:
    return object_dir(root, synset, object_id) / f"image_{view}.jpg"


def latent_path(root: Path, synset: str, object_id: str, view: int) -> Path:
    return object_dir(root, synset, object_id) / f"latent_{view}.npy"


@dataclass(frozen=True)
class SplitFiles:
    images: Path
    labels: Path
    latents: Path


def split_files(root: Path, split: str) -> SplitFiles:
    if split not in SPLITS:
        raise IebenchError(f"unknown split {split!r}; choose from {', '.join(SPLITS)}")
    root = Path(root)
    return SplitFiles(
        images=root / f"{split}_images.npy",
        labels=root / f"{split}_labels.npy",
        latents=root / f"all_latents_{split}.npy",
    )


def object_key(synset: str, object_id: str) -> str:
    """The published split-file entry of an object: ``/<synset>/<object_id>/``."""
    return f"/{synset}/{object_id}/"


def parse_object_key(key: str) -> tuple[str, str]:
    """``/<synset>/<object_id>/`` (slashes optional) -> (synset, object_id)."""
    parts = [part for part in str(key).split("/") if part]
    if len(parts) != 2:
        raise IebenchError(f"bad object entry {key!r}: expected /<synset>/<object_id>/")
    return parts[0], parts[1]
