"""One view on disk: when it counts as done, how its latent is written, and its render seed.

A view is complete when its latent file holds exactly the latent the factor module
draws for it and its JPEG has the right size and is not truncated; anything else
(missing, stale, half-written) is rendered again.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
from PIL import Image

from iebench.core.io import TEMP_PREFIX, write_bytes_atomic
from iebench.core.seeding import cycles_seed

JPEG_END = b"\xff\xd9"


def render_seed(seed: int, synset: str, object_id: str, view: int) -> int:
    """Cycles' sampling seed of a view: fixed by the view's key, so re-renders are identical
    and no two views share a noise pattern."""
    return cycles_seed("cycles", seed, synset, object_id, view)


def write_latent(path: Path, latent: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(latent, dtype=np.float64))
    write_bytes_atomic(path, buffer.getvalue())


def latent_matches(path: Path, expected: np.ndarray) -> bool:
    try:
        stored = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return False
    return stored.dtype == np.float64 and np.array_equal(stored, expected)


def jpeg_ok(path: Path, resolution: int) -> bool:
    """The JPEG opens, has the expected size, and ends with its end-of-image marker."""
    try:
        with open(path, "rb") as handle:
            handle.seek(-2, 2)
            if handle.read() != JPEG_END:
                return False
            handle.seek(0)
            with Image.open(handle) as image:
                return image.format == "JPEG" and image.size == (resolution, resolution)
    except OSError:
        return False


def view_complete(image: Path, latent: Path, expected: np.ndarray, resolution: int) -> bool:
    return latent_matches(latent, expected) and jpeg_ok(image, resolution)


def remove_temp_files(directory: Path) -> None:
    """Delete the temporary files a killed run left in an object's directory."""
    if not directory.is_dir():
        return
    for leftover in directory.glob(TEMP_PREFIX + "*"):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()
