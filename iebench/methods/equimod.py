"""EquiMod: invariant InfoNCE + InfoNCE between predicted and actual equivariant embeddings.

Both projectors read the full representation. The predictor is SIE's
hypernetwork W(q) (as in the SIE paper's EquiMod baseline), applied to view i's
equivariant embedding; its output is contrasted with view j's.
"""

from __future__ import annotations

from torch import Tensor

from iebench.methods import losses
from iebench.methods.base import HypernetworkPredictor, Method, MethodSpec, PairBatch


class EquiMod(Method):
    weights = {"inv": 1.0, "equi": 1.0}

    def __init__(self, backbone, spec: MethodSpec) -> None:
        super().__init__(backbone, spec)
        self.projector_inv = losses.projector([spec.embed_dim, *spec.projector])
        self.projector_equi = losses.projector([spec.embed_dim, *spec.projector])
        self.predictor = HypernetworkPredictor(spec.projector[-1], spec.action_dim)

    def embed_equivariant(self, representation: Tensor) -> Tensor:
        return self.projector_equi(representation)

    def forward(self, batch: PairBatch) -> tuple[Tensor, dict[str, Tensor]]:
        r1, r2 = self.backbone(batch.first), self.backbone(batch.second)
        prediction = self.predictor(self.embed_equivariant(r1), batch.action)
        t = self.spec.temperature
        inv = losses.info_nce(
            losses.gather(self.projector_inv(r1)), losses.gather(self.projector_inv(r2)), t
        )
        equi = losses.info_nce(
            losses.gather(prediction), losses.gather(self.embed_equivariant(r2)), t
        )
        return self.weighted({"inv": inv, "equi": equi})
