"""Finding the objects of a ShapeNetCore tree (v2, and v1 as a fallback)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from iebench.core.errors import IebenchError
from iebench.protocol import taxonomy

# Where each ShapeNetCore version keeps an object's mesh, relative to <synset>/<id>/.
MESH_PATHS = (Path("models/model_normalized.obj"), Path("model.obj"))


@dataclass(frozen=True, order=True)
class ShapeNetObject:
    synset: str
    object_id: str
    mesh: Path = field(compare=False)

    @property
    def key(self) -> str:
        """``<synset>/<object_id>``, the form of `--objects-list` lines and failure records."""
        return f"{self.synset}/{self.object_id}"

    @property
    def label(self) -> int:
        return taxonomy.label_of(self.synset)


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass
class Discovery:
    objects: list[ShapeNetObject]
    skipped: list[Skipped]

    def summary(self) -> str:
        synsets = len({o.synset for o in self.objects})
        text = f"{len(self.objects)} objects in {synsets} categories"
        return text + (f", {len(self.skipped)} entries skipped" if self.skipped else "")


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # os.scandir surrogate-escapes undecodable bytes
        return False
    return True


def _subdirectories(path: Path, skipped: list[Skipped]) -> list[str]:
    try:
        with os.scandir(path) as entries:
            return sorted(entry.name for entry in entries if entry.is_dir())
    except OSError as error:
        skipped.append(Skipped(str(path), f"unreadable directory ({error.strerror or error})"))
        return []


def read_objects_list(path: Path) -> set[str]:
    """``synset/object_id`` lines (blank lines and ``#`` comments ignored)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise IebenchError(f"{path}: cannot read objects list ({error})") from None
    keys = set()
    for number, line in enumerate(lines, 1):
        line = line.split("#", 1)[0].strip().strip("/")
        if not line:
            continue
        if line.count("/") != 1:
            raise IebenchError(f"{path}:{number}: expected 'synset/object_id', got {line!r}")
        keys.add(line)
    return keys


def _refuse_the_folder_above(root: Path, subdirectories: list[str]) -> None:
    """A root without synset folders but with a child that has them is the folder above the
    tree (e.g. the archive's extraction folder): name the child instead of finding nothing."""
    for name in subdirectories:
        try:
            with os.scandir(root / name) as entries:
                if any(entry.is_dir() and taxonomy.is_synset(entry.name) for entry in entries):
                    raise IebenchError(
                        f"{root}: no <synset> folders here, but {root / name} has them; "
                        f"did you mean --objects {root / name}?"
                    )
        except OSError:
            continue


def discover(
    root: Path,
    synsets: Iterable[str] | None = None,
    limit: int | None = None,
    per_class: int | None = None,
    only: Iterable[str] | None = None,
) -> Discovery:
    """Walk ``root`` for ``<synset>/<id>/models/model_normalized.obj`` (or v1 ``model.obj``).

    Objects come sorted by (synset, id); ``per_class`` keeps the first N of each
    category, ``limit`` the first N overall, ``only`` a set of ``synset/id`` keys.
    What is passed over is reported with its reason, never silently dropped.
    """
    root = Path(root)
    if not root.is_dir():
        raise IebenchError(f"{root}: not a directory (expected a ShapeNetCore tree)")
    wanted = set(synsets) if synsets is not None else None
    only = set(only) if only is not None else None
    objects: list[ShapeNetObject] = []
    skipped: list[Skipped] = []
    subdirectories = _subdirectories(root, skipped)
    if not any(taxonomy.is_synset(name) for name in subdirectories):
        _refuse_the_folder_above(root, subdirectories)
    for synset in subdirectories:
        if not _is_utf8(synset):
            skipped.append(Skipped(repr(synset), "non-UTF-8 directory name"))
            continue
        if not taxonomy.is_synset(synset):
            if not synset.startswith("."):
                skipped.append(Skipped(str(root / synset), "unknown synset"))
            continue
        if wanted is not None and synset not in wanted:
            continue
        found = 0
        for object_id in _subdirectories(root / synset, skipped):
            if per_class is not None and found >= per_class:
                break
            if not _is_utf8(object_id):
                skipped.append(Skipped(f"{synset}/{object_id!r}", "non-UTF-8 directory name"))
                continue
            if only is not None and f"{synset}/{object_id}" not in only:
                continue
            directory = root / synset / object_id
            mesh = next((directory / p for p in MESH_PATHS if (directory / p).is_file()), None)
            if mesh is None:
                skipped.append(Skipped(str(directory), "missing OBJ mesh"))
                continue
            objects.append(ShapeNetObject(synset, object_id, mesh))
            found += 1
    if limit is not None:
        objects = objects[:limit]
    return Discovery(objects, skipped)
