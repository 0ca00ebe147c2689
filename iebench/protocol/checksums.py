"""An object's checksum record ``<synset>/<object_id>/checksums.json``: the size and sha256
of each view's files as `iebench render` wrote them, so that resume and `iebench validate`
can tell a file on disk is the one rendered (not damaged, not another view's).

The record maps file names to ``{"size": bytes, "sha256": hex}``, in view order (image,
then latent), whatever order the views were rendered in.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from iebench.core.io import write_json_atomic
from iebench.protocol.layout import CHECKSUMS_NAME

Digest = dict  # {"size": bytes, "sha256": hex}


def digest_of(data: bytes) -> Digest:
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def file_digest(path: Path) -> Digest | None:
    """Size and sha256 of a file; None when it cannot be read."""
    try:
        return digest_of(Path(path).read_bytes())
    except OSError:
        return None


def _file_order(name: str) -> tuple[int, str]:
    """Record entries in view order (image, then latent), whatever order they were written in."""
    match = re.search(r"_(\d+)\.", name)
    return (int(match.group(1)) if match else -1, name)


class Checksums:
    """An object's ``checksums.json``: file name -> size and sha256 as rendered."""

    def __init__(self, path: Path, entries: dict[str, Digest]) -> None:
        self.path = path
        self.entries = entries

    @classmethod
    def load(cls, directory: Path) -> Checksums:
        """An object directory's record; an unreadable one counts as empty."""
        path = Path(directory) / CHECKSUMS_NAME
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            entries = {}
        return cls(path, entries if isinstance(entries, dict) else {})

    def matches(self, path: Path) -> bool:
        """The file is on disk exactly as recorded."""
        return self.problem(path) is None

    def problem(self, path: Path) -> str | None:
        """Why the file is not the one recorded, in words; None when it is."""
        recorded = self.entries.get(path.name)
        if recorded is None:
            return f"not in {self.path}"
        if file_digest(path) != recorded:
            return f"size or sha256 differs from {self.path}: not the file rendered"
        return None

    def record(self, path: Path, digest: Digest) -> None:
        self.entries[path.name] = digest

    def write(self) -> None:
        ordered = {name: self.entries[name] for name in sorted(self.entries, key=_file_order)}
        write_json_atomic(self.path, ordered)
