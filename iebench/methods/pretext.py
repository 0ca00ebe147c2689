"""E-SSL by prediction: image transformations with k discrete classes (docs/protocol.md section 7).

Each transformation acts on a batch of unnormalised images ``(B, C, H, W)`` in [0, 1], one
class per image; class 0 is always the identity. Labels come from an explicit generator.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from iebench.core.errors import IebenchError
from iebench.data.torch_seeding import torch_stream_generator

SPATIAL_DIMS = (-2, -1)
# ITU-R 601 luma, as PIL and torchvision convert to grayscale.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
JIGSAW_PERMUTATIONS: tuple[tuple[int, ...], ...] = tuple(itertools.permutations(range(4)))
BLUR_KERNEL_SIZES = (0, 5, 9, 15)


def _hflip(images: Tensor, label: int) -> Tensor:
    return images.flip(-1) if label else images


def _vflip(images: Tensor, label: int) -> Tensor:
    return images.flip(-2) if label else images


def _rot4(images: Tensor, label: int) -> Tensor:
    return torch.rot90(images, label, SPATIAL_DIMS)


def _invert(images: Tensor, label: int) -> Tensor:
    return 1.0 - images if label else images


def _grayscale(images: Tensor, label: int) -> Tensor:
    if not label:
        return images
    weights = images.new_tensor(LUMA_WEIGHTS).view(1, 3, 1, 1)
    return (images * weights).sum(dim=1, keepdim=True).expand_as(images).contiguous()


def _jigsaw(images: Tensor, label: int) -> Tensor:
    """Tiles 0..3 = top-left, top-right, bottom-left, bottom-right; tile p <- tile perm[p]."""
    half_h, half_w = images.shape[-2] // 2, images.shape[-1] // 2
    tiles = [
        images[..., row * half_h : (row + 1) * half_h, col * half_w : (col + 1) * half_w]
        for row in (0, 1)
        for col in (0, 1)
    ]
    order = [tiles[source] for source in JIGSAW_PERMUTATIONS[label]]
    top = torch.cat(order[:2], dim=-1)
    bottom = torch.cat(order[2:], dim=-1)
    return torch.cat([top, bottom], dim=-2)


def gaussian_kernel(size: int) -> Tensor:
    """1-D Gaussian with torchvision's (and OpenCV's) default sigma for this kernel size."""
    sigma = 0.3 * ((size - 1) * 0.5 - 1) + 0.8
    offsets = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    return (kernel / kernel.sum()).float()


def _blur4(images: Tensor, label: int) -> Tensor:
    size = BLUR_KERNEL_SIZES[label]
    if size == 0:
        return images
    channels = images.shape[1]
    kernel = gaussian_kernel(size).to(images)
    pad = size // 2
    # Separable blur with reflect padding, as torchvision's gaussian_blur.
    out = F.pad(images, (pad, pad, pad, pad), mode="reflect")
    out = F.conv2d(out, kernel.view(1, 1, 1, size).expand(channels, 1, 1, size), groups=channels)
    return F.conv2d(out, kernel.view(1, 1, size, 1).expand(channels, 1, size, 1), groups=channels)


@dataclass(frozen=True)
class SslTransform:
    name: str
    num_classes: int
    apply_class: Callable[[Tensor, int], Tensor]
    description: str
    square: bool = False
    even_sides: bool = False
    min_side: int = 1

    def __call__(self, images: Tensor, labels: Tensor) -> Tensor:
        """Apply class ``labels[b]`` to ``images[b]``, grouping the batch by class."""
        self.check_images(images)
        if labels.shape != images.shape[:1]:
            raise IebenchError(
                f"{self.name}: {labels.shape[0]} labels for {images.shape[0]} images"
            )
        out = torch.empty_like(images)
        for label in labels.unique().tolist():
            if not 0 <= label < self.num_classes:
                raise IebenchError(f"{self.name}: label {label} outside 0..{self.num_classes - 1}")
            chosen = labels == label
            out[chosen] = self.apply_class(images[chosen], label)
        return out

    def apply_normalised(
        self, images: Tensor, labels: Tensor, mean: Sequence[float], std: Sequence[float]
    ) -> Tensor:
        """``self(images, labels)`` for images normalised by (mean, std): undone, applied, redone.

        Grayscale and inversion are defined on pixels, not on normalised values.
        """
        mean_t = images.new_tensor(mean).view(1, -1, 1, 1)
        std_t = images.new_tensor(std).view(1, -1, 1, 1)
        return (self(images * std_t + mean_t, labels) - mean_t) / std_t

    def sample_labels(self, count: int, generator: torch.Generator) -> Tensor:
        return torch.randint(self.num_classes, (count,), generator=generator)

    def sample(self, images: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """Transform each image by a class drawn uniformly; returns (images, labels)."""
        labels = self.sample_labels(images.shape[0], generator).to(images.device)
        return self(images, labels), labels

    def check_images(self, images: Tensor) -> None:
        if images.ndim != 4 or images.shape[1] != 3:
            raise IebenchError(
                f"{self.name}: expected (B, 3, H, W) images, got {tuple(images.shape)}"
            )
        height, width = images.shape[-2:]
        if self.square and height != width:
            raise IebenchError(f"{self.name}: images must be square, got {height}x{width}")
        if self.even_sides and (height % 2 or width % 2):
            raise IebenchError(f"{self.name}: image sides must be even, got {height}x{width}")
        if min(height, width) < self.min_side:
            raise IebenchError(
                f"{self.name}: images need sides >= {self.min_side}, got {height}x{width}"
            )


TRANSFORMS: dict[str, SslTransform] = {
    transform.name: transform
    for transform in (
        SslTransform("hflip", 2, _hflip, "horizontal flip"),
        SslTransform("grayscale", 2, _grayscale, "grayscale"),
        SslTransform("rot4", 4, _rot4, "four-fold rotation", square=True),
        SslTransform("vflip", 2, _vflip, "vertical flip"),
        SslTransform("jigsaw", len(JIGSAW_PERMUTATIONS), _jigsaw, "2x2 jigsaw", even_sides=True),
        SslTransform(
            "blur4",
            len(BLUR_KERNEL_SIZES),
            _blur4,
            "four-level blur",
            # reflect padding needs the image wider than half the largest kernel
            min_side=max(BLUR_KERNEL_SIZES) // 2 + 1,
        ),
        SslTransform("invert", 2, _invert, "colour inversion"),
    )
}


def get_transform(name: str) -> SslTransform:
    if name not in TRANSFORMS:
        raise IebenchError(f"unknown transformation {name!r}; choose from {', '.join(TRANSFORMS)}")
    return TRANSFORMS[name]


class LabelStream(nn.Module):
    """One label generator per training step, from (seed, process rank, step).

    The step is a buffer, so it is saved with the method's weights and a resumed run
    draws the same labels as an uninterrupted one; each DDP process draws its own.
    """

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.seed = int(seed)
        self.register_buffer("step", torch.zeros((), dtype=torch.long))

    def next_generator(self) -> torch.Generator:
        rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
        generator = torch_stream_generator(self.seed, rank, int(self.step))
        self.step += 1
        return generator
