"""The reference ResNet-18 of SIE (docs/protocol.md section 4), loading official checkpoints.

It differs from torchvision's ResNet-18 in ways that change the numbers, so an
official checkpoint only reproduces its published scores with this exact model:
the stem pads (2, 3) on each spatial axis before its unpadded 7x7 stride-2 conv
and (0, 1) with -1e4 before its unpadded max-pool; a stride-2 block pads (0, 1)
before its unpadded stride-2 second conv; the first block of every stage
(stage 1 included) has a 1x1 conv + BN shortcut; the last BN of every block is
zero-initialised; the output is the 8*width-d global average pool, no fc.

Spatial sizes must stay even at every stride-2 step (any resolution that is a
multiple of 32 works), as in the official model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from iebench.core.errors import IebenchError, unreadable_checkpoint

# Prefixes under which official checkpoints store the backbone, most specific first.
BACKBONE_PREFIXES = ("module.backbone.", "backbone.", "module.")
# How many mismatched keys an error message lists before "...".
SHOWN_KEYS = 5


class BasicBlock(nn.Module):
    """Two 3x3 convs; when strided, the stride is on the second conv, after explicit padding."""

    def __init__(self, in_channels: int, channels: int, stride: int, shortcut: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        padding = 1 if stride == 1 else 0
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=stride, padding=padding, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.downsample = (
            nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(channels),
            )
            if shortcut
            else None
        )
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        if self.stride != 1:
            out = F.pad(out, (0, 1, 0, 1))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNet(nn.Module):
    """Backbone mapping normalised images (B, 3, H, W) to features (B, ``out_dim``)."""

    def __init__(self, width: int = 64, layers: Sequence[int] = (2, 2, 2, 2)) -> None:
        super().__init__()
        if width < 1 or len(layers) != 4 or any(n < 1 for n in layers):
            raise IebenchError(
                f"resnet: width must be >= 1 and layers four counts >= 1, got {width}, {layers}"
            )
        self.width = width
        self.layers = tuple(int(n) for n in layers)
        self.conv1 = nn.Conv2d(3, width, 7, stride=2, padding=0, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=0)
        channels = width
        stages = []
        for index, blocks in enumerate(self.layers):
            out_channels = width * 2**index
            stride = 1 if index == 0 else 2
            stage = [BasicBlock(channels, out_channels, stride, shortcut=True)]
            stage += [
                BasicBlock(out_channels, out_channels, 1, shortcut=False) for _ in range(blocks - 1)
            ]
            stages.append(nn.Sequential(*stage))
            channels = out_channels
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.out_dim = channels
        self._initialise()

    def _initialise(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        # Each residual branch starts at zero, so every block starts as the identity.
        for module in self.modules():
            if isinstance(module, BasicBlock):
                nn.init.zeros_(module.bn2.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (2, 3, 2, 3))
        x = self.relu(self.bn1(self.conv1(x)))
        # -1e4, not 0: padded cells must never win the max (inputs to it are >= 0 anyway).
        x = self.maxpool(F.pad(x, (0, 1, 0, 1), value=-1e4))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)


def resnet18(width: int = 64, layers: Sequence[int] = (2, 2, 2, 2)) -> ResNet:
    """The reference ResNet-18 (defaults) or a narrower/shallower one with the same interface."""
    return ResNet(width=width, layers=layers)


def _backbone_state(checkpoint: Mapping) -> dict[str, torch.Tensor]:
    """The backbone's weights out of any official checkpoint layout, prefixes stripped.

    Layouts: the training checkpoint ``{"epoch", "model": {"module.backbone.*": ...},
    "optimizer"}``, a bare full-model state dict (``module.backbone.*`` or
    ``backbone.*``) or backbone-only weights (``final_weights.pth``).
    """
    state = checkpoint
    for wrapper in ("model", "state_dict"):
        if isinstance(state.get(wrapper), Mapping):
            state = state[wrapper]
            break
    for prefix in BACKBONE_PREFIXES:
        if any(key.startswith(prefix) for key in state):
            return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    return dict(state)


def _shown(keys: Sequence[str]) -> str:
    listed = ", ".join(keys[:SHOWN_KEYS])
    return listed + (f", ... ({len(keys)} in all)" if len(keys) > SHOWN_KEYS else "")


def load_backbone_weights(model: nn.Module, checkpoint: Path | Mapping) -> None:
    """Load official SIE weights (full-model or backbone-only) into ``model``, strictly.

    Raises IebenchError naming the file and the first missing, unexpected or
    wrongly shaped keys when the checkpoint does not fit the model.
    """
    if isinstance(checkpoint, Mapping):
        source, loaded = "checkpoint", checkpoint
    else:
        source = str(checkpoint)
        if not Path(checkpoint).is_file():
            raise IebenchError(f"{source}: checkpoint file not found")
        try:
            loaded = torch.load(checkpoint, map_location="cpu", weights_only=True)
        except Exception as error:
            raise unreadable_checkpoint(source, error) from None
        if not isinstance(loaded, Mapping):
            raise IebenchError(f"{source}: expected a state dict, got {type(loaded).__name__}")
    state = _backbone_state(loaded)
    expected = model.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    reshaped = [
        f"{key} {tuple(state[key].shape)} vs {tuple(value.shape)}"
        for key, value in expected.items()
        if key in state and hasattr(state[key], "shape") and state[key].shape != value.shape
    ]
    problems = []
    if missing:
        problems.append(f"missing keys {_shown(missing)}")
    if unexpected:
        problems.append(f"unexpected keys {_shown(unexpected)}")
    if reshaped:
        problems.append(f"shape mismatch (checkpoint vs model) {_shown(reshaped)}")
    if problems:
        raise IebenchError(f"{source}: checkpoint does not fit the backbone: {'; '.join(problems)}")
    model.load_state_dict(state, strict=True)
