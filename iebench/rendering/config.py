"""RenderConfig: every choice of one `iebench render` run, validated once and stored in
the dataset manifest."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path

from iebench.core.cpus import cores_per_process
from iebench.core.errors import IebenchError
from iebench.protocol import taxonomy
from iebench.protocol.factors import FactorSpec
from iebench.scene.description import SCENES, Stage, stage_named
from iebench.scene.meshcheck import MAX_FACES
from iebench.scene.presets import PRESET_USES, PRESETS, RenderSettings, preset_settings

DEVICES = ("cpu", "gpu")


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> (K, N), with 0 <= K < N (K counts from 0, like job-array task ids)."""
    try:
        index, count = (int(part) for part in str(text).split("/"))
    except ValueError:
        raise IebenchError(f"--shard {text!r}: expected K/N, e.g. 0/8") from None
    if not 0 <= index < count:
        raise IebenchError(f"--shard {text!r}: need 0 <= K < N")
    return index, count


@dataclass(frozen=True)
class RenderConfig:
    """One render run. ``objects=None`` renders the built-in object set."""

    out: Path = field(metadata={"help": "Dataset root.", "path": True})
    objects: Path | None = field(
        default=None,
        metadata={
            "help": "ShapeNetCore tree (<synset>/<id>/models/model_normalized.obj); "
            "default: the built-in object set."
        },
    )
    synsets: tuple[str, ...] | None = field(
        default=None,
        metadata={"help": "Comma-separated synset ids or category names.", "text": True},
    )
    limit: int | None = field(default=None, metadata={"help": "Render at most this many objects."})
    per_class: int | None = field(
        default=None, metadata={"help": "At most this many objects per category."}
    )
    objects_list: Path | None = field(
        default=None, metadata={"help": "File of synset/id lines to render."}
    )
    views: int = field(default=50, metadata={"help": "Views per object."})
    seed: int = field(
        default=0,
        metadata={"help": "Dataset seed: every view's factors derive from it and the view's key."},
    )
    # A named variant or a JSON file (FactorSpec.load).
    factors: str = field(
        default="published",
        metadata={
            "help": "Factor ranges: published (3DIEBench), translated (3DIEBench-T: + "
            "translation), ood-rotation (rotation angles in [-pi, -pi/2] U [pi/2, pi]), "
            "vertical-axis (z angle only), pose-only (z angle only, lights and floor fixed: the "
            "mini track), or a JSON file of ranges per factor (docs/rendering.md, Custom factor "
            "ranges)."
        },
    )
    scene: str = field(
        default="published",
        metadata={
            "help": "published: as the official renders (a very soft sun shadow); shadowless: "
            "none.",
            "choices": tuple(SCENES),
        },
    )
    preset: str = field(
        default="default",
        metadata={
            "help": "Render settings. "
            + "; ".join(f"{name}: {use}" for name, use in PRESET_USES.items())
            + ".",
            "choices": tuple(sorted(PRESETS)),
        },
    )
    resolution: int | None = field(
        default=None, metadata={"help": "Image size in pixels (overrides the preset)."}
    )
    samples: int | None = field(
        default=None, metadata={"help": "Cycles samples (overrides the preset)."}
    )
    engine: str | None = field(
        default=None, metadata={"help": "Render engine (overrides the preset; cycles)."}
    )
    device: str = field(
        default="cpu",
        metadata={
            "help": "Cycles device (gpu: the first of OptiX, CUDA, HIP, oneAPI, Metal that "
            "Blender finds).",
            "choices": DEVICES,
        },
    )
    workers: int = field(default=1, metadata={"help": "Blender processes."})
    # Per worker; 0 shares the machine's cores among the workers.
    threads: int = field(default=0, metadata={"help": "Threads per worker (0: cores / workers)."})
    # Objects per worker process before a fresh one takes over.
    recycle_after: int = field(default=100, metadata={"help": "Objects per worker process."})
    # Seconds an object may go without progress (loading or one view).
    timeout: float = field(
        default=600.0,
        metadata={"help": "Seconds an object may go without progress before its worker is killed."},
    )
    max_faces: int = MAX_FACES
    shard: tuple[int, int] | None = field(
        default=None,
        metadata={"help": "Render only shard K of N (K/N, K from 0), e.g. for job arrays."},
    )
    # A Ray cluster address, or "local"; None: the local pool.
    ray: str | None = field(
        default=None,
        metadata={
            "help": "Render on --workers Ray actors (extra `distributed`): on the cluster at "
            "ADDRESS (e.g. auto, head:6379), or alone: on a local Ray instance.",
            "flag_value": "local",
            "metavar": "[ADDRESS]",
        },
    )
    split_from: Path | None = field(
        default=None,
        metadata={
            "help": "Directory with official split files to reuse (default: seeded 80/20 per "
            "class)."
        },
    )
    val_fraction: float = field(
        default=0.2,
        metadata={
            "help": "Share of each category's objects in the seeded val split (at least one "
            "of a category with two or more); 0: every object in train and an empty val "
            "split, e.g. for one object per category (evaluate and validate need a val "
            "split; pack such a tree with --split train).",
        },
    )
    progress: bool = field(default=True, metadata={"help": "No progress bar.", "option": "--quiet"})

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "out", Path(self.out))
        for name in ("objects", "objects_list", "split_from"):
            if getattr(self, name) is not None:
                set_(self, name, Path(getattr(self, name)))
        set_(self, "synsets", taxonomy.parse_synsets(self.synsets))
        if isinstance(self.shard, str):
            set_(self, "shard", parse_shard(self.shard))
        elif self.shard is not None:
            set_(self, "shard", parse_shard(f"{self.shard[0]}/{self.shard[1]}"))
        self._validate()

    def _validate(self) -> None:
        positive = {
            "views": self.views,
            "workers": self.workers,
            "recycle_after": self.recycle_after,
            "max_faces": self.max_faces,
        }
        for name, value in positive.items():
            if value < 1:
                raise IebenchError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
        for name in ("limit", "per_class"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise IebenchError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
        if self.seed < 0:
            raise IebenchError(f"--seed must be >= 0, got {self.seed}")
        if self.threads < 0:
            raise IebenchError(f"--threads must be >= 0, got {self.threads}")
        if not self.timeout > 0:
            raise IebenchError(f"--timeout must be > 0 seconds, got {self.timeout}")
        if self.ray is not None and not self.ray.strip():
            raise IebenchError("--ray: empty address (give none for a local Ray instance)")
        if self.device not in DEVICES:
            raise IebenchError(f"--device {self.device!r}: choose from {', '.join(DEVICES)}")
        if not 0 <= self.val_fraction < 1:
            raise IebenchError(
                f"--val-fraction {self.val_fraction}: must be in [0, 1) (0: no val split)"
            )
        if self.objects is not None and not self.objects.is_dir():
            raise IebenchError(f"{self.objects}: not a directory (expected a ShapeNetCore tree)")
        if self.objects_list is not None and not self.objects_list.is_file():
            raise IebenchError(f"{self.objects_list}: objects list not found")
        if self.split_from is not None and not self.split_from.is_dir():
            raise IebenchError(f"{self.split_from}: not a directory (expected split files)")
        if self.out.exists() and not self.out.is_dir():
            raise IebenchError(f"{self.out}: exists and is not a directory")
        # Each raises on an unknown name, a bad factor file or a bad override.
        _ = self.spec
        stage_named(self.scene)
        preset_settings(self.preset, self.resolution, self.samples, self.engine)

    @cached_property
    def spec(self) -> FactorSpec:
        return FactorSpec.load(self.factors)

    @cached_property
    def stage(self) -> Stage:
        return stage_named(self.scene)

    @cached_property
    def settings(self) -> RenderSettings:
        return preset_settings(self.preset, self.resolution, self.samples, self.engine)

    @property
    def threads_per_worker(self) -> int:
        if self.threads:
            return self.threads
        return cores_per_process(self.workers)

    def to_dict(self) -> dict:
        data = {}
        for each in fields(self):
            value = getattr(self, each.name)
            data[each.name] = str(value) if isinstance(value, Path) else value
        for name in ("synsets", "shard"):
            if data[name] is not None:
                data[name] = list(data[name])
        return data
