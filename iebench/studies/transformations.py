"""Which transformations are worth predicting? The E-SSL study of docs/protocol.md section 7.

For each transformation, pretrain an encoder only by predicting which of its k classes
was applied (equal budgets: same steps, batch, initial weights and image order), then
train a linear probe on its frozen features; a random-init encoder is the floor. Data:
a 3DIEBench tree (train views -> val views, object classes) or CIFAR-10/100 in the
python format. Writes ``study.csv``, ``study.png`` (the paper's Figure 1) and
``config.json``; each finished encoder's row is kept in ``rows/`` so a rerun resumes.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from iebench.core.errors import IebenchError
from iebench.core.io import atomic_path, write_json_atomic
from iebench.data.dataset import ViewsDataset
from iebench.data.preprocess import MEAN, STD, BatchNormalize, to_uint8_tensor
from iebench.data.torch_seeding import torch_stream_generator
from iebench.evaluation.config import ProbeSettings
from iebench.evaluation.metrics import topk_accuracy
from iebench.evaluation.probes import make_probe, predict, train_probe
from iebench.methods.base import MethodSpec
from iebench.methods.predict_transform import PredictTransform
from iebench.methods.pretext import TRANSFORMS
from iebench.methods.steps import Optimisation
from iebench.models.backbones import BACKBONES, build_backbone
from iebench.protocol.taxonomy import NUM_CLASSES
from iebench.studies.cifar import load_cifar

RANDOM_INIT = "random-init"
OPTIMIZERS = ("sgd", "adam")
# The paper's SGD: lr 0.6 at batch 512 (scaled linearly with the batch), cosine to 1e-3.
PAPER_LR, PAPER_BATCH, PAPER_FINAL_LR = 0.6, 512, 1e-3
ADAM_LR = 1e-3
# Separate random streams of one seed.
_DATA_STREAM, _LABEL_STREAM, _INIT_STREAM, _SUBSET_STREAM, _PROBE_STREAM, _EVAL_STREAM = range(6)


@dataclass(frozen=True)
class StudyConfig:
    """One study. Exactly one of ``data`` (3DIEBench tree) and ``cifar`` (archive/folder).

    ``backbone`` is a name of ``iebench.models.backbones`` (None: the CIFAR-stem
    ResNet-18 at 64 px and below, else the reference one); ``width`` its first-stage
    width. ``lr`` None: the paper's rule for SGD (0.6 x batch / 512), 1e-3 for Adam.
    """

    # Each field with a help is an `iebench study transformations` option (iebench.cli.options).
    out: Path = field(metadata={"help": "Output folder."})
    data: Path | None = field(default=None, metadata={"help": "A 3DIEBench tree (train -> val)."})
    cifar: Path | None = field(
        default=None,
        metadata={
            "help": "A CIFAR-10/100 python-format .tar.gz or extracted folder (never downloaded)."
        },
    )
    transformations: tuple[str, ...] = field(
        default=tuple(TRANSFORMS),
        metadata={"help": "Comma-separated transformations to predict.", "comma": True},
    )
    # Trees only; CIFAR is 32 px.
    resolution: int = field(default=64, metadata={"help": "Tree image size."})
    backbone: str | None = field(
        default=None,
        metadata={
            "help": "Backbone [default: resnet18-cifar at 64 px and below, else resnet18].",
            "choices": tuple(BACKBONES),
        },
    )
    width: int = field(default=64, metadata={"help": "First-stage width."})
    head_hidden: int = 2048
    steps: int = field(default=1000, metadata={"help": "Steps per encoder."})
    batch_size: int = field(default=128, metadata={"help": "Pretraining batch."})
    optimizer: str = field(
        default="sgd", metadata={"help": "Pretraining optimizer.", "choices": OPTIMIZERS}
    )
    lr: float | None = field(
        default=None,
        metadata={"help": "Pretraining learning rate [default: sgd 0.6 x batch/512, adam 1e-3]."},
    )
    weight_decay: float = 1e-6
    probe_epochs: int = field(default=100, metadata={"help": "Linear-probe epochs."})
    probe_lr: float = 1e-3
    probe_batch_size: int = 256
    max_train_images: int | None = field(
        default=None, metadata={"help": "Random subset of train images."}
    )
    max_test_images: int | None = field(
        default=None, metadata={"help": "Random subset of test images."}
    )
    seed: int = field(default=0, metadata={"help": "Seed of weights, data and probes."})
    device: str = field(
        default_factory=lambda: "cuda" if torch.cuda.is_available() else "cpu",
        # The help says the default, which depends on the machine.
        metadata={
            "help": "torch device [default: cuda if available, else cpu]",
            "show_default": False,
        },
    )
    workers: int = field(default=0, metadata={"help": "Image loading workers."})
    progress: bool = field(
        default=True, metadata={"help": "No progress bars.", "option": "--quiet"}
    )

    def __post_init__(self) -> None:
        for name in ("out", "data", "cifar"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, Path(value))
        object.__setattr__(self, "transformations", tuple(self.transformations))
        if self.cifar is not None:
            object.__setattr__(self, "resolution", 32)
        if self.backbone is None:
            small = self.resolution <= 64
            object.__setattr__(self, "backbone", "resnet18-cifar" if small else "resnet18")
        if self.lr is None:
            lr = PAPER_LR * self.batch_size / PAPER_BATCH if self.optimizer == "sgd" else ADAM_LR
            object.__setattr__(self, "lr", lr)
        problems = self.problems()
        if problems:
            raise IebenchError(f"study config: {'; '.join(problems)}")

    def problems(self) -> list[str]:
        problems = []
        if (self.data is None) == (self.cifar is None):
            problems.append("give exactly one of --data (3DIEBench tree) and --cifar")
        unknown = [t for t in self.transformations if t not in TRANSFORMS]
        if unknown or not self.transformations:
            problems.append(
                f"unknown transformations {unknown}; choose from {', '.join(TRANSFORMS)}"
            )
        if len(set(self.transformations)) != len(self.transformations):
            problems.append("a transformation is listed twice")
        if self.backbone not in BACKBONES:
            problems.append(
                f"unknown backbone {self.backbone!r}; choose from {', '.join(BACKBONES)}"
            )
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"unknown optimizer {self.optimizer!r}; choose sgd or adam")
        if self.resolution < 16 or self.resolution % 2:
            problems.append(f"resolution must be an even number >= 16, got {self.resolution}")
        for name in ("width", "head_hidden", "steps", "batch_size", "probe_epochs"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.backbone.startswith("eqresnet") and self.width % 2:
            problems.append(f"{self.backbone} needs an even width, got {self.width}")
        if self.batch_size < 2:
            problems.append("batch_size must be >= 2 (batch norm)")
        for name in ("max_train_images", "max_test_images"):
            if getattr(self, name) is not None and getattr(self, name) < 2:
                problems.append(f"{name} must be >= 2, got {getattr(self, name)}")
        if self.seed < 0:
            problems.append(f"seed must be >= 0, got {self.seed}")
        return problems

    def to_dict(self) -> dict:
        data = asdict(self)
        for name in ("out", "data", "cifar"):
            data[name] = None if data[name] is None else str(data[name])
        data["transformations"] = list(self.transformations)
        return data

    def identity(self) -> dict:
        """What the numbers depend on: everything but where they go and how fast they come."""
        data = self.to_dict()
        for name in ("out", "device", "workers"):
            data.pop(name)
        return data


@dataclass(frozen=True, eq=False)
class StudyData:
    """Images as uint8 (N, 3, H, W), int64 labels, and the normalisation to apply."""

    name: str
    train_images: Tensor
    train_labels: Tensor
    test_images: Tensor
    test_labels: Tensor
    num_classes: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @cached_property
    def _normalize(self) -> BatchNormalize:
        return BatchNormalize(self.mean, self.std)

    def normalise(self, images: Tensor) -> Tensor:
        return self._normalize.to(images.device)(images)


@dataclass(frozen=True)
class StudyRow:
    transformation: str
    classes: int | None
    pretext_accuracy: float | None  # % on test images, None for the random encoder
    probe_top1: float  # % linear-probe accuracy on the test split
    train_seconds: float


def _subset(count: int, limit: int | None, seed: int, stream: int) -> Tensor | None:
    if limit is None or limit >= count:
        return None
    return torch.randperm(count, generator=torch_stream_generator(seed, _SUBSET_STREAM, stream))[
        :limit
    ].sort()[0]


def _load_views(root: Path, split: str, config: StudyConfig, limit: int | None, stream: int):
    views = ViewsDataset(root, split, resolution=config.resolution, transform=to_uint8_tensor)
    chosen = _subset(len(views), limit, config.seed, stream)
    source = views if chosen is None else Subset(views, chosen.tolist())
    loader = DataLoader(source, batch_size=256, num_workers=config.workers)
    images, labels = [], []
    for batch in loader:
        if batch.image.shape[-2:] != (config.resolution, config.resolution):
            raise IebenchError(
                f"{root}: study needs square views, got {tuple(batch.image.shape[-2:])}"
            )
        images.append(batch.image)
        labels.append(batch.label)
    if not images:
        raise IebenchError(f"{root}: the {split} split has no views")
    return torch.cat(images), torch.cat(labels)


def load_study_data(config: StudyConfig) -> StudyData:
    if config.data is not None:
        train_images, train_labels = _load_views(
            config.data, "train", config, config.max_train_images, 0
        )
        test_images, test_labels = _load_views(
            config.data, "val", config, config.max_test_images, 1
        )
        return StudyData(
            "3diebench",
            train_images,
            train_labels,
            test_images,
            test_labels,
            NUM_CLASSES,
            MEAN,
            STD,
        )
    cifar = load_cifar(config.cifar)

    def pick(images: np.ndarray, labels: np.ndarray, limit: int | None, stream: int):
        chosen = _subset(len(images), limit, config.seed, stream)
        images_t = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
        labels_t = torch.from_numpy(labels)
        return (images_t, labels_t) if chosen is None else (images_t[chosen], labels_t[chosen])

    train_images, train_labels = pick(
        cifar.train_images, cifar.train_labels, config.max_train_images, 0
    )
    test_images, test_labels = pick(cifar.test_images, cifar.test_labels, config.max_test_images, 1)
    if len(train_images) < 2 or len(test_images) < 1:
        raise IebenchError(f"{config.cifar}: too few images (train {len(train_images)})")
    # Normalise with the training images' own per-channel statistics.
    pixels = train_images.float().div(255)
    mean = tuple(pixels.mean(dim=(0, 2, 3)).tolist())
    std = tuple(pixels.std(dim=(0, 2, 3)).clamp_min(1e-3).tolist())
    return StudyData(
        cifar.name,
        train_images,
        train_labels,
        test_images,
        test_labels,
        cifar.num_classes,
        mean,
        std,
    )


def build_encoder(config: StudyConfig) -> nn.Module:
    """The study's backbone, with initial weights fixed by the seed (the same for every row)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(torch_stream_generator(config.seed, _INIT_STREAM).initial_seed()))
        return build_backbone(config.backbone, config.width)


