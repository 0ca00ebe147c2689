"""The reference ResNet with a CIFAR stem (3x3 stride-1 first conv, no max-pool), for 32 px.

At 32 px the reference stem (7x7 stride 2 + max-pool) leaves 1x1 maps in the last
stage; the CIFAR stem keeps 4x4, as in the E-SSL study (docs/protocol.md section 7).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from iebench.models.resnet import ResNet


class CifarStemResNet(ResNet):
    def __init__(self, width: int = 64, layers: Sequence[int] = (2, 2, 2, 2)) -> None:
        super().__init__(width=width, layers=layers)
        self.conv1 = nn.Conv2d(3, width, 3, stride=1, padding=1, bias=False)
        nn.init.kaiming_normal_(self.conv1.weight, mode="fan_out", nonlinearity="relu")
        del self.maxpool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)


def cifar_resnet18(width: int = 64, layers: Sequence[int] = (2, 2, 2, 2)) -> CifarStemResNet:
    return CifarStemResNet(width=width, layers=layers)
