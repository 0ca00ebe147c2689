"""The one exception type that reaches users as a single line."""

from __future__ import annotations

import pickle
import re


class IebenchError(Exception):
    """Bad input or a failed precondition; the CLI prints it as one line and exits non-zero.

    Messages name the file (or object) and the problem, e.g.
    ``"shapenet/02691156/abc/models/model_normalized.obj: no faces"``.
    """


# What torch.load(weights_only=True) names when it refuses a pickled object.
_REFUSED_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]{1,200})")
_QUOTED_CHARS = 200


def unreadable_checkpoint(path: object, error: Exception) -> IebenchError:
    """The one line for a checkpoint torch.load(weights_only=True) could not read: a file
    holding non-tensor objects is refused as such (torch's own text, many lines long,
    suggests loading it unsafely); any other error is quoted on one line."""
    refused = _REFUSED_GLOBAL.search(str(error))
    if refused:
        return IebenchError(
            f"{path}: refused: the checkpoint holds non-tensor objects ({refused[1]}), which "
            f"are never unpickled; save tensors and plain containers only (a state dict)"
        )
    if isinstance(error, pickle.UnpicklingError):  # torch's text again advises an unsafe load
        message = "malformed, or not what torch.save writes"
    else:
        message = " ".join(str(error).split())
    if len(message) > _QUOTED_CHARS:
        message = message[:_QUOTED_CHARS] + " ..."
    return IebenchError(f"{path}: not a readable torch checkpoint ({message})")