def _features(encoder: nn.Module, data: StudyData, images: Tensor, device: str) -> Tensor:
    encoder.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(images), 256):
            batch = data.normalise(images[start : start + 256].to(device))
            out.append(encoder(batch).float().cpu())
    return torch.cat(out)


def linear_probe_top1(
    train_x: Tensor,
    train_y: Tensor,
    test_x: Tensor,
    test_y: Tensor,
    classes: int,
    config: StudyConfig,
) -> float:
    """Top-1 (%) of a linear classifier on frozen features (the harness's probe training)."""
    generator = torch_stream_generator(config.seed, _PROBE_STREAM)
    probe = make_probe(train_x.shape[1], classes, (), generator)
    settings = ProbeSettings(
        lr=config.probe_lr, batch_size=config.probe_batch_size, epochs=config.probe_epochs
    )
    train_probe(probe, lambda: (train_x, train_y), F.cross_entropy, settings, generator)
    return 100.0 * topk_accuracy(predict(probe, test_x), test_y, k=1)


def _method(config: StudyConfig, data: StudyData, transformation: str) -> PredictTransform:
    encoder = build_encoder(config)
    spec = MethodSpec(
        embed_dim=encoder.out_dim,
        projector=(config.head_hidden,),
        action_dim=4,
        weights={"nce": 0.0, "transform": 1.0},
        options={"transform": transformation},
        seed=config.seed,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(torch_stream_generator(config.seed, _INIT_STREAM, 1).initial_seed()))
        method = PredictTransform(encoder, spec, mean=data.mean, std=data.std)
    return method.to(config.device)


