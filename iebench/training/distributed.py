"""Processes and devices: one process, or DDP under `torchrun` (gloo on CPU, nccl on GPU).

Batch norm statistics are global in DDP: nn.SyncBatchNorm on GPU; on CPU, where
nn.SyncBatchNorm does not run, ``GlobalBatchNorm`` all-reduces the statistics with
gradients, so a 2-process CPU run computes what one process computes on the
whole batch.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn

from iebench.errors import IebenchError


@dataclass(frozen=True)
class Processes:
    rank: int
    world_size: int
    device: torch.device
    owns_group: bool  # whether this module created the process group (and must destroy it)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def resolve_device(device: str, local_rank: int = 0) -> torch.device:
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        device = f"cuda:{local_rank}"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise IebenchError(f"device {device}: CUDA is not available on this machine")
    return torch.device(device)


def torchrun_world_size() -> int:
    """How many processes torchrun started (1 outside torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def start(device: str) -> Processes:
    """This process's place: a process group is joined when torchrun set WORLD_SIZE > 1."""
    world_size = torchrun_world_size()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    resolved = resolve_device(device, local_rank)
    if world_size == 1 and not dist.is_initialized():
        return Processes(0, 1, resolved, owns_group=False)
    owns = not dist.is_initialized()
    if owns:
        if resolved.type == "cuda":
            torch.cuda.set_device(resolved)
        dist.init_process_group(backend="nccl" if resolved.type == "cuda" else "gloo")
    return Processes(dist.get_rank(), dist.get_world_size(), resolved, owns_group=owns)


def stop(processes: Processes) -> None:
    if processes.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def end_torchrun_worker() -> None:
    """End a command's process at once when torchrun started it (WORLD_SIZE > 1).

    With torch 2.13 a gloo worker aborts now and then in C++ teardown after Python has
    finished ("terminate called without an active exception"; 1 run in 25 here), and
    torchrun reports the whole run failed. Everything is written by then, so skipping the
    interpreter's teardown loses nothing."""
    if torchrun_world_size() > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def barrier(processes: Processes) -> None:
    if processes.distributed:
        dist.barrier()


def mean_over_processes(values: Tensor, processes: Processes) -> Tensor:
    """The mean of a tensor over processes (itself in one process)."""
    if processes.distributed:
        values = values.clone()
        dist.all_reduce(values)
        values /= processes.world_size
    return values


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
