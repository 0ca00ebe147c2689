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
from iebench.core.locks import hold_or_refuse
from iebench.protocol.layout import results_lock_path


@contextlib.contextmanager
def holding_results(out: Path) -> Iterator[None]:
    """Hold ``out``'s lock; a run holding it already is refused in one line naming it.
    Under torchrun only process 0 (the one that writes the results) holds it."""
    if int(os.environ.get("RANK", "0")) != 0:
        yield
        return
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise IebenchError(f"{out}: cannot create its folder ({error.strerror})") from None
    with hold_or_refuse(
        results_lock_path(out), f"another `iebench evaluate` is writing {out.name}"
    ):
        yield
