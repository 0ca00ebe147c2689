"""iebench: generate 3DIEBench with Blender and benchmark image encoders on it."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("iebench")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
