"""Processes and devices: one process, or several under `torchrun` (gloo on CPU, nccl on GPU).

Training and feature extraction both start here; batch norm across processes is
training's (``iebench.training.batchnorm``).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor

from iebench.core.errors import IebenchError


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
