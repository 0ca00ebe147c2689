"""SEN-like baseline: an equivariant branch only, with a linear predictor on [action; embedding].

The prediction for view j, Linear([a; z_i]), is contrasted (InfoNCE) with z_j
against the global batch, as in the SIE paper's SEN baseline.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from iebench.methods import losses
from iebench.methods.base import Method, MethodSpec, PairBatch


class ConcatPredictor(nn.Module):
    """Linear(action_dim + dim -> dim) on the action concatenated before the embedding."""

    def __init__(self, dim: int, action_dim: int) -> None:
        super().__init__()
        self.linear = nn.Linear(action_dim + dim, dim)

    def forward(self, embedding: Tensor, action: Tensor) -> Tensor:
        return self.linear(torch.cat([action.to(embedding.dtype), embedding], dim=1))


class SEN(Method):
    weights = {"equi": 1.0}

    def __init__(self, backbone, spec: MethodSpec) -> None:
        super().__init__(backbone, spec)
        self.projector_equi = losses.projector([spec.embed_dim, *spec.projector])
        self.predictor = ConcatPredictor(spec.projector[-1], spec.action_dim)

    def embed_equivariant(self, representation: Tensor) -> Tensor:
        return self.projector_equi(representation)

    def forward(self, batch: PairBatch) -> tuple[Tensor, dict[str, Tensor]]:
        r1, r2 = self.backbone(batch.first), self.backbone(batch.second)
        prediction = self.predictor(self.embed_equivariant(r1), batch.action)
        target = self.embed_equivariant(r2)
        nce = losses.info_nce(
            losses.gather(prediction), losses.gather(target), self.spec.temperature
        )
        return self.weighted({"equi": nce})
