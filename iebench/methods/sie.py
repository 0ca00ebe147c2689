"""SIE: split invariant / equivariant representation with a hypernetwork predictor.

The backbone output is split into an invariant part (first D - d dims) and an
equivariant part (last d dims), each with its own projector whose sizes are the
full projector's scaled by the part's share (2048 -> 1024 for 256 of 512 dims).
The predictor maps view i's equivariant embedding through W(q) towards view j's.
VICReg's variance and covariance terms act on the concatenated [inv; equi]
embedding so that the two parts do not encode the same information.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from iebench.core.errors import IebenchError
from iebench.methods import losses
from iebench.methods.base import HypernetworkPredictor, Method, MethodSpec, PairBatch


def part_sizes(projector: tuple[int, ...], share: float) -> list[int]:
    """A part's projector sizes: the full sizes scaled by the part's share of the backbone dims."""
    return [round(size * share) for size in projector]


class SIE(Method):
    weights = {"inv": 10.0, "equi": 4.5, "std": 10.0, "pred_std": 10.0, "cov": 1.0}

    def __init__(self, backbone, spec: MethodSpec) -> None:
        super().__init__(backbone, spec)
        d = spec.equivariant_dims
        has_invariant = "inv" in self.weights
        if not (0 < d < spec.embed_dim if has_invariant else d == spec.embed_dim):
            wanted = f"0 < d < {spec.embed_dim}" if has_invariant else f"d = {spec.embed_dim}"
            raise IebenchError(f"{type(self).__name__}: equivariant dims must be {wanted}, got {d}")
        self.invariant_dims = spec.embed_dim - d
        if self.invariant_dims:
            inv_sizes = part_sizes(spec.projector, self.invariant_dims / spec.embed_dim)
            self.projector_inv = losses.projector([self.invariant_dims, *inv_sizes])
        equi_sizes = part_sizes(spec.projector, d / spec.embed_dim)
        self.projector_equi = losses.projector([d, *equi_sizes])
        self.predictor = HypernetworkPredictor(equi_sizes[-1], spec.action_dim)

    def embed_equivariant(self, representation: Tensor) -> Tensor:
        """The equivariant embedding of backbone outputs (what the predictor acts on)."""
        return self.projector_equi(representation[:, self.invariant_dims :])

    def forward(self, batch: PairBatch) -> tuple[Tensor, dict[str, Tensor]]:
        r1, r2 = self.backbone(batch.first), self.backbone(batch.second)
        e1, e2 = self.embed_equivariant(r1), self.embed_equivariant(r2)
        prediction = self.predictor(e1, batch.action)
        terms: dict[str, Tensor] = {}
        if self.invariant_dims:
            i1 = self.projector_inv(r1[:, : self.invariant_dims])
            i2 = self.projector_inv(r2[:, : self.invariant_dims])
            terms["inv"] = F.mse_loss(i1.float(), i2.float())
            z1 = losses.gather(torch.cat([i1, e1], dim=1))
            z2 = losses.gather(torch.cat([i2, e2], dim=1))
        else:
            z1, z2 = losses.gather(e1), losses.gather(e2)
        terms["equi"] = F.mse_loss(prediction.float(), e2.float())
        terms["std"] = (losses.variance_hinge(z1) + losses.variance_hinge(z2)) / 2
        if self.spec.weights["pred_std"]:
            # Halved as in the reference code: predictions exist for one view of the two.
            terms["pred_std"] = losses.variance_hinge(losses.gather(prediction)) / 2
        rows = self.spec.covariance_rows
        terms["cov"] = losses.covariance_penalty(z1, rows) + losses.covariance_penalty(z2, rows)
        return self.weighted(terms)


class SIEEquivariantOnly(SIE):
    """SIE with the whole representation equivariant: no invariance term, equi weighted 10."""

    weights = {"equi": 10.0, "std": 10.0, "pred_std": 10.0, "cov": 1.0}
