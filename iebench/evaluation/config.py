"""The evaluation config and the probe protocols (docs/protocol.md section 5)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from iebench.core.cpus import default_workers
from iebench.core.errors import IebenchError
from iebench.protocol.layout import FEATURE_CACHE_NAME
from iebench.protocol.tasks import PROTOCOL_NAMES, TASKS


@dataclass(frozen=True)
class ProbeSettings:
    """How every probe trains: Adam at a constant learning rate, whole epochs."""

    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 256
    epochs: int = 300


# Keyed by the results schema's names: unpacking fails at import unless there is one
# setting per name.
_REFERENCE, _QUICK = PROTOCOL_NAMES
PROTOCOLS: dict[str, ProbeSettings] = {
    _REFERENCE: ProbeSettings(),
    # The reference probes, fewer epochs: for smoke tests and demos, not for comparisons.
    _QUICK: ProbeSettings(epochs=10),
}


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def default_eval_workers() -> int:
    return default_workers(8)


@dataclass(frozen=True)
class EvalConfig:
    """Everything one evaluation run depends on besides the encoder; stored in its results.

    ``tasks=None`` runs every task the encoder supports (equivariance only with a
    predictor); naming ``equivariance`` for an encoder without one is an error.
    ``checkpoint`` is passed to a submission file's builders (like ``--checkpoint``).
    Probe seeds are 0 .. seeds-1. Features are cached under ``cache_dir``
    (default ``<data>/.iebench-cache``). Classification is scored on every
    validation view; rotation and colour on ``val_pairs_per_object`` fixed random
    pairs of distinct views per validation object. The submission is built with the
    global generators seeded with ``seed`` (recorded in the results). The encoder's
    declared input resolution must be the tree's render resolution unless
    ``allow_resolution_mismatch`` (images are then resized, and the results say so).
    """

    # Each field with a help is an `iebench evaluate` option (iebench.cli.options).
    data: Path = field(metadata={"help": "Dataset root.", "path": True})
    checkpoint: Path | None = field(
        default=None,
        metadata={
            "help": "Weights passed to build_encoder (default: the file's METADATA.checkpoint).",
            "path": True,
        },
    )
    protocol: str = field(
        default="reference",
        metadata={
            "help": "reference: the published probes (300 epochs); quick: 10 epochs, for smoke "
            "tests.",
            "choices": PROTOCOL_NAMES,
        },
    )
    tasks: tuple[str, ...] | None = None
    seeds: int = field(
        default=1,
        metadata={
            "help": "Train every probe with seeds 0..N-1; scores report mean, std and n.",
            "min": 1,
        },
    )
    cache_dir: Path | None = field(
        default=None,
        metadata={
            "help": f"Feature cache directory (default DATA/{FEATURE_CACHE_NAME}).",
            "option": "--cache",
            "path": True,
        },
    )
    device: str = field(
        default_factory=default_device,
        metadata={"help": "torch device.", "show_default": "cuda when present, else cpu"},
    )
    batch_size: int = field(
        default=256, metadata={"help": "Images per batch when extracting features.", "min": 1}
    )
    workers: int = field(
        default_factory=default_eval_workers,
        metadata={
            "help": "Image-loading processes.",
            "min": 0,
            "show_default": "cores - 1, at most 8",
        },
    )
    val_pairs_per_object: int = 10
    seed: int = field(
        default=0,
        metadata={
            "help": "Seed of torch's, numpy's and random's global generators while the "
            "submission builds its encoder (recorded in the results).",
            "min": 0,
        },
    )
    allow_resolution_mismatch: bool = field(
        default=False,
        metadata={
            "help": "Evaluate although the encoder's resolution is not the tree's render "
            "resolution (images are resized; the results and the board say so)."
        },
    )
    progress: bool = field(
        default=True, metadata={"help": "No progress bars.", "option": "--quiet"}
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", Path(self.data))
        for name in ("checkpoint", "cache_dir"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, Path(getattr(self, name)))
        if self.tasks is not None:
            object.__setattr__(self, "tasks", tuple(self.tasks))
        problems = []
        if self.protocol not in PROTOCOLS:
            problems.append(
                f"unknown protocol {self.protocol!r}; choose from {', '.join(PROTOCOLS)}"
            )
        unknown = [t for t in self.tasks or () if t not in TASKS]
        if unknown or self.tasks == ():
            problems.append(f"unknown tasks {unknown or '(none)'}; choose from {', '.join(TASKS)}")
        for name in ("seeds", "batch_size", "val_pairs_per_object"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                problems.append(f"{name} must be an int >= 1, got {getattr(self, name)!r}")
        for name in ("workers", "seed"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                problems.append(f"{name} must be an int >= 0, got {getattr(self, name)!r}")
        try:
            device = torch.device(self.device)
        except (RuntimeError, TypeError):
            problems.append(f"unknown device {self.device!r}")
        else:
            if device.type == "cuda" and not torch.cuda.is_available():
                problems.append(f"device {self.device!r}: CUDA is not available here")
        if problems:
            raise IebenchError(f"evaluation config: {'; '.join(problems)}")

    @property
    def probe(self) -> ProbeSettings:
        return PROTOCOLS[self.protocol]

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.seeds))

    @property
    def cache_root(self) -> Path:
        return self.cache_dir if self.cache_dir is not None else self.data / FEATURE_CACHE_NAME

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["data"] = str(self.data)
        for name in ("checkpoint", "cache_dir"):
            data[name] = None if data[name] is None else str(data[name])
        data["tasks"] = None if self.tasks is None else list(self.tasks)
        return data
