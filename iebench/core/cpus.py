"""How many cores this process may use, and the default number of loading processes."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask where the platform has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def cores_per_process(processes: int) -> int:
    """Threads each of ``processes`` concurrent processes gets: the usable cores shared
    evenly, at least one."""
    return max(1, usable_cores() // processes)


def default_workers(cap: int) -> int:
    """Loading processes by default: one fewer than the usable cores (the main process
    works too), at most ``cap``; so never more than the cores, which torch warns about."""
    return max(0, min(cap, usable_cores() - 1))
