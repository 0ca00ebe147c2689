"""Predict the relative 3D rotation of a pair of views from their backbone features.

The 3DIEBench form of equivariance by prediction: an MLP on [f(x_i); f(x_j)]
(2D -> 2D -> 2D -> 4) regresses the quaternion of R_i^-1 R_j. q and -q are the
same rotation, so the loss is the smaller of the squared errors to q and to -q
(sign-free; the dataset's quaternions are not sign-canonical). Optionally on top
of SimCLR's InfoNCE between the two views (term "nce", weight 0 = prediction alone).
With the nce term and a plain MSE this is SimCLR + AugSelf.
"""

from __future__ import annotations

import torch
from torch import Tensor

from iebench.methods import losses
from iebench.methods.base import Method, MethodSpec, PairBatch

QUATERNION = slice(0, 4)  # the action may carry colour deltas after the quaternion


def sign_free_quaternion_mse(predicted: Tensor, target: Tensor) -> Tensor:
    """Mean over the batch of min(|p - q|^2, |p + q|^2) / 4 (an MSE per element)."""
    predicted, target = predicted.float(), target.float()
    to_q = (predicted - target).pow(2).mean(dim=1)
    to_minus_q = (predicted + target).pow(2).mean(dim=1)
    return torch.minimum(to_q, to_minus_q).mean()


class PredictRotation3d(Method):
    weights = {"nce": 0.0, "rotation": 1.0}

    def __init__(self, backbone, spec: MethodSpec) -> None:
        super().__init__(backbone, spec)
        pair = 2 * spec.embed_dim
        self.rotation_head = losses.mlp([pair, pair, pair, 4])
        # Only built when used: DDP rejects parameters that never get a gradient.
        self.projector = (
            losses.projector([spec.embed_dim, *spec.projector]) if spec.weights["nce"] else None
        )

    def forward(self, batch: PairBatch) -> tuple[Tensor, dict[str, Tensor]]:
        r1, r2 = self.backbone(batch.first), self.backbone(batch.second)
        predicted = self.rotation_head(torch.cat([r1, r2], dim=1))
        terms = {"rotation": sign_free_quaternion_mse(predicted, batch.action[:, QUATERNION])}
        if self.projector is not None:
            z1, z2 = losses.gather(self.projector(r1)), losses.gather(self.projector(r2))
            terms["nce"] = losses.info_nce(z1, z2, self.spec.temperature)
        return self.weighted(terms)
