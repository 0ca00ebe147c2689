"""A 3DIEBench tree's on-disk layout, published and rendered alike (docs/protocol.md section 1).

- ``<root>/<synset>/<object_id>/image_<i>.jpg`` and ``latent_<i>.npy``, i = 0..views-1;
- ``<root>/{train,val}_images.npy``, ``{train,val}_labels.npy``, ``all_latents_{train,val}.npy``;
- ``<root>/iebench.json``, written by `iebench render` (absent from the published tree), and
  ``<root>/<synset>/<object_id>/checksums.json``: size and sha256 of each view's files as
  rendered (`iebench.protocol.checksums`);
- ``<root>/iebench.lock``: held while a render writes the tree (`iebench.core.locks`); a shard
  of a job array holds it shared and its own ``iebench.shard-K-of-N.lock``, and writes its own
  ``iebench.shard-K-of-N.json`` and ``failures.shard-K-of-N.csv``;
- ``<root>/.iebench-cache/``: the evaluation's feature cache (by default);
- ``<root>/packed/<split>-<resolution>px.{npy,json}``: a split's images packed for training.

Outside a tree: ``train.lock`` in a training run's folder and ``demo.lock`` in the demo's, held
by the process writing it, and ``.<name>.lock`` beside a results file ``<name>`` that
`iebench evaluate` is writing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from iebench.core.errors import IebenchError

MANIFEST_NAME = "iebench.json"
FAILURES_NAME = "failures.csv"
CHECKSUMS_NAME = "checksums.json"
LOCK_NAME = "iebench.lock"
SHARD_MANIFEST_PATTERN = "iebench.shard-*.json"
SHARD_LOCK_PATTERN = "iebench.shard-*.lock"
FEATURE_CACHE_NAME = ".iebench-cache"
PACK_DIR = "packed"
# Held by the process writing a run folder: two runs resumed into one folder would
# interleave their checkpoints, and each would delete the other's temporary files.
RUN_LOCK_NAME = "train.lock"
# Held while a demo writes its folder: its stages share runs and a board that two demos
# would write at once.
DEMO_LOCK_NAME = "demo.lock"
# A leaderboard's folder: results/<track>/<entry>.json with their hashes in results/SHA256SUMS,
# the published rows, the tracks' dataset names, the generated pages and the lock of its state.
BOARD_RESULTS_DIR = "results"
BOARD_SUMS_NAME = "SHA256SUMS"
BOARD_DATASETS_NAME = "datasets.csv"
BOARD_REPORTED_NAME = "reported.csv"
BOARD_README_NAME = "README.md"
BOARD_PAGE_NAME = "index.html"
BOARD_PLOT_NAME = "tradeoff.png"
BOARD_LOCK_NAME = "board.lock"
BOARD_VERIFIED_NAME = "verified.csv"  # re-computations of its results (`leaderboard verify`)
SPLITS = ("train", "val")
VIEWS_PER_OBJECT = 50


@dataclass(frozen=True)
class ShardNames:
    """The files one shard (``index`` of ``count``) of a job array writes into the tree."""

    manifest: str
    failures: str
    lock: str


def shard_names(index: int, count: int) -> ShardNames:
    part = f"shard-{index}-of-{count}"
    return ShardNames(
        manifest=f"iebench.{part}.json",
        failures=f"failures.{part}.csv",
        lock=f"iebench.{part}.lock",
    )


def pack_paths(directory: Path, split: str, resolution: int) -> tuple[Path, Path]:
    """(array file, index file) of a split's pack at a resolution."""
    stem = f"{split}-{int(resolution)}px"
    return Path(directory) / f"{stem}.npy", Path(directory) / f"{stem}.json"


def results_lock_path(results: Path) -> Path:
    """The lock held beside a results file while `iebench evaluate` works towards it."""
    results = Path(results)
    return results.with_name(f".{results.name}.lock")


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
