"""The method interface: a backbone plus heads whose forward returns the loss and its terms."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor, nn


@dataclass
class PairBatch:
    """Two views of the same objects and the action taking the first to the second.

    ``action`` is the relative rotation quaternion (x, y, z, w) of R_i^-1 R_j,
    optionally followed by conditioning deltas (e.g. floor and light hue).
    """

    first: Tensor
    second: Tensor
    action: Tensor

    def to(self, device: torch.device | str, non_blocking: bool = False) -> PairBatch:
        return PairBatch(
            self.first.to(device, non_blocking=non_blocking),
            self.second.to(device, non_blocking=non_blocking),
            self.action.to(device, non_blocking=non_blocking),
        )


@dataclass(frozen=True)
class MethodSpec:
    """Sizes and loss settings a method is built from (resolved from the training config)."""

    embed_dim: int  # backbone output size (512 for ResNet-18)
    projector: tuple[int, ...]  # hidden and output sizes of the full-size projector
    action_dim: int  # 4 (rotation) or 6 (rotation + colour)
    weights: Mapping[str, float]
    temperature: float = 0.1
    equivariant_dims: int = 0  # SIE: how many trailing backbone dims are equivariant
    options: Mapping[str, Any] = field(default_factory=dict)  # a method's own settings
    seed: int = 0  # for methods that draw random numbers in forward (e.g. transformations)
    # Covariances are divided by this - 1 (the official code: the configured global batch);
    # None: by the rows present - 1, the unbiased estimate, also on a partial last batch.
    covariance_rows: int | None = None


class Method(nn.Module):
    """A self-supervised method: ``forward(batch) -> (loss, {term: value})``.

    Subclasses set ``weights`` (the loss terms and their default weights) and
    build their heads; ``backbone`` is shared with evaluation. The returned terms
    are the unweighted values (detached), so logs read the same whatever the weights.
    """

    weights: ClassVar[Mapping[str, float]] = {}
    # Settings beyond sizes and weights (e.g. predict-transform's transformation): defaults.
    options: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, backbone: nn.Module, spec: MethodSpec) -> None:
        super().__init__()
        self.backbone = backbone
        self.spec = spec

    def weighted(self, terms: Mapping[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        """Total loss from unweighted terms, and the detached terms for logging."""
        loss = sum(self.spec.weights[name] * value for name, value in terms.items())
        return loss, {name: value.detach() for name, value in terms.items()}

    def forward(self, batch: PairBatch) -> tuple[Tensor, dict[str, Tensor]]:
        raise NotImplementedError


class HypernetworkPredictor(nn.Module):
    """SIE's predictor: a linear map W(a) = sum_k a_k A_k applied to the embedding, no bias.

    The hypernetwork is a bias-free Linear(action_dim -> dim*dim) whose output is
    read as W (out x in), as in the reference code. W(a) z is computed as
    (a outer z) @ A without building one dim x dim matrix per sample.
    """

    def __init__(self, dim: int, action_dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.hypernet = nn.Linear(action_dim, dim * dim, bias=False)

    def matrix(self, action: Tensor) -> Tensor:
        """W(a) for each action: (B, dim, dim) (used by tests and analysis)."""
        return self.hypernet(action).view(-1, self.dim, self.dim)

    def forward(self, embedding: Tensor, action: Tensor) -> Tensor:
        # hypernet.weight[o * dim + i, k] = A_k[o, i]; viewed as (dim, dim * K) with column i*K+k.
        outer = (embedding.unsqueeze(2) * action.unsqueeze(1)).flatten(1)
        return outer @ self.hypernet.weight.view(self.dim, -1).T
