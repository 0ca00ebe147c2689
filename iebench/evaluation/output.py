"""The results file of `iebench evaluate`, held exclusively while a run works towards it.

Two runs into one ``--out`` would both pass the start's checks (the file is not there
yet) and the second would replace the first's results at its end: a run holds
``.<out name>.lock`` next to the file (`iebench.core.locks`) from before it checks
``--out`` until it has written it, and a second run is refused at once.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from iebench.core.errors import IebenchError
from iebench.core.locks import Locked, hold

# The lock's name next to the results file; its place is iebench/protocol/layout.py.
RESULTS_LOCK_SUFFIX = ".lock"


def results_lock(out: Path) -> Path:
    """The lock file of the results file ``out``: hidden, beside it."""
    out = Path(out)
    return out.with_name(f".{out.name}{RESULTS_LOCK_SUFFIX}")


@contextlib.contextmanager
def holding_results(out: Path) -> Iterator[None]:
    """Hold ``out``'s lock; a run holding it already is refused in one line naming it.
    Under torchrun only process 0 (the one that writes the results) holds it."""
    if int(os.environ.get("RANK", "0")) != 0:
        yield
        return
    lock = results_lock(out)
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise IebenchError(f"{out}: cannot create its folder ({error.strerror})") from None
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(hold(lock))
        except Locked as locked:
            raise IebenchError(
                f"{out}: another `iebench evaluate` is writing it "
                f"({locked.holder or 'a process'}, lock {lock}); wait for it to end or choose "
                f"another --out"
            ) from None
        yield
