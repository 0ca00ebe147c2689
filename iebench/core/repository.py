"""The git repository holding a file: its top folder, its commit, and paths relative to it.

Results record paths relative to the repository holding them (never a machine's folders),
and the commit of the code that made them; boards look committed files up from there.
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def git(folder: Path, *args: str) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(
            ["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None


def repository_commit(path: Path) -> str | None:
    """The commit checked out in the git repository holding ``path``, with "-dirty" when
    tracked files have uncommitted changes or ``path`` itself is not committed; None outside
    a repository (or without git)."""
    path = Path(path).resolve()
    head = git(path.parent, "rev-parse", "HEAD")
    if head is None or head.returncode != 0:
        return None
    status = git(path.parent, "status", "--porcelain", "--untracked-files=no")
    tracked = git(path.parent, "ls-files", "--error-unmatch", path.name)
    clean = (
        status is not None
        and status.returncode == 0
        and not status.stdout.strip()
        and tracked is not None
        and tracked.returncode == 0
    )
    return head.stdout.strip() + ("" if clean else "-dirty")


def repository_root(path: Path) -> Path | None:
    """The top folder of the git repository holding ``path`` (a file or folder), or None."""
    path = Path(path).resolve()
    top = git(path if path.is_dir() else path.parent, "rev-parse", "--show-toplevel")
    if top is None or top.returncode != 0 or not top.stdout.strip():
        return None
    return Path(top.stdout.strip()).resolve()


def portable_path(path: Path | str) -> str:
    """``path`` as a results file records it, free of this machine's folders: relative to the
    root of the git repository holding it (POSIX form), else its bare name."""
    resolved = Path(path).resolve()
    root = repository_root(resolved)
    if root is not None and resolved.is_relative_to(root) and resolved != root:
        return resolved.relative_to(root).as_posix()
    return resolved.name


def committed_file(base: Path, recorded: str | None) -> Path | None:
    """The file a results file records as ``recorded`` (relative to ``base``, the folder its
    paths are taken from), or None when it is not there or the recorded path is absolute or
    leads out of ``base`` (a recorded path is the submitter's and could name any file)."""
    if not recorded or Path(recorded).is_absolute() or ".." in Path(recorded).parts:
        return None
    base = Path(base).resolve()
    path = (base / recorded).resolve()
    return path if path.is_relative_to(base) and path.is_file() else None
