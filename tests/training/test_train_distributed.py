"""DDP: global-batch statistics across processes, and a 2-process CPU run of `iebench train`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from iebench.methods import losses
from iebench.training import TrainConfig, train
from iebench.training.batchnorm import GlobalBatchNorm

pytestmark = pytest.mark.distributed

WORLD = 2
ROWS = 8  # global batch; each process holds 4 rows


def global_tensors() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {
        "a": torch.randn(ROWS, 5, generator=generator),
        "b": torch.randn(ROWS, 5, generator=generator),
        "images": torch.randn(ROWS, 3, 4, 4, generator=generator),
        "weights": torch.randn(ROWS, 3, 4, 4, generator=generator),
    }


def objectives(a, b, images, weights, bn):
    """Each loss as every process computes it (global terms on gathered rows)."""
    a_all, b_all = losses.gather(a), losses.gather(b)
    return {
        "nce": losses.info_nce(a_all, b_all, 0.1),
        "variance": losses.variance_hinge(a_all),
        "covariance": losses.covariance_penalty(b_all),
        # A local term: each process sums its own rows; the sum over processes is global.
        "batch_norm": (bn(images) * weights).sum(),
    }


def gradients(rank: int, world: int) -> dict[str, dict[str, torch.Tensor]]:
    """Per objective: its value and the gradients of this process's rows."""
    rows = slice(rank * ROWS // world, (rank + 1) * ROWS // world)
    tensors = {key: value[rows] for key, value in global_tensors().items()}
    results = {}
    for name in ("nce", "variance", "covariance", "batch_norm"):
        a = tensors["a"].clone().requires_grad_()
        b = tensors["b"].clone().requires_grad_()
        images = tensors["images"].clone().requires_grad_()
        bn = GlobalBatchNorm(3)
        bn.weight.data = torch.tensor([1.0, 2.0, 0.5])
        value = objectives(a, b, images, tensors["weights"], bn)[name]
        value.backward()
        results[name] = {
            "value": value.detach(),
            "a": a.grad if a.grad is not None else torch.zeros_like(a),
            "b": b.grad if b.grad is not None else torch.zeros_like(b),
            "images": images.grad if images.grad is not None else torch.zeros_like(images),
            "running_var": bn.running_var,
        }
    return results


def _worker(rank: int, init_file: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        torch.save(gradients(rank, WORLD), f"{out}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_gathered_terms_and_global_batch_norm_equal_one_process(tmp_path):
    # Spawned, not forked: forking a process whose OpenMP pool is already running (as it is
    # after earlier tests) can deadlock the child.
    mp.start_processes(
        _worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=WORLD, start_method="spawn"
    )
    single = gradients(0, 1)
    parts = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]
    for name, expected in single.items():
        for rank, part in enumerate(parts):
            value = part[name]["value"]
            if name == "batch_norm":  # local sums: their total is the one-process value
                value = sum(p[name]["value"] for p in parts)
            assert value.item() == pytest.approx(expected["value"].item(), rel=1e-5), name
            assert torch.allclose(part[name]["running_var"], expected["running_var"], atol=1e-6)
            rows = slice(rank * ROWS // WORLD, (rank + 1) * ROWS // WORLD)
            # Every process computes the same global term, so each row's gradient is the sum
            # over processes: WORLD times one process's (DDP's averaging divides it back).
            # A local term's gradient is already the one-process gradient.
            factor = 1 if name == "batch_norm" else WORLD
            for key in ("a", "b", "images"):
                assert torch.allclose(
                    part[name][key], factor * expected[key][rows], rtol=1e-4, atol=1e-6
                ), (name, key)


def test_global_batch_norm_is_batch_norm_in_one_process():
    x = torch.randn(6, 4, 3, 3)
    reference, converted = nn.BatchNorm2d(4), GlobalBatchNorm(4)
    assert torch.allclose(converted(x), reference(x), atol=1e-6)
    assert torch.allclose(converted.running_var, reference.running_var)
    assert set(converted.state_dict()) == set(reference.state_dict())


TINY_ARGS = ["--resolution", "32", "--width", "8", "--projector", "32-32-32", "--workers", "0"]


def test_torchrun_two_processes_equal_one_process_on_the_global_batch(rendered_tree, tmp_path):
    method = "sie"  # global variance/covariance, SyncBN (CPU), DDP averaging, data sharding
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as torchrun's processes
    try:
        config = TrainConfig(
            method=method, data=rendered_tree, out=tmp_path / "single", epochs=2,
            batch_size=8, resolution=32, width=8, projector=(32, 32, 32), workers=0,
            progress=False,
        )  # fmt: skip
        single = train(config)
    finally:
        torch.set_num_threads(threads)
    out = tmp_path / "ddp"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node", "2", "-m", "iebench", "train", method,
               "--data", str(rendered_tree), "--out", str(out), "--epochs", "2",
               "--batch-size", "8", "--device", "cpu", "--quiet", *TINY_ARGS]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    ddp = json.loads((out / "log.json").read_text())
    for one, two in zip(single.history, ddp, strict=True):
        for term in one:
            if term != "seconds":
                assert two[term] == pytest.approx(one[term], rel=1e-4, abs=1e-6), (term, one, two)
    expected = torch.load(single.run / "final.pth", weights_only=True)
    got = torch.load(out / "final.pth", weights_only=True)
    lr, steps = config.lr, len(single.history)
    for key, weights in expected.items():
        difference = (got[key].float() - weights.float()).abs()
        off = difference > 1e-5 + 1e-3 * weights.float().abs()
        # Adam's first updates are +-lr whatever a gradient's size, so a gradient at rounding
        # level (summed in another order across processes) can flip one: allow rare ones.
        assert off.float().mean() <= 1e-3, (key, off.sum().item(), difference.max().item())
        assert difference.max() <= 2 * lr * steps, (key, difference.max().item())
