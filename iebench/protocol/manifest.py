"""The dataset manifest ``iebench.json`` that `iebench render` writes into a tree: read,
checked and written here only (see docs/protocol.md on rendered trees).

A manifest is written when a run starts (status ``running``) and again when it ends
(``finished``, with counts, splits, timings, failures and warnings). `Manifest.identity`
is the one answer to "are two renders the same dataset": resume refuses a tree of another
identity, and the evaluation feature cache is keyed by it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iebench.core.errors import IebenchError
from iebench.core.io import write_json_atomic
from iebench.protocol.factors import FactorSpec
from iebench.protocol.layout import MANIFEST_NAME, SHARD_MANIFEST_PATTERN

# Format 2: every object directory carries a checksum record of its views (CHECKSUMS_NAME).
FORMAT = "iebench-render/2"
READABLE_FORMATS = ("iebench-render/1", FORMAT)
STATUSES = ("running", "finished")
# What makes two renders the same dataset (the rendered pixels and latents depend on them),
# with the words used in an error.
IDENTITY = {
    "seed": "seed",
    "factor_spec": "factor spec",
    "render_settings": "render settings",
    "scene": "scene",
    "blender": "Blender version",
}
# Field -> type, in the order written; the second group only in a finished manifest.
_FIELDS: dict[str, type | tuple[type, ...]] = {
    "status": str,
    "updated": str,
    "iebench_version": str,
    "blender": dict,
    "config": dict,
    "threads_per_worker": int,
    "factor_spec": dict,
    "latent_names": list,
    "render_settings": dict,
    "scene": dict,
}
_FINISHED_FIELDS: dict[str, type | tuple[type, ...]] = {
    "counts": dict,
    "splits": (dict, type(None)),
    "seconds": (int, float),
    "failures": list,
    "warnings": list,
}


@dataclass(frozen=True)
class Manifest:
    """One ``iebench.json`` (or a shard's ``iebench.shard-K-of-N.json``)."""

    status: str
    updated: str
    iebench_version: str
    blender: dict  # {"blender": version, "build": hash or None, "device": name or None}
    config: dict  # RenderConfig.to_dict()
    threads_per_worker: int
    factor_spec: dict
    latent_names: list
    render_settings: dict
    scene: dict
    counts: dict | None = None
    splits: dict | None = None
    seconds: float | None = None
    failures: list | None = None
    warnings: list | None = None
    format: str = FORMAT
    source: Path | None = field(default=None, compare=False)  # the file it was read from

    @property
    def seed(self) -> int:
        return self.config["seed"]

    @property
    def spec(self) -> FactorSpec:
        try:
            return FactorSpec.from_dict(self.factor_spec)
        except (TypeError, ValueError) as error:
            raise IebenchError(f"{self.source}: manifest field 'factor_spec': {error}") from None

    @property
    def resolution(self) -> int | None:
        return self.render_settings.get("resolution")

    @property
    def has_checksums(self) -> bool:
        """Whether the tree's views carry checksum records (format 2 on)."""
        return self.format != "iebench-render/1"

    def identity(self) -> dict[str, Any]:
        """What makes two renders the same dataset, as stored (through JSON). Blender's
        version only: a resumed run may not know the build or the device."""
        identity = {
            "seed": self.seed,
            "factor_spec": self.factor_spec,
            "render_settings": self.render_settings,
            "scene": self.scene,
            "blender": self.blender.get("blender"),
        }
        return json.loads(json.dumps(identity))

    def check_same_dataset(self, other: Manifest, path: Path) -> None:
        """Refuse (naming ``path``, where ``self`` was read) when ``other`` is another dataset."""
        mine, theirs = self.identity(), other.identity()
        for name, words in IDENTITY.items():
            if mine[name] != theirs[name]:
                raise IebenchError(
                    f"{path}: this tree was rendered with another {words} "
                    f"({differences(mine[name], theirs[name])}); render into another --out, "
                    "or render with the tree's settings"
                )

    def to_dict(self) -> dict:
        data = {"format": self.format} | {name: getattr(self, name) for name in _FIELDS}
        if self.status == "finished":
            data |= {name: getattr(self, name) for name in _FINISHED_FIELDS}
        return data

    @classmethod
    def from_dict(cls, data: Any, path: Path) -> Manifest:
        """Check a parsed manifest; IebenchError naming ``path`` for any problem."""
        if not isinstance(data, dict):
            raise IebenchError(f"{path}: not a manifest (expected a JSON object)")
        found = data.get("format")
        if found not in READABLE_FORMATS:
            raise IebenchError(
                f"{path}: manifest format {found!r} is not one this iebench reads "
                f"({', '.join(READABLE_FORMATS)}); render it again or upgrade iebench"
            )
        if data.get("status") not in STATUSES:
            raise IebenchError(
                f"{path}: manifest status {data.get('status')!r} is not running or finished"
            )
        wanted = _FIELDS | (_FINISHED_FIELDS if data["status"] == "finished" else {})
        for name, kind in wanted.items():
            if not isinstance(data.get(name), kind) or isinstance(data.get(name), bool):
                raise IebenchError(f"{path}: manifest field {name!r} missing or of the wrong type")
        if not isinstance(data["config"].get("seed"), int):
            raise IebenchError(f"{path}: manifest field 'config' has no integer seed")
        return cls(format=found, source=path, **{name: data[name] for name in wanted})

    @classmethod
    def read(cls, path: Path) -> Manifest:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise IebenchError(f"{path}: unreadable manifest ({error.strerror})") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise IebenchError(f"{path}: not valid JSON ({error})") from None
        return cls.from_dict(data, path)

    def write(self, path: Path) -> None:
        write_json_atomic(path, self.to_dict())


def manifest_paths(root: Path) -> list[Path]:
    """The manifests in a tree: ``iebench.json`` and the shards' (a job array writes one each)."""
    root = Path(root)
    paths = [root / MANIFEST_NAME, *sorted(root.glob(SHARD_MANIFEST_PATTERN))]
    return [path for path in paths if path.is_file()]


def read_tree_manifest(root: Path) -> Manifest | None:
    """The tree's manifest (for a tree rendered in shards, the first shard's: all agree on
    the identity); None for a tree without one (the published dataset)."""
    paths = manifest_paths(root)
    return Manifest.read(paths[0]) if paths else None


def differences(tree: object, asked: object) -> str:
    """Only what differs, as "key: tree's value (asked: new value)", for dicts of settings."""
    if not (isinstance(tree, dict) and isinstance(asked, dict)):
        return f"{tree} (asked: {asked})"
    keys = sorted(k for k in {*tree, *asked} if tree.get(k) != asked.get(k))
    return ", ".join(f"{k}: {tree.get(k)!r} (asked: {asked.get(k)!r})" for k in keys)