def _optimizer(config: StudyConfig, method: nn.Module):
    if config.optimizer == "adam":
        optimizer = torch.optim.Adam(
            method.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )
        return optimizer, None
    optimizer = torch.optim.SGD(
        method.parameters(),
        lr=config.lr,
        momentum=0.9,
        nesterov=True,
        weight_decay=config.weight_decay,
    )
    final = config.lr * PAPER_FINAL_LR / PAPER_LR
    return optimizer, torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, config.steps, final)


def pretrain(config: StudyConfig, data: StudyData, transformation: str) -> PredictTransform:
    """Train encoder + head to predict ``transformation``; the same batches for every one."""
    method = _method(config, data, transformation)
    optimizer, schedule = _optimizer(config, method)
    optimisation = Optimisation(optimizer, torch.device(config.device).type, schedule=schedule)
    batches = torch_stream_generator(config.seed, _DATA_STREAM)
    labels = torch_stream_generator(config.seed, _LABEL_STREAM)

    def images() -> Iterator[Tensor]:
        for _ in range(config.steps):
            chosen = torch.randint(len(data.train_images), (config.batch_size,), generator=batches)
            yield data.normalise(data.train_images[chosen].to(config.device))

    def loss_of(batch: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        loss, accuracy = method.prediction(batch, labels)
        return loss, {"accuracy": accuracy.detach()}

    method.train()
    progress = tqdm(
        total=config.steps,
        desc=transformation,
        leave=False,
        mininterval=2,
        disable=not config.progress,
    )
    with progress:
        sums, _ = optimisation.run(loss_of, images(), progress)
    if not math.isfinite(sums["loss"].item()):
        raise IebenchError(f"study {transformation}: loss diverged; lower --lr")
    return method


def pretext_accuracy(method: PredictTransform, data: StudyData, config: StudyConfig) -> float:
    """% of test images whose (fixed, random) transformation class the trained head predicts."""
    method.eval()
    generator = torch_stream_generator(config.seed, _EVAL_STREAM)
    correct = 0.0
    with torch.no_grad():
        for start in range(0, len(data.test_images), 256):
            images = data.normalise(data.test_images[start : start + 256].to(config.device))
            _, accuracy = method.prediction(images, generator)
            correct += accuracy.item() * len(images)
    return 100.0 * correct / len(data.test_images)


def study_row(config: StudyConfig, data: StudyData, transformation: str) -> StudyRow:
    started = time.perf_counter()
    if transformation == RANDOM_INIT:
        encoder, classes, pretext = build_encoder(config).to(config.device), None, None
    else:
        method = pretrain(config, data, transformation)
        encoder, classes = method.backbone, method.transform.num_classes
        pretext = pretext_accuracy(method, data, config)
    trained = time.perf_counter() - started
    train_x = _features(encoder, data, data.train_images, config.device)
    test_x = _features(encoder, data, data.test_images, config.device)
    top1 = linear_probe_top1(
        train_x, data.train_labels, test_x, data.test_labels, data.num_classes, config
    )
    return StudyRow(transformation, classes, pretext, top1, round(trained, 2))


def _check_out(config: StudyConfig) -> None:
    """An output folder holds one study: resuming with another config would mix numbers."""
    path = config.out / "config.json"
    if path.is_file():
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise IebenchError(f"{path}: not valid JSON ({error})") from None
        if stored.get("identity") != config.identity():
            raise IebenchError(
                f"{path}: this folder holds a study with another config; use a new --out"
            )
    write_json_atomic(path, {"config": config.to_dict(), "identity": config.identity()})


def run_study(config: StudyConfig, log: Callable[[str], None] = print) -> list[StudyRow]:
    """Every row (random-init first, then each transformation), resuming finished ones."""
    _check_out(config)
    data = load_study_data(config)
    log(
        f"study on {data.name}: {len(data.train_images)} train / {len(data.test_images)} test "
        f"images, {config.steps} steps x {config.batch_size} per transformation"
    )
    rows = []
    for name in (RANDOM_INIT, *config.transformations):
        path = config.out / "rows" / f"{name}.json"
        if path.is_file():
            row = StudyRow(**json.loads(path.read_text(encoding="utf-8")))
            log(f"{name}: done before, kept")
        else:
            row = study_row(config, data, name)
            write_json_atomic(path, asdict(row))
            log(f"{name}: probe top-1 {row.probe_top1:.2f}% ({row.train_seconds:.0f} s)")
        rows.append(row)
    table = rows_table(rows)
    with atomic_path(config.out / "study.csv") as temp:
        table.to_csv(temp, index=False)
    write_bar_chart(rows, config.out / "study.png", data.name)
    return rows


def rows_table(rows: list[StudyRow]) -> pd.DataFrame:
    table = pd.DataFrame([asdict(row) for row in rows], columns=[f.name for f in fields(StudyRow)])
    floor = next((r.probe_top1 for r in rows if r.transformation == RANDOM_INIT), None)
    if floor is not None:
        table["gain_over_random"] = table["probe_top1"] - floor
    table["classes"] = table["classes"].astype("Int64")
    return table


def format_table(rows: list[StudyRow]) -> str:
    table = rows_table(rows).drop(columns=["train_seconds"])
    table["classes"] = table["classes"].astype(object).where(table["classes"].notna(), "-")
    return table.to_string(index=False, float_format=lambda v: f"{v:.2f}", na_rep="-")


def write_bar_chart(rows: list[StudyRow], path: Path, dataset: str) -> None:
    """The paper's Figure 1: linear-probe top-1 per predicted transformation (PIL only)."""
    from PIL import Image, ImageDraw, ImageFont

    width, height, left, bottom, top = 120 + 110 * len(rows), 480, 70, 60, 50
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=14)
    plot_height = height - bottom - top
    ceiling = max(10.0, math.ceil(max(r.probe_top1 for r in rows) / 10 + 0.5) * 10)

    def y_of(value: float) -> float:
        return top + plot_height * (1 - value / ceiling)

    for tick in range(0, int(ceiling) + 1, 10):
        y = y_of(tick)
        draw.line([(left, y), (width - 20, y)], fill=(225, 225, 225))
        draw.text((left - 8, y), f"{tick}", fill="black", font=font, anchor="rm")
    draw.line([(left, top), (left, height - bottom)], fill="black")
    draw.line([(left, height - bottom), (width - 20, height - bottom)], fill="black")
    slot = (width - left - 20) / len(rows)
    for index, row in enumerate(rows):
        x0 = left + slot * index + slot * 0.15
        x1 = left + slot * (index + 1) - slot * 0.15
        colour = (150, 150, 150) if row.transformation == RANDOM_INIT else (52, 101, 164)
        draw.rectangle([(x0, y_of(row.probe_top1)), (x1, y_of(0))], fill=colour)
        centre = (x0 + x1) / 2
        label_y = y_of(row.probe_top1) - 4
        draw.text((centre, label_y), f"{row.probe_top1:.1f}", fill="black", font=font, anchor="md")
        draw.text(
            (centre, height - bottom + 8), row.transformation, fill="black", font=font, anchor="ma"
        )
    floor = next((r.probe_top1 for r in rows if r.transformation == RANDOM_INIT), None)
    if floor is not None:
        y = y_of(floor)
        for x in range(left, width - 20, 12):
            draw.line([(x, y), (min(x + 6, width - 20), y)], fill=(200, 40, 40), width=2)
    title = f"Linear-probe top-1 (%) after predicting each transformation ({dataset})"
    draw.text((width / 2, 18), title, fill="black", font=font, anchor="mm")
    with atomic_path(path) as temp:
        image.save(temp, format="PNG")
