"""Package layout only; everything else is in pyproject.toml.

The Blender side lives in the top-level render/ folder but installs inside the
package, as iebench.render, so that only `iebench` lands in site-packages.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["iebench", "iebench.*"]), "iebench.render"],
    package_dir={"iebench.render": "render"},
)
