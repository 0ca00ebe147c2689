"""Probes trained on cached features: whole epochs sampled as tensor ops, explicit generators.

Every random number of a probe (initial weights, the views it sees, the batch
order) comes from generators derived from (seed, task, ...), never from global
state, so a run is repeatable and each probe is independent of the others.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from iebench.evaluation.config import ProbeSettings

HIDDEN = (1024, 1024)  # the regression MLP of the reference scripts: 2D -> 1024 -> 1024 -> out


def make_probe(
    in_dim: int, out_dim: int, hidden: tuple[int, ...], gen: torch.Generator
) -> nn.Module:
    """Linear layers with ReLU between them, initialised as torch does but from ``gen``."""
    sizes = [in_dim, *hidden, out_dim]
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes, sizes[1:], strict=False):
        linear = nn.Linear(fan_in, fan_out)
        bound = 1.0 / math.sqrt(fan_in)  # torch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        with torch.no_grad():
            linear.weight.uniform_(-bound, bound, generator=gen)
            linear.bias.uniform_(-bound, bound, generator=gen)
        layers += [linear, nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def train_probe(
    probe: nn.Module,
    sample_epoch: Callable[[], tuple[torch.Tensor, torch.Tensor]],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    settings: ProbeSettings,
    gen: torch.Generator,
    on_epoch: Callable[[], None] = lambda: None,
) -> nn.Module:
    """Train ``probe`` for ``settings.epochs`` epochs; each epoch is ``sample_epoch()``'s
    (inputs, targets) on the probe's device, shuffled by ``gen`` into minibatches."""
    optimizer = torch.optim.Adam(
        probe.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
    )
    probe.train()
    for _ in range(settings.epochs):
        inputs, targets = sample_epoch()
        order = torch.randperm(len(inputs), generator=gen).to(inputs.device)
        for start in range(0, len(order), settings.batch_size):
            batch = order[start : start + settings.batch_size]
            loss = loss_fn(probe(inputs[batch]), targets[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        on_epoch()
    return probe.eval()


@torch.inference_mode()
def predict(probe: nn.Module, inputs: torch.Tensor, chunk: int = 65536) -> torch.Tensor:
    return torch.cat([probe(inputs[s : s + chunk]) for s in range(0, len(inputs), chunk)])
