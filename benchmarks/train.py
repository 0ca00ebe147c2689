"""Training steps per second of a method, for each speed option, against fp32 in the same run.

    python benchmarks/train.py                                  # CPU: a small model
    python benchmarks/train.py --width 64 --resolution 256 --batch-size 128   # GPU: ResNet-18

Each variant runs the real training step (iebench.methods.steps.Optimisation.step: forward,
loss, backward, Adam) on a fixed batch of random normalised images, so the
figures are compute only (data loading: benchmarks/loader.py). Variants:
fp32 (the baseline), channels-last, and on a GPU bf16 autocast, bf16 +
channels-last and bf16 + channels-last + torch.compile; ``--compile`` adds
torch.compile on the CPU too. Warm-up steps are excluded; best of ``--rounds``.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import torch

from iebench.methods import METHODS, PairBatch
from iebench.methods.steps import Optimisation
from iebench.training import TrainConfig, build_model


@dataclasses.dataclass(frozen=True)
class Variant:
    name: str
    precision: str = "fp32"
    channels_last: bool = False
    compile: bool = False


def variants(device: torch.device, compile_on_cpu: bool) -> list[Variant]:
    chosen = [Variant("fp32"), Variant("fp32 channels-last", channels_last=True)]
    if device.type == "cuda":
        chosen += [
            Variant("bf16", "bf16"),
            Variant("bf16 channels-last", "bf16", channels_last=True),
            Variant("bf16 channels-last compile", "bf16", channels_last=True, compile=True),
        ]
    elif compile_on_cpu:
        chosen.append(Variant("fp32 compile", compile=True))
    return chosen


def steps_per_second(config: TrainConfig, variant: Variant, args, device) -> float:
    method = build_model(config).to(device)
    memory = torch.channels_last if variant.channels_last else torch.contiguous_format
    method = method.to(memory_format=memory)
    model = torch.compile(method) if variant.compile else method
    optimizer = torch.optim.Adam(method.parameters(), lr=config.lr)
    scaler = torch.amp.GradScaler(device.type, enabled=variant.precision == "fp16")
    optimisation = Optimisation(optimizer, device.type, variant.precision, scaler)
    generator = torch.Generator().manual_seed(0)
    shape = (args.batch_size, 3, args.resolution, args.resolution)
    images = [torch.randn(shape, generator=generator) for _ in range(2)]
    first, second = (x.to(device).contiguous(memory_format=memory) for x in images)
    action = torch.nn.functional.normalize(torch.randn(args.batch_size, config.action_dim), dim=1)
    batch = PairBatch(first, second, action.to(device))

    def run(steps: int) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        for _ in range(steps):
            terms = optimisation.step(model, batch)
        terms["loss"].item()  # waits for the device
        return time.perf_counter() - started

    run(args.warmup)
    return max(args.steps / run(args.steps) for _ in range(args.rounds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--method", default="sie", choices=list(METHODS))
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--compile", action="store_true", help="also torch.compile on the CPU")
    args = parser.parse_args()
    device = torch.device(args.device)
    config = TrainConfig(
        method=args.method,
        data=".",
        out=".",
        batch_size=args.batch_size,
        resolution=args.resolution,
        width=args.width,
    ).resolved()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(
        f"{args.method}, ResNet width {args.width}, {args.resolution} px, batch {args.batch_size} "
        f"pairs, {name}, {torch.get_num_threads()} threads"
    )
    baseline = None
    for variant in variants(device, args.compile):
        rate = steps_per_second(config, variant, args, device)
        baseline = baseline or rate
        print(
            f"  {variant.name:<28} {rate:8.2f} steps/s {rate * args.batch_size:9.1f} pairs/s "
            f"  x{rate / baseline:.2f}"
        )


if __name__ == "__main__":
    main()
