"""A tiny 3DIEBench tree in the published layout, built by hand for the data tests.

Images are small synthetic JPEGs whose content depends on (object, view), so a
test can tell views apart; latents come from the factor module (the published spec unless told).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PIL import Image

from iebench.protocol.factors import FactorSpec, sample_object
from iebench.protocol.layout import image_path, latent_path, object_key, split_files
from iebench.protocol.taxonomy import label_of

RENDERED_CLASSES = (
    ("02691156", "plane"),
    ("02958343", "car"),
    ("03001627", "chair"),
    ("04379243", "table"),
)
# synset -> object ids, per split
SPLIT_OBJECTS = {
    "train": [
        ("02691156", "plane_a"),
        ("02691156", "plane_b"),
        ("03001627", "chair_a"),
        ("04379243", "table_a"),
    ],
    "val": [("03001627", "chair_b"), ("04379243", "table_b")],
}
# The shape of the Blender-rendered test tree (tests/conftest.py): airplane, car, chair and
# table, 2 training objects and 1 validation object each (8 train, 4 val objects).
RENDERED_SHAPE = {
    "train": [(synset, f"{name}_{k}") for synset, name in RENDERED_CLASSES for k in ("a", "b")],
    "val": [(synset, f"{name}_c") for synset, name in RENDERED_CLASSES],
}


def view_pixels(synset: str, object_id: str, view: int, size: int) -> np.ndarray:
    """A smooth, view-specific picture (JPEG-friendly): gradients with a per-view colour."""
    rng = np.random.default_rng(zlib.crc32(f"{synset}/{object_id}/{view}".encode()))
    base = rng.integers(40, 215, size=3)
    ramp = np.linspace(-30, 30, size)
    image = base[None, None, :] + ramp[:, None, None] + ramp[None, :, None] * (view % 3 - 1)
    return image.clip(0, 255).astype(np.uint8)


def build_tree(
    root: Path,
    views: int = 5,
    size: int = 32,
    seed: int = 0,
    spec: FactorSpec | None = None,
    latents_file: bool = True,
    objects: Mapping[str, list[tuple[str, str]]] = SPLIT_OBJECTS,
) -> Path:
    """Write images, per-view latents (of ``spec``: by default the published one) and split
    files; returns ``root``. ``latents_file=False`` leaves out ``all_latents_<split>.npy``,
    as the 3DIEBench-T and 3DIEBench-OOD releases do. ``objects``: (synset, id) per split,
    e.g. RENDERED_SHAPE for a tree shaped like the Blender-rendered one."""
    spec = spec or FactorSpec.published()
    for split, chosen in objects.items():
        latents = []
        for synset, object_id in chosen:
            object_latents = sample_object(spec, seed, synset, object_id, views)
            for view in range(views):
                path = image_path(root, synset, object_id, view)
                path.parent.mkdir(parents=True, exist_ok=True)
                pixels = view_pixels(synset, object_id, view, size)
                Image.fromarray(pixels).save(path, "JPEG", quality=95)
                np.save(latent_path(root, synset, object_id, view), object_latents[view])
            latents.append(object_latents)
        files = split_files(root, split)
        np.save(files.images, np.array([object_key(s, o) for s, o in chosen]))
        np.save(files.labels, np.array([label_of(s) for s, _ in chosen], dtype=np.int64))
        if latents_file:
            np.save(files.latents, np.concatenate(latents))
    return root


def build_rendered_shape(root: Path) -> Path:
    """A tree of the rendered test tree's shape (RENDERED_SHAPE, 4 views, 32 px) without
    Blender: for the tests that need a tree, not Blender's pixels."""
    return build_tree(root, views=4, size=32, objects=RENDERED_SHAPE)
