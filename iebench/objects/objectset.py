"""Writing the built-in object set: which categories, stable ids and generators, the cache."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from iebench.core.errors import IebenchError
from iebench.core.io import write_json_atomic
from iebench.core.seeding import key_digest, numpy_generator
from iebench.objects import furniture, handheld, vehicles
from iebench.objects.meshfile import is_complete, object_files
from iebench.objects.parts import Assembly
from iebench.objects.surfaces import random_surfaces
from iebench.protocol import taxonomy

# Bump whenever any generator changes its output: ids and cache folders carry it.
GENERATOR_VERSION = 2
MANIFEST_NAME = "iebench-objects.json"
COLOUR_SLOTS = 4

GENERATORS: dict[str, Callable[[np.random.Generator], Assembly]] = {
    taxonomy.synset_of(generator.__name__): generator
    for generator in (
        vehicles.airplane,
        furniture.bed,
        furniture.bench,
        handheld.bottle,
        handheld.bowl,
        vehicles.car,
        furniture.chair,
        handheld.guitar,
        furniture.lamp,
        handheld.laptop,
        handheld.mug,
        handheld.rifle,
        furniture.sofa,
        furniture.table,
        vehicles.watercraft,
    )
}
BUILTIN_CATEGORIES: tuple[str, ...] = tuple(sorted(GENERATORS))


def object_id(seed: int, synset: str, index: int) -> str:
    """A ShapeNet-looking 32-hex id, stable for (generator version, seed, synset, index)."""
    return key_digest("iebench-objects", f"v{GENERATOR_VERSION}", seed, synset, index).hex()[:32]


def object_rng(seed: int, synset: str, index: int) -> np.random.Generator:
    """The generator of one object, independent of which other objects are made."""
    return numpy_generator(seed, "objects", synset, index)


def _builtin_synsets(categories: Sequence[str] | str | None) -> tuple[str, ...]:
    synsets = taxonomy.parse_synsets(categories)
    if synsets is None:
        return BUILTIN_CATEGORIES
    missing = [taxonomy.name_of(s) for s in synsets if s not in GENERATORS]
    if missing:
        known = ", ".join(taxonomy.name_of(s) for s in BUILTIN_CATEGORIES)
        raise IebenchError(f"no built-in generator for {', '.join(missing)}; choose from {known}")
    return synsets


def _check_counts(per_class: int, seed: int) -> None:
    if isinstance(per_class, bool) or not isinstance(per_class, int | np.integer) or per_class < 1:
        raise IebenchError(f"per_class must be a positive integer, got {per_class!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise IebenchError(f"seed must be an integer >= 0, got {seed!r}")


def _claim(out: Path, seed: int) -> dict:
    """The folder's manifest; refuses a folder holding something else or another seed's set."""
    manifest_path = out / MANIFEST_NAME
    if out.exists() and not out.is_dir():
        raise IebenchError(f"{out}: exists and is not a directory")
    if manifest_path.is_file():
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            made = (manifest["seed"], manifest["generator_version"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise IebenchError(
                f"{manifest_path}: unreadable object-set manifest ({error})"
            ) from None
        if made != (seed, GENERATOR_VERSION):
            raise IebenchError(
                f"{out}: holds built-in objects of seed {made[0]} (generator v{made[1]}), "
                f"not seed {seed} (v{GENERATOR_VERSION}); choose another directory"
            )
        return manifest
    if out.is_dir() and any(not entry.name.startswith(".") for entry in out.iterdir()):
        raise IebenchError(
            f"{out}: not empty and not a built-in object set; choose another directory"
        )
    return {
        "generator": "iebench.objects",
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "objects_per_category": {},
    }


def make_object_set(
    out: Path, per_class: int, seed: int, categories: Sequence[str] | None = None
) -> Path:
    """Write ``per_class`` objects of each built-in category (names or synset ids) under ``out``.

    Layout ``out/<synset>/<id>/models/model_normalized.{obj,mtl,json}``. Objects
    already complete are left alone, so an interrupted run resumes and a
    larger ``per_class`` only adds objects. Returns ``out``.
    """
    _check_counts(per_class, seed)
    seed, per_class = int(seed), int(per_class)
    out = Path(out)
    synsets = _builtin_synsets(categories)
    manifest = _claim(out, seed)
    counts = manifest["objects_per_category"]
    for synset in synsets:
        counts[synset] = max(counts.get(synset, 0), per_class)
    manifest["objects_per_category"] = dict(sorted(counts.items()))
    # Written first, so an interrupted run is recognised (and resumed) as this set.
    write_json_atomic(out / MANIFEST_NAME, manifest)
    for synset in synsets:
        for index in range(per_class):
            identifier = object_id(seed, synset, index)
            directory = out / synset / identifier
            if is_complete(directory):
                continue
            rng = object_rng(seed, synset, index)
            surfaces = random_surfaces(rng, COLOUR_SLOTS)
            assembly = GENERATORS[synset](rng)
            object_files(assembly, surfaces, identifier).write(directory)
    return out


def cache_dir() -> Path:
    """``$IEBENCH_CACHE/objects``, else ``~/.cache/iebench/objects``."""
    root = os.environ.get("IEBENCH_CACHE")
    base = Path(root) if root else Path.home() / ".cache" / "iebench"
    return base / "objects"


def builtin_objects(per_class: int = 4, seed: int = 0) -> Path:
    """The built-in object set of every built-in category, made once into the cache and reused.

    It is built in a private temporary folder and renamed into place, so
    concurrent callers never see a half-written set.
    """
    _check_counts(per_class, seed)
    root = cache_dir()
    final = root / f"{int(per_class)}-{int(seed)}-v{GENERATOR_VERSION}"
    if final.is_dir():
        return final
    root.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
    try:
        make_object_set(temporary, per_class, seed)
        os.rename(temporary, final)
    except OSError:
        if not final.is_dir():  # not a lost race with another caller
            raise
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return final
