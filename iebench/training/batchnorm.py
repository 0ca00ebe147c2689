"""Batch norm statistics global across processes: nn.SyncBatchNorm on GPU; on CPU, where
nn.SyncBatchNorm does not run, ``GlobalBatchNorm`` all-reduces the statistics with
gradients, so a 2-process CPU run computes what one process computes on the whole batch.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor, nn


class _AllReduceWithGrad(torch.autograd.Function):
    """Sum over processes; the gradient of each input is the sum of every process's gradient."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm over the union of every process's batch, for any device (1d or 2d inputs).

    Same parameters, buffers and state-dict keys as nn.BatchNorm1d/2d. Mean and
    variance are all-reduced with autograd-aware collectives, in two passes
    (mean, then centred squares) for accuracy.
    """

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() not in (2, 4):
            raise ValueError(f"expected 2D or 4D input, got {input.dim()}D")

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(input)
        dims = [0] + list(range(2, input.dim()))
        count = input.numel() // input.shape[1] * dist.get_world_size()
        mean = _AllReduceWithGrad.apply(input.sum(dim=dims)) / count
        shape = [1, -1] + [1] * (input.dim() - 2)
        centred = input - mean.view(shape)
        var = _AllReduceWithGrad.apply(centred.pow(2).sum(dim=dims)) / count
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = self.momentum or 1.0 / self.num_batches_tracked.item()
                self.running_mean.lerp_(mean.detach(), momentum)
                self.running_var.lerp_(var.detach() * count / (count - 1), momentum)
        output = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            output = output * self.weight.view(shape) + self.bias.view(shape)
        return output


def sync_batch_norm(module: nn.Module, device: torch.device) -> nn.Module:
    """Every BatchNorm of ``module`` made global across processes (in place where possible)."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return _convert_to_global(module)


def _convert_to_global(module: nn.Module) -> nn.Module:
    if isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
        converted = GlobalBatchNorm(
            module.num_features,
            module.eps,
            module.momentum,
            module.affine,
            module.track_running_stats,
        )
        # The same parameter and buffer objects, as nn.SyncBatchNorm's conversion keeps them.
        converted.weight, converted.bias = module.weight, module.bias
        converted.running_mean, converted.running_var = module.running_mean, module.running_var
        converted.num_batches_tracked = module.num_batches_tracked
        return converted
    for name, child in module.named_children():
        setattr(module, name, _convert_to_global(child))
    return module
