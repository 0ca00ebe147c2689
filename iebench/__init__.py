"""iebench: generate 3DIEBench with Blender and benchmark image encoders on it."""

import importlib
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("iebench")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

# Public names -> the module defining them, imported on first use: `import iebench` stays
# light and torch-free (the leaderboard's tools never load torch).
_LAZY = {
    "evaluate": "iebench.evaluation",
    "EvalConfig": "iebench.evaluation",
    # The submission contract: what a submission file defines and what the harness checks.
    "EncoderMetadata": "iebench.evaluation.submission",
    "Predictor": "iebench.evaluation.submission",
    "Submission": "iebench.evaluation.submission",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'iebench' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
