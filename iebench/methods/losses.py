"""Loss pieces shared by the methods: VICReg regularisers, InfoNCE, cross-process gathering.

Every term that needs batch statistics (variance, covariance, negatives) is
computed on the GLOBAL batch: embeddings are gathered from all processes with
gradients flowing back to each process's own rows, as in the reference code.
Each process then computes the same global value, and DDP's gradient averaging
turns that into exactly the single-process gradient of the full batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

VARIANCE_EPS = 1e-4


class _GatherWithGrad(torch.autograd.Function):
    """all_gather whose backward sums the gradients of every process and keeps this one's rows."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        ctx.rows = x.shape[0]
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        grad = grad.contiguous()
        dist.all_reduce(grad)
        start = dist.get_rank() * ctx.rows
        return grad[start : start + ctx.rows]


def gather(x: Tensor) -> Tensor:
    """Concatenate ``x`` (same shape on every process) over processes, keeping gradients.

    Without a process group (single process) this is ``x`` itself.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    return _GatherWithGrad.apply(x)


def variance_hinge(x: Tensor) -> Tensor:
    """VICReg variance term: mean over dims of relu(1 - sqrt(var + 1e-4)), var unbiased."""
    x = x.float()
    std = torch.sqrt(x.var(dim=0) + VARIANCE_EPS)
    return F.relu(1 - std).mean()


def off_diagonal(matrix: Tensor) -> Tensor:
    """The off-diagonal entries of a square matrix, flattened."""
    n = matrix.shape[0]
    return matrix.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()


def covariance_penalty(x: Tensor, rows: int | None = None) -> Tensor:
    """VICReg covariance term: sum of squared off-diagonal covariances / dim.

    The covariance is divided by ``rows - 1``: by default the rows of ``x``; the
    official code passes its configured batch size, which differs on a partial batch.
    """
    x = x.float()
    x = x - x.mean(dim=0)
    covariance = (x.T @ x) / ((x.shape[0] if rows is None else rows) - 1)
    return off_diagonal(covariance).pow(2).sum() / x.shape[1]


def info_nce(a: Tensor, b: Tensor, temperature: float) -> Tensor:
    """SimCLR's NT-Xent over the 2N rows of [a; b]: each row's positive is its pair.

    ``a`` and ``b`` should already be gathered over processes so that negatives
    come from the global batch.
    """
    features = F.normalize(torch.cat([a, b]).float(), dim=1)
    logits = features @ features.T / temperature
    logits.fill_diagonal_(float("-inf"))
    n = a.shape[0]
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(logits.device)
    return F.cross_entropy(logits, targets)


def projector(dims: Sequence[int]) -> nn.Sequential:
    """VICReg/SIE projector: (Linear + BatchNorm + ReLU) between dims, last Linear without bias."""
    if len(dims) < 2:
        raise ValueError(f"a projector needs at least input and output sizes, got {list(dims)}")
    layers: list[nn.Module] = []
    for d_in, d_out in zip(dims[:-2], dims[1:-1], strict=True):
        layers += [nn.Linear(d_in, d_out), nn.BatchNorm1d(d_out), nn.ReLU(inplace=True)]
    layers.append(nn.Linear(dims[-2], dims[-1], bias=False))
    return nn.Sequential(*layers)


def mlp(dims: Sequence[int]) -> nn.Sequential:
    """Plain MLP (Linear + ReLU between dims, biases, no normalisation), e.g. AugSelf's head."""
    layers: list[nn.Module] = []
    for d_in, d_out in zip(dims[:-1], dims[1:], strict=True):
        layers += [nn.Linear(d_in, d_out), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers[:-1])
