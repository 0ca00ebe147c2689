"""One view: what the parent plans for it (latent, scene, Cycles seed, paths) and how it is
known to be done.

The parent plans every view and the worker only turns its scene into a JPEG. The parent
then writes the latent and records size and sha256 of both files in the object's
``checksums.json``; a view is complete when both files are on disk exactly as recorded
and the recorded latent is the one the factor module draws for it. Anything else
(missing, damaged, overwritten, never recorded) is rendered again.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from iebench.core.io import TEMP_PREFIX, write_bytes_atomic
from iebench.core.seeding import cycles_seed
from iebench.protocol.checksums import Checksums, Digest, digest_of
from iebench.protocol.factors import FactorSpec, sample_view
from iebench.protocol.layout import image_path, latent_path
from iebench.scene.description import Stage, describe_view


def render_seed(seed: int, synset: str, object_id: str, view: int) -> int:
    """Cycles' sampling seed of a view: fixed by the view's key, so re-renders are identical
    and no two views share a noise pattern."""
    return cycles_seed("cycles", seed, synset, object_id, view)


def latent_bytes(latent: np.ndarray) -> bytes:
    """A view's latent file: float64 .npy."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(latent, dtype=np.float64))
    return buffer.getvalue()


@dataclass(frozen=True, eq=False)
class ViewPlan:
    """Everything about one view, decided by the parent before the worker sees it."""

    view: int
    latent: np.ndarray
    scene: dict  # the SceneDescription's per-view fields (the stage is the worker's)
    cycles_seed: int
    image: Path
    latent_file: Path

    def message(self) -> dict:
        """What the worker needs: the scene, the Cycles seed and where the JPEG goes."""
        return {
            "view": self.view,
            "scene": self.scene,
            "seed": self.cycles_seed,
            "image": str(self.image),
        }


def plan_view(
    spec: FactorSpec, stage: Stage, seed: int, out: Path, synset: str, object_id: str, view: int
) -> ViewPlan:
    latent = sample_view(spec, seed, synset, object_id, view)
    scene = describe_view(latent, spec, stage).to_dict()
    del scene["stage"]
    return ViewPlan(
        view=view,
        latent=latent,
        scene=scene,
        cycles_seed=render_seed(seed, synset, object_id, view),
        image=image_path(out, synset, object_id, view),
        latent_file=latent_path(out, synset, object_id, view),
    )


def view_complete(checksums: Checksums, image: Path, latent_file: Path, latent: np.ndarray) -> bool:
    """Both files on disk as recorded, and the recorded latent the expected one."""
    if checksums.entries.get(latent_file.name) != digest_of(latent_bytes(latent)):
        return False
    return checksums.matches(image) and checksums.matches(latent_file)


def write_latent(plan: ViewPlan, checksums: Checksums, image: Digest) -> None:
    """Finish a view the worker rendered: its latent file, then its checksum record (last,
    so that a view killed on the way has no record and is rendered again)."""
    data = latent_bytes(plan.latent)
    write_bytes_atomic(plan.latent_file, data)
    checksums.record(plan.image, image)
    checksums.record(plan.latent_file, digest_of(data))
    checksums.write()


def remove_temp_files(directory: Path) -> None:
    """Delete the temporary files a killed run left in an object's directory."""
    if not directory.is_dir():
        return
    for leftover in directory.glob(TEMP_PREFIX + "*"):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()
