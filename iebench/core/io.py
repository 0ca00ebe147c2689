"""Atomic writes, output-path checks and file hashes, shared by every stage that writes outputs.

A file is written under a temporary name in its own directory and renamed into
place, so a killed process never leaves a truncated file under the final name.
The temporary name carries the host and process id of its writer, so that a
resumed run can recognise (and remove) what a killed one left behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from iebench.core.errors import IebenchError

TEMP_PREFIX = ".tmp-"
# One path component, so that a temporary name parses back into (host, pid).
_HOST = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname()) or "host"
_TEMP_OWNER = re.compile(r"\.(?P<host>[A-Za-z0-9_-]+)\.(?P<pid>\d+)\.[A-Za-z0-9_]+$")
# Read once: os.umask can only be read by setting it.
_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is renamed to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f"{TEMP_PREFIX}{path.name}.{_HOST}.{os.getpid()}."
    fd, temp = tempfile.mkstemp(prefix=prefix, dir=path.parent)
    # mkstemp makes the file private (0600); give it the permissions a plain open() would.
    os.fchmod(fd, 0o666 & ~_UMASK)
    os.close(fd)
    try:
        yield Path(temp)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def write_bytes_atomic(path: Path, data: bytes) -> None:
    with atomic_path(path) as temp:
        temp.write_bytes(data)


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def sha256_file(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_temps(directory: Path) -> list[Path]:
    """Remove the temporary files in ``directory`` whose writer (a process of this host) is
    dead, e.g. killed mid-write; returns them. Other hosts' files are left alone."""
    removed = []
    try:
        names = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return removed
    for name in names:
        owner = _TEMP_OWNER.search(name) if name.startswith(TEMP_PREFIX) else None
        if owner and owner["host"] == _HOST and not _alive(int(owner["pid"])):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(Path(directory) / name)
                removed.append(Path(directory) / name)
    return removed


def check_output(
    path: Path,
    kind: Literal["file", "directory"],
    option: str = "--out",
    overwrite: bool | None = None,
) -> Path:
    """Refuse, before any work, an output path that cannot take what a command will write.

    ``kind`` is what the command writes there. A file may not be an existing directory
    and, unless ``overwrite`` is None (the command manages the file itself) or True,
    may not exist yet; a directory may not be an existing file. The nearest existing
    ancestor must be a writable directory. Returns ``path``.
    """
    path = Path(path)
    if kind == "file" and path.is_dir():
        raise IebenchError(f"{path}: {option} is an existing directory; name a file to write")
    if kind == "directory" and path.exists() and not path.is_dir():
        raise IebenchError(f"{path}: {option} is an existing file; name a directory")
    if kind == "file" and overwrite is False and path.exists():
        raise IebenchError(
            f"{path}: {option} already exists; pass --overwrite to replace it or choose "
            f"another path"
        )
    ancestor = path if kind == "directory" else path.parent
    ancestor = Path(os.path.abspath(ancestor))
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise IebenchError(f"{path}: {option} lies under {ancestor}, which is a file")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise IebenchError(f"{path}: {option}: {ancestor} is not writable")
    return path
