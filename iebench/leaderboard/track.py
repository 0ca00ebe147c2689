"""Tracks: results are compared only on the same dataset, protocol and resolution."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

FINGERPRINT_SHOWN = 12  # hex digits of the dataset fingerprint in names and directory names
# How files without encoder.method / encoder.training_seed name a training seed.
SEEDED_NAME = re.compile(r"(?P<method>.+) seed (?P<seed>[0-9]{1,9})")


def slugify(name: str) -> str:
    """A file-name-safe form of an encoder name: "SIE (rot+col)" -> "sie-rot-col"."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "encoder"


def method_and_seed(encoder: dict[str, Any]) -> tuple[str, int | None]:
    """(training method, training seed) of a results file's encoder: ``encoder.method`` and
    ``encoder.training_seed`` where recorded; a file recording neither is read by its name,
    "<method> seed <k>"; otherwise a missing method is the name and a missing seed None."""
    method, seed = encoder.get("method"), encoder.get("training_seed")
    if method is None and seed is None:
        match = SEEDED_NAME.fullmatch(encoder["name"])
        if match:
            return match["method"], int(match["seed"])
    return method or encoder["name"], seed


@dataclass(frozen=True, order=True)
class Track:
    """(dataset fingerprint, protocol name, input resolution) of a results file, and the
    side the dataset was rendered at (fixed by the fingerprint; None in older files)."""

    fingerprint: str
    protocol: str
    resolution: int
    render_resolution: int | None = None

    @classmethod
    def of(cls, results: dict[str, Any]) -> Track:
        """The track of a schema-valid results dict."""
        return cls(
            fingerprint=results["dataset"]["fingerprint"],
            protocol=results["protocol"]["name"],
            resolution=results["encoder"]["resolution"],
            render_resolution=results["dataset"].get("render_resolution"),
        )

    @property
    def slug(self) -> str:
        """The track's directory name under ``results/``, e.g. ``reference-256px-3f2a9c01b7de``."""
        return f"{self.protocol}-{self.resolution}px-{self.fingerprint[:FINGERPRINT_SHOWN]}"

    def title(self, dataset_names: dict[str, str]) -> str:
        """A readable name, e.g. "3DIEBench, reference protocol, 256 px", or, for inputs
        resized from another render resolution, "..., 256 px input from a 64 px render"."""
        dataset = dataset_names.get(
            self.fingerprint, f"dataset {self.fingerprint[:FINGERPRINT_SHOWN]}"
        )
        title = f"{dataset}, {self.protocol} protocol, {self.resolution} px"
        if self.render_resolution not in (None, self.resolution):
            title += f" input from a {self.render_resolution} px render"
        return title
