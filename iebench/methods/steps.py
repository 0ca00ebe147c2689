"""The one training loop's steps, shared by `iebench train` (training/loop.py) and the
transformation study (studies/transformations.py): an optimisation step of a loss, and a
run of them over batches with a progress bar."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

import torch
from torch import Tensor
from tqdm import tqdm

AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}

Batch = TypeVar("Batch")
# A loss and its terms (detached) on a batch: what a Method's forward returns.
LossOf = Callable[[Batch], tuple[Tensor, dict[str, Tensor]]]


@dataclass(frozen=True)
class Optimisation:
    """How a loss is minimised: the optimizer, autocast (``precision`` bf16/fp16 on
    ``device_type``), the gradient scaler (fp16) and a learning-rate schedule stepped
    after every optimizer step."""

    optimizer: torch.optim.Optimizer
    device_type: str = "cpu"
    precision: str = "fp32"
    scaler: torch.amp.GradScaler | None = None
    schedule: torch.optim.lr_scheduler.LRScheduler | None = None

    def step(self, loss_of: LossOf, batch: Batch) -> dict[str, Tensor]:
        """One optimisation step on ``batch``; the detached loss and its terms."""
        dtype = AUTOCAST_DTYPES.get(self.precision)
        with torch.autocast(self.device_type, dtype=dtype, enabled=dtype is not None):
            loss, terms = loss_of(batch)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is None:
            loss.backward()
            self.optimizer.step()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        if self.schedule is not None:
            self.schedule.step()
        return {"loss": loss.detach(), **terms}

    def run(
        self, loss_of: LossOf, batches: Iterable[Batch], bar: tqdm
    ) -> tuple[dict[str, Tensor], int]:
        """A step per batch, advancing ``bar``; the sum over steps of the loss and of each
        term (kept on the device: no synchronisation per step), and the number of steps."""
        sums: dict[str, Tensor] = {}
        steps = 0
        for batch in batches:
            for name, value in self.step(loss_of, batch).items():
                sums[name] = sums.get(name, 0) + value.float()
            steps += 1
            bar.update(1)
        return sums, steps
