"""VICReg: invariance (MSE) + variance hinge + covariance penalty on one projector's output."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from iebench.methods import losses
from iebench.methods.base import Method, MethodSpec, PairBatch


class VICReg(Method):
    weights = {"inv": 10.0, "std": 10.0, "cov": 1.0}

    def __init__(self, backbone, spec: MethodSpec) -> None:
        super().__init__(backbone, spec)
        self.projector = losses.projector([spec.embed_dim, *spec.projector])

    def forward(self, batch: PairBatch) -> tuple[Tensor, dict[str, Tensor]]:
        y1 = self.projector(self.backbone(batch.first))
        y2 = self.projector(self.backbone(batch.second))
        z1, z2 = losses.gather(y1), losses.gather(y2)
        rows = self.spec.covariance_rows
        return self.weighted(
            {
                "inv": F.mse_loss(y1.float(), y2.float()),
                "std": (losses.variance_hinge(z1) + losses.variance_hinge(z2)) / 2,
                "cov": losses.covariance_penalty(z1, rows) + losses.covariance_penalty(z2, rows),
            }
        )
