"""The one exception type that reaches users as a single line."""


class IebenchError(Exception):
    """Bad input or a failed precondition; the CLI prints it as one line and exits non-zero.

    Messages name the file (or object) and the problem, e.g.
    ``"shapenet/02691156/abc/models/model_normalized.obj: no faces"``.
    """
