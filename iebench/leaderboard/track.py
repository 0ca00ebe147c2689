"""Tracks: results are compared only on the same dataset, protocol and resolution."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FINGERPRINT_SHOWN = 12  # hex digits of the dataset fingerprint in names and directory names


@dataclass(frozen=True, order=True)
class Track:
    """(dataset fingerprint, protocol name, input resolution) of a results file."""

    fingerprint: str
    protocol: str
    resolution: int

    @classmethod
    def of(cls, results: dict[str, Any]) -> Track:
        """The track of a schema-valid results dict."""
        return cls(
            fingerprint=results["dataset"]["fingerprint"],
            protocol=results["protocol"]["name"],
            resolution=results["encoder"]["resolution"],
        )

    @property
    def slug(self) -> str:
        """The track's directory name under ``results/``, e.g. ``reference-256px-3f2a9c01b7de``."""
        return f"{self.protocol}-{self.resolution}px-{self.fingerprint[:FINGERPRINT_SHOWN]}"

    def title(self, dataset_names: dict[str, str]) -> str:
        """A readable name, e.g. "3DIEBench, reference protocol, 256 px"."""
        dataset = dataset_names.get(
            self.fingerprint, f"dataset {self.fingerprint[:FINGERPRINT_SHOWN]}"
        )
        return f"{dataset}, {self.protocol} protocol, {self.resolution} px"
