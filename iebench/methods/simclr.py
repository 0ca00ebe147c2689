"""SimCLR: InfoNCE (temperature 0.1) with negatives from the global batch of every process."""

from __future__ import annotations

from torch import Tensor

from iebench.methods import losses
from iebench.methods.base import Method, MethodSpec, PairBatch


class SimCLR(Method):
    weights = {"nce": 1.0}

    def __init__(self, backbone, spec: MethodSpec) -> None:
        super().__init__(backbone, spec)
        self.projector = losses.projector([spec.embed_dim, *spec.projector])

    def contrastive(self, r1: Tensor, r2: Tensor) -> Tensor:
        """InfoNCE between the projections of two batches of representations."""
        z1 = losses.gather(self.projector(r1))
        z2 = losses.gather(self.projector(r2))
        return losses.info_nce(z1, z2, self.spec.temperature)

    def forward(self, batch: PairBatch) -> tuple[Tensor, dict[str, Tensor]]:
        r1, r2 = self.backbone(batch.first), self.backbone(batch.second)
        return self.weighted({"nce": self.contrastive(r1, r2)})
