"""SimCLR + AugSelf: InfoNCE plus an MLP regressing the action from the pair's backbone features.

The head is 2D -> 2D -> 2D -> action (1024 -> 1024 -> 1024 -> 4 for ResNet-18),
trained with MSE against the relative quaternion (and colour deltas when conditioned).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from iebench.methods import losses
from iebench.methods.base import MethodSpec, PairBatch
from iebench.methods.simclr import SimCLR


class SimCLRAugSelf(SimCLR):
    weights = {"nce": 1.0, "augself": 1.0}

    def __init__(self, backbone, spec: MethodSpec) -> None:
        super().__init__(backbone, spec)
        pair = 2 * spec.embed_dim
        self.action_head = losses.mlp([pair, pair, pair, spec.action_dim])

    def forward(self, batch: PairBatch) -> tuple[Tensor, dict[str, Tensor]]:
        r1, r2 = self.backbone(batch.first), self.backbone(batch.second)
        predicted = self.action_head(torch.cat([r1, r2], dim=1))
        return self.weighted(
            {
                "nce": self.contrastive(r1, r2),
                "augself": F.mse_loss(predicted.float(), batch.action.float()),
            }
        )
