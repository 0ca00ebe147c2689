"""A p4-equivariant ResNet-18 (rotations by multiples of 90 degrees) in plain PyTorch.

Feature maps are ``(batch, channels, 4, height, width)``: one slice per rotation r of the
group. Rotating the input by 90 degrees (``torch.rot90(x, 1, (-2, -1))``) rotates every
feature map spatially and shifts the group axis cyclically by one; the final max over the
group axis makes the pooled vector invariant. Exact for square inputs whose side n gives odd
sizes after every stride-2 layer (n = 2^k + 1, e.g. 33, 65, 129): stride-2 sampling then keeps
both borders and commutes with rot90.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from iebench.core.errors import IebenchError

GROUP_ORDER = 4
DEFAULT_WIDTHS = (32, 64, 128, 256)
SPATIAL_DIMS = (-2, -1)


def _rotate_filters(weight: Tensor, times: int) -> Tensor:
    return torch.rot90(weight, times, SPATIAL_DIMS)


class LiftingConv(nn.Module):
    """Image -> p4 feature maps: one planar filter bank used in its 4 rotations."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1):
        super().__init__()
        self.stride = stride
        self.padding = kernel_size // 2
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        nn.init.kaiming_normal_(self.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        out_channels = self.weight.shape[0]
        # Rows ordered (out_channel, rotation) so the output reshapes to (B, C, 4, H, W).
        weight = torch.stack([_rotate_filters(self.weight, r) for r in range(GROUP_ORDER)], dim=1)
        weight = weight.flatten(0, 1)
        y = F.conv2d(x, weight, stride=self.stride, padding=self.padding)
        return y.unflatten(1, (out_channels, GROUP_ORDER))


class GroupConv(nn.Module):
    """p4 -> p4 convolution: out[r] = sum_s conv(in[s], rot^r(W[s - r]))."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1):
        super().__init__()
        self.stride = stride
        self.padding = kernel_size // 2
        self.weight = nn.Parameter(
            torch.empty(out_channels, in_channels, GROUP_ORDER, kernel_size, kernel_size)
        )
        nn.init.kaiming_normal_(self.weight, mode="fan_out", nonlinearity="relu")

    def expanded_weight(self) -> Tensor:
        """The equivalent planar weight, (out*4, in*4, k, k), for one conv2d call."""
        banks = [
            _rotate_filters(torch.roll(self.weight, shifts=r, dims=2), r)
            for r in range(GROUP_ORDER)
        ]
        weight = torch.stack(banks, dim=1)  # (out, r, in, s, k, k)
        return weight.flatten(2, 3).flatten(0, 1)

    def forward(self, x: Tensor) -> Tensor:
        out_channels = self.weight.shape[0]
        y = F.conv2d(
            x.flatten(1, 2), self.expanded_weight(), stride=self.stride, padding=self.padding
        )
        return y.unflatten(1, (out_channels, GROUP_ORDER))


def group_batch_norm(channels: int) -> nn.BatchNorm3d:
    """BatchNorm over (batch, rotation, space): one statistic and affine per channel."""
    return nn.BatchNorm3d(channels)


class GroupBasicBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.conv1 = GroupConv(in_channels, out_channels, 3, stride)
        self.bn1 = group_batch_norm(out_channels)
        self.conv2 = GroupConv(out_channels, out_channels, 3)
        self.bn2 = group_batch_norm(out_channels)
        nn.init.zeros_(self.bn2.weight)  # each block starts as the identity, as the reference
        self.downsample: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                GroupConv(in_channels, out_channels, 1, stride), group_batch_norm(out_channels)
            )

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.downsample(x))


class GroupMaxPool(nn.Module):
    """3x3 stride-2 max-pool of each feature map (the ImageNet stem's)."""

    def forward(self, x: Tensor) -> Tensor:
        y = F.max_pool2d(x.flatten(1, 2), kernel_size=3, stride=2, padding=1)
        return y.unflatten(1, (x.shape[1], GROUP_ORDER))


class EqResNet(nn.Module):
    """p4-equivariant ResNet; ``forward`` returns an invariant vector of ``widths[-1]`` dims.

    ``widths`` are channels per group element (4x that many planar channels) and
    ``layers`` the blocks per stage. ``cifar_stem``: a 3x3 stride-1 first conv and no
    max-pool, for 32 px inputs. ``pool_rotations=False`` keeps the group axis instead:
    ``forward`` returns the 4 * widths[-1] spatially pooled maps, channel-major, which a
    90-degree input rotation permutes cyclically (a head can then read the rotation,
    which no head can from the invariant vector).
    """

    def __init__(
        self,
        widths: Sequence[int] = DEFAULT_WIDTHS,
        layers: Sequence[int] = (2, 2, 2, 2),
        cifar_stem: bool = False,
        in_channels: int = 3,
        pool_rotations: bool = True,
    ):
        super().__init__()
        if len(widths) != len(layers) or min(widths) < 1 or min(layers) < 1:
            raise IebenchError(
                f"eqresnet: one width and one block count >= 1 per stage, got {widths}, {layers}"
            )
        self.widths = tuple(int(w) for w in widths)
        self.layers = tuple(int(n) for n in layers)
        self.pool_rotations = pool_rotations
        self.out_dim = self.widths[-1] * (1 if pool_rotations else GROUP_ORDER)
        first = self.widths[0]
        if cifar_stem:
            self.stem = nn.Sequential(
                LiftingConv(in_channels, first, 3), group_batch_norm(first), nn.ReLU()
            )
        else:
            self.stem = nn.Sequential(
                LiftingConv(in_channels, first, 7, stride=2),
                group_batch_norm(first),
                nn.ReLU(),
                GroupMaxPool(),
            )
        stages = []
        previous = first
        for index, (width, blocks) in enumerate(zip(self.widths, self.layers, strict=True)):
            stride = 1 if index == 0 else 2
            stage = [GroupBasicBlock(previous, width, stride)]
            stage += [GroupBasicBlock(width, width, 1) for _ in range(blocks - 1)]
            stages.append(nn.Sequential(*stage))
            previous = width
        self.stages = nn.Sequential(*stages)

    def group_features(self, x: Tensor) -> Tensor:
        """The last stage's p4 feature maps, (B, C, 4, H, W)."""
        return self.stages(self.stem(x))

    def forward(self, x: Tensor) -> Tensor:
        features = self.group_features(x)
        if not self.pool_rotations:
            return features.mean(dim=SPATIAL_DIMS).flatten(1)
        return features.amax(dim=2).mean(dim=SPATIAL_DIMS)


def eqresnet18(
    width: int = 64,
    layers: Sequence[int] = (2, 2, 2, 2),
    cifar_stem: bool = False,
    pool_rotations: bool = True,
) -> EqResNet:
    """The paper's EqResNet-18 at ``width`` 64 (32/64/128/256 per rotation): half the
    ResNet's channels per rotation, about the same number of weights as that ResNet."""
    if width < 2 or width % 2:
        raise IebenchError(f"eqresnet18: width must be even and >= 2, got {width}")
    half = width // 2
    widths = tuple(half * 2**stage for stage in range(len(layers)))
    return EqResNet(widths, layers, cifar_stem=cifar_stem, pool_rotations=pool_rotations)
