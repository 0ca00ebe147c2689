"""Locks on an output folder, so that two processes never write one tree at once.

A lock is flock(2) on a file: the kernel drops it when its holder dies, however it dies,
so a lock left by a killed run is simply taken over (no guessing from pids or ages). An
exclusive holder writes who it is into the file, for the message of a run it refuses,
and empties it when it ends; a file found non-empty on taking the lock was left by a run
that died. The file itself stays (deleting it would let two runs lock two inodes).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from iebench.core.errors import IebenchError


class Locked(IebenchError):
    """The lock is held; ``holder`` says by whom, when it said (else None)."""

    def __init__(self, path: Path, holder: str | None) -> None:
        super().__init__(f"{path}: locked by {holder or 'another process'}")
        self.path = path
        self.holder = holder


def _holder(fd: int) -> str | None:
    """Who wrote the lock file, in words; None for an empty or unreadable one."""
    try:
        info = json.loads(os.pread(fd, 4096, 0))
        return f"pid {info['pid']} on {info['host']}, since {info['since']}"
    except (OSError, ValueError, TypeError, KeyError):
        return None


@contextlib.contextmanager
def hold(path: Path, shared: bool = False) -> Iterator[str | None]:
    """Hold ``path`` locked (exclusive, or ``shared`` with other shared holders) without
    waiting; yields the holder a dead run left in the file (None if none); raises `Locked`."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Locked(path, _holder(fd)) from None
        # Anything in the file now was written by an exclusive holder that is gone.
        stale = _holder(fd)
        os.ftruncate(fd, 0)
        if not shared:
            me = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "since": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            os.pwrite(fd, (json.dumps(me) + "\n").encode(), 0)
        try:
            yield stale
        finally:
            if not shared:
                os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the lock


def holder_of(path: Path) -> str | None:
    """Who holds ``path`` locked now, in words; None when nobody does (the file untouched)."""
    try:
        fd = os.open(path, os.O_RDWR)  # over NFS, an exclusive flock needs write access
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return _holder(fd) or "another process"
    else:
        return None
    finally:
        os.close(fd)


@contextlib.contextmanager
def hold_or_refuse(
    path: Path,
    what: str,
    instead: str = "choose another --out",
    shared: bool = False,
    sharers: str | None = None,
) -> Iterator[str | None]:
    """`hold` ``path``, or refuse in one line naming the folder, ``what`` is going on there and
    its holder: "<folder>: <what> (<holder>); wait for it to end or <instead>". A lock held
    shared names nobody: ``sharers`` is the glob, next to ``path``, of the locks its shared
    holders each hold for themselves, read to name them."""
    path = Path(path)
    with contextlib.ExitStack() as stack:
        try:
            stale = stack.enter_context(hold(path, shared))
        except Locked as error:
            holders = [error.holder] if error.holder else []
            if not holders and sharers is not None:
                others = sorted(path.parent.glob(sharers))
                holders = [
                    f"{other.name} by {who}" for other in others if (who := holder_of(other))
                ]
            raise IebenchError(
                f"{path.parent}: {what} ({'; '.join(holders) or 'another process'}); "
                f"wait for it to end or {instead}"
            ) from None
        yield stale
