"""iebench: generate 3DIEBench with Blender and benchmark image encoders on it."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("iebench")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"


def __getattr__(name: str):
    # The harness is imported on first use, so `import iebench` stays light.
    if name in ("evaluate", "EvalConfig"):
        from iebench import evaluation

        return getattr(evaluation, name)
    raise AttributeError(f"module 'iebench' has no attribute {name!r}")
