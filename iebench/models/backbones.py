"""Backbones by name, for training and for the submissions of trained runs.

Every backbone maps normalised images (B, 3, R, R) to features (B, ``out_dim``) and
takes the same sizes: ``width`` (the ResNet's first-stage channels) and ``layers``
(blocks per stage).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from torch import nn

from iebench.core.errors import IebenchError
from iebench.models.cifar_resnet import cifar_resnet18
from iebench.models.eqresnet import eqresnet18
from iebench.models.resnet import resnet18


@dataclass(frozen=True)
class BackboneInfo:
    name: str
    build: Callable[[int, Sequence[int]], nn.Module]
    out_dim: Callable[[int, Sequence[int]], int]
    description: str


def _resnet_out_dim(width: int, layers: Sequence[int]) -> int:
    return width * 2 ** (len(layers) - 1)


BACKBONES: dict[str, BackboneInfo] = {
    info.name: info
    for info in (
        BackboneInfo(
            "resnet18",
            lambda width, layers: resnet18(width=width, layers=layers),
            _resnet_out_dim,
            "the reference ResNet-18 of SIE (7x7 stride-2 stem and max-pool)",
        ),
        BackboneInfo(
            "resnet18-cifar",
            lambda width, layers: cifar_resnet18(width=width, layers=layers),
            _resnet_out_dim,
            "the reference ResNet-18 with a CIFAR stem (3x3 conv, no max-pool), for 32 px",
        ),
        BackboneInfo(
            "eqresnet18",
            lambda width, layers: eqresnet18(width=width, layers=layers),
            lambda width, layers: _resnet_out_dim(width, layers) // 2,
            "p4-equivariant ResNet-18, width/2 channels per rotation, rotation-invariant output",
        ),
        BackboneInfo(
            "eqresnet18-cifar",
            lambda width, layers: eqresnet18(width=width, layers=layers, cifar_stem=True),
            lambda width, layers: _resnet_out_dim(width, layers) // 2,
            "p4-equivariant ResNet-18 with a CIFAR stem, for 32 px",
        ),
        BackboneInfo(
            "eqresnet18-regular",
            lambda width, layers: eqresnet18(width=width, layers=layers, pool_rotations=False),
            lambda width, layers: _resnet_out_dim(width, layers) * 2,
            "p4-equivariant ResNet-18 without the max over rotations: 4 rotation slices that a "
            "90-degree rotation permutes (for rotation prediction)",
        ),
        BackboneInfo(
            "eqresnet18-regular-cifar",
            lambda width, layers: eqresnet18(
                width=width, layers=layers, cifar_stem=True, pool_rotations=False
            ),
            lambda width, layers: _resnet_out_dim(width, layers) * 2,
            "eqresnet18-regular with a CIFAR stem, for 32 px",
        ),
    )
}


def backbone_info(name: str) -> BackboneInfo:
    if name not in BACKBONES:
        raise IebenchError(f"unknown backbone {name!r}; choose from {', '.join(BACKBONES)}")
    return BACKBONES[name]


def build_backbone(
    name: str = "resnet18", width: int = 64, layers: Sequence[int] = (2, 2, 2, 2)
) -> nn.Module:
    """The backbone ``name`` at the given sizes (initialised from torch's global generator:
    wrap in ``torch.random.fork_rng`` with a seed for reproducible weights)."""
    return backbone_info(name).build(width, tuple(layers))
