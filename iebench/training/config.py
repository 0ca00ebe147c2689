"""TrainConfig: everything a training run depends on, validated once and stored with the run.

Defaults are the SIE paper's (docs/protocol.md section 4): Adam, lr 1e-3, weight
decay 1e-6, constant lr, global batch 1024, 2000 epochs, 256 px, ResNet-18.
Fields left as None take the method's defaults when the config is resolved
(projector 4x the backbone's output per layer, i.e. 2048-2048-2048 for
ResNet-18; conditioning; equivariant dims; loss weights).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iebench.core.cpus import default_workers
from iebench.core.errors import IebenchError
from iebench.methods import CONDITIONINGS, MethodSpec, method_info
from iebench.models.backbones import BACKBONES, backbone_info
from iebench.training.run_files import tensorboard_writer

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# What an epoch does with the objects left after the last full batch: train on them (the
# official loop: 41 steps per epoch on the published 41,920 train objects) or skip them.
LAST_BATCHES = ("keep", "drop")
# Covariance normaliser: the rows of the batch present (iebench), or the configured batch
# size (the official code, which divides a partial batch's covariance by it too).
COVARIANCE_DIVISORS = ("rows", "batch-size")
# Fields that may differ when a run is resumed: where and how fast it runs, not what it computes.
RUNTIME_FIELDS = (
    "out",
    "epochs",
    "workers",
    "device",
    "progress",
    "compile",
    "channels_last",
    "log",
)
# Where the per-epoch scalars go besides log.csv and log.json (iebench.training.run_files).
LOGGERS = ("csv", "tensorboard")
# Projector layers default to this multiple of the backbone output (2048 for 512).
PROJECTOR_EXPANSION = 4
PROJECTOR_LAYERS = 3


@dataclass(frozen=True)
class TrainConfig:
    """A training run. The metadata of a field is its `iebench train` option
    (iebench.cli.options): help, and name, choices or shown default where needed."""

    method: str
    data: str = field(metadata={"help": "Dataset root.", "path": True})
    out: str = field(metadata={"help": "Run directory.", "path": True})
    epochs: int = field(default=2000, metadata={"help": "Training epochs."})
    batch_size: int = field(
        default=1024, metadata={"help": "Global batch (split evenly across torchrun processes)."}
    )
    lr: float = field(default=1e-3, metadata={"help": "Adam learning rate."})
    weight_decay: float = field(default=1e-6, metadata={"help": "Adam weight decay."})
    resolution: int = field(
        default=256, metadata={"help": "Input image side in pixels (a multiple of 32)."}
    )
    # The output is 8 * width (512 for ResNet-18).
    width: int = field(
        default=64,
        metadata={
            "help": "ResNet width: the representation has 8 x width dims (64: ResNet-18, 512-d)."
        },
    )
    layers: tuple[int, ...] = field(
        default=(2, 2, 2, 2), metadata={"help": "Residual blocks per stage."}
    )
    backbone: str = field(
        default="resnet18", metadata={"help": "Backbone architecture.", "choices": BACKBONES}
    )
    projector: tuple[int, ...] | None = field(
        default=None,
        metadata={
            "help": "Projector layer sizes, e.g. 2048-2048-2048 [default: 4x the output, 3 layers]."
        },
    )
    equivariant_dims: int | None = field(
        default=None,
        metadata={
            "help": "SIE-like methods: dims of the equivariant part [default: the method's]."
        },
    )
    conditioning: str | None = field(
        default=None,
        metadata={
            "help": "What the predictor is given [default: the method's].",
            "choices": CONDITIONINGS,
        },
    )
    # Overrides of the method's loss weights.
    weights: Mapping[str, float] = field(
        default_factory=dict,
        metadata={
            "help": "Loss weight NAME=VALUE (repeatable).",
            "option": "--weight",
            "example": "cov=1.0",
        },
    )
    options: Mapping[str, Any] = field(default_factory=dict)  # method settings, e.g. transform
    temperature: float = field(
        default=0.1, metadata={"help": "InfoNCE temperature (SimCLR, EquiMod, SEN)."}
    )
    seed: int = field(
        default=0, metadata={"help": "Seed of the weights, the views and the batch order."}
    )
    # The paper's 4 loading processes, fewer on a machine with fewer cores.
    workers: int = field(
        default_factory=lambda: default_workers(4),
        metadata={"help": "Image-loading processes.", "show_default": "4, fewer on fewer cores"},
    )
    device: str = field(
        default="auto", metadata={"help": "auto (CUDA when present), cpu or cuda[:N]."}
    )
    precision: str = field(
        default="auto",
        metadata={
            "help": "auto: bf16 autocast on CUDA, fp32 on CPU; fp16 (+ GradScaler) as the "
            "official loop.",
            "choices": PRECISIONS,
        },
    )
    last_batch: str = field(
        default="keep",
        metadata={
            "help": "Train on each epoch's partial last batch (as the official loop) or drop it.",
            "choices": LAST_BATCHES,
        },
    )
    covariance_divisor: str = field(
        default="rows",
        metadata={
            "help": "VICReg/SIE covariance over the rows present - 1, or (official) "
            "--batch-size - 1.",
            "choices": COVARIANCE_DIVISORS,
        },
    )
    channels_last: bool = field(
        default=False, metadata={"help": "GPU: channels-last memory format."}
    )
    compile: bool = field(default=False, metadata={"help": "torch.compile the model."})
    progress: bool = field(default=True, metadata={"help": "No progress bar.", "option": "--quiet"})
    log: str = field(
        default="csv",
        metadata={
            "help": "Loss curves: csv (log.csv and log.json, always written) or tensorboard "
            "(also TensorBoard event files in the run directory; extra `tensorboard`).",
            "choices": LOGGERS,
        },
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", str(self.data))
        object.__setattr__(self, "out", str(self.out))
        object.__setattr__(self, "layers", tuple(int(n) for n in self.layers))
        if self.projector is not None:
            object.__setattr__(self, "projector", tuple(int(n) for n in self.projector))
        object.__setattr__(self, "weights", {k: float(v) for k, v in dict(self.weights).items()})
        object.__setattr__(self, "options", dict(self.options))

    @property
    def embed_dim(self) -> int:
        """The backbone's output size (8 * width for the ResNet-18s after the four stages)."""
        return backbone_info(self.backbone).out_dim(self.width, self.layers)

    @property
    def action_dim(self) -> int:
        return CONDITIONINGS[self.conditioning or method_info(self.method).conditioning]

    def resolved(self) -> TrainConfig:
        """This config validated, with every method default filled in."""
        info = method_info(self.method)
        self._check_basics()
        if self.log == "tensorboard":
            tensorboard_writer()  # refused before any file is written
        unknown = sorted(set(self.weights) - set(info.weights))
        if unknown:
            raise IebenchError(
                f"method {self.method}: unknown loss weights {', '.join(unknown)}; "
                f"its terms are {', '.join(info.weights)}"
            )
        unknown = sorted(set(self.options) - set(info.cls.options))
        if unknown:
            raise IebenchError(
                f"method {self.method}: unknown options {', '.join(unknown)}; "
                f"its options are {', '.join(info.cls.options) or 'none'}"
            )
        conditioning = self.conditioning or info.conditioning
        if conditioning not in CONDITIONINGS:
            raise IebenchError(
                f"unknown conditioning {conditioning!r}; choose from {', '.join(CONDITIONINGS)}"
            )
        projector = self.projector or (PROJECTOR_EXPANSION * self.embed_dim,) * PROJECTOR_LAYERS
        equivariant = self.equivariant_dims
        if equivariant is None:
            equivariant = round(self.embed_dim * info.equivariant_share)
        resolved = dataclasses.replace(
            self,
            data=str(Path(self.data).resolve()),
            out=str(Path(self.out).resolve()),
            projector=projector,
            equivariant_dims=equivariant,
            conditioning=conditioning,
            weights={**info.weights, **self.weights},
            options={**info.cls.options, **self.options},
        )
        resolved._check_sizes()
        return resolved

    def method_spec(self) -> MethodSpec:
        """The method's sizes and loss settings (from a resolved config)."""
        return MethodSpec(
            embed_dim=self.embed_dim,
            projector=tuple(self.projector),
            action_dim=self.action_dim,
            weights=dict(self.weights),
            temperature=self.temperature,
            equivariant_dims=self.equivariant_dims,
            options=dict(self.options),
            seed=self.seed,
            covariance_rows=self.batch_size if self.covariance_divisor == "batch-size" else None,
        )

    def _check_basics(self) -> None:
        problems = []
        positive_ints = ("epochs", "width")
        problems += [f"{k} must be >= 1" for k in positive_ints if getattr(self, k) < 1]
        if self.batch_size < 2:
            problems.append("batch_size must be >= 2 (variance and batch norm need 2 rows)")
        if not (math.isfinite(self.lr) and self.lr > 0):
            problems.append("lr must be > 0")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            problems.append("weight_decay must be >= 0")
        if self.resolution < 32 or self.resolution % 32:
            problems.append("resolution must be a multiple of 32 (the ResNet halves it 5 times)")
        if len(self.layers) != 4 or min(self.layers) < 1:
            problems.append("layers must be four block counts >= 1")
        if self.projector is not None and (not self.projector or min(self.projector) < 1):
            problems.append("projector sizes must be >= 1")
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            problems.append("temperature must be > 0")
        if any(not (math.isfinite(w) and w >= 0) for w in self.weights.values()):
            problems.append("loss weights must be finite and >= 0")
        if self.seed < 0:
            problems.append("seed must be >= 0")
        if self.workers < 0:
            problems.append("workers must be >= 0")
        if self.precision not in PRECISIONS:
            problems.append(f"precision must be one of {', '.join(PRECISIONS)}")
        if self.last_batch not in LAST_BATCHES:
            problems.append(f"last_batch must be one of {', '.join(LAST_BATCHES)}")
        if self.log not in LOGGERS:
            problems.append(f"log must be one of {', '.join(LOGGERS)}")
        if self.covariance_divisor not in COVARIANCE_DIVISORS:
            problems.append(f"covariance_divisor must be one of {', '.join(COVARIANCE_DIVISORS)}")
        if not (self.device in ("auto", "cpu") or self.device.startswith("cuda")):
            problems.append("device must be auto, cpu or cuda[:N]")
        if problems:
            raise IebenchError(f"train config: {'; '.join(problems)}")

    def _check_sizes(self) -> None:
        if not 0 <= self.equivariant_dims <= self.embed_dim:
            raise IebenchError(
                f"train config: equivariant_dims must be in 0..{self.embed_dim}, "
                f"got {self.equivariant_dims}"
            )

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["layers"] = list(self.layers)
        data["projector"] = list(self.projector) if self.projector is not None else None
        data["weights"] = dict(self.weights)
        data["options"] = dict(self.options)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "train config") -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise IebenchError(f"{source}: unknown fields {', '.join(unknown)}")
        try:
            return cls(**data)
        except TypeError as error:
            raise IebenchError(f"{source}: {error}") from None

    @classmethod
    def load(cls, path: Path) -> TrainConfig:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise IebenchError(f"{path}: not a readable config ({error})") from None
        return cls.from_dict(data, str(path))

    def resumed_from(self, stored: TrainConfig, given: Collection[str]) -> TrainConfig:
        """The config that resumes the run stored as ``stored``: its values, except the
        fields named in ``given`` (set explicitly), which take this config's; given loss
        weights and method options are merged into the stored ones."""
        values = {name: getattr(self, name) for name in given}
        for name in ("weights", "options"):
            if name in values:
                values[name] = {**getattr(stored, name), **values[name]}
        return dataclasses.replace(stored, **values)

    def differences(self, other: TrainConfig) -> list[str]:
        """Fields (other than runtime ones) whose values differ, as 'name: a -> b'."""
        mine, theirs = self.to_dict(), other.to_dict()
        return [
            f"{name}: {mine[name]!r} -> {theirs[name]!r}"
            for name in mine
            if name not in RUNTIME_FIELDS and mine[name] != theirs[name]
        ]
