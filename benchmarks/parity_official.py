"""iebench against the official SIE code (facebookresearch/SIE, commit 54541cf), side by side.

    python benchmarks/parity_official.py --sie-repo PATH

PATH is a checkout of the official repository (or an exported tree of it). Its
modules are imported from PATH/src at run time with importlib, for the duration of
the comparison only: nothing of the official code (GPL) is copied into iebench.
The official training models need a distributed process group (their gather
layer): the script starts a one-process gloo group, and gives them an ``args``
namespace with the published SIE command's settings.

For SIE and VICReg the script builds the official model and iebench's, gives the
official one iebench's seeded weights (so the numbers can be recomputed without
the official code), runs both on the same seeded batch, and prints

- the largest difference of the outputs (backbone, embeddings, prediction),
- every loss term and the total, official value and difference,
- the largest difference of any parameter's gradient,
- the metrics (R^2, top-k, MRR, H@k, PRE) on the same seeded arrays: the official
  R^2 and accuracy functions, and the official evaluation scripts' rank rules
  (rank = position in argsort of -similarity; PRE's neighbour = argmax), which
  are top-level scripts and are re-implemented here from what they do,
- the official pair quaternion (scipy ``r_i.inv() * r_j`` under the installed
  scipy) against iebench's.

tests/training/test_official.py pins the official values this printed, so CI checks
iebench against them without the official code.
"""

from __future__ import annotations

import argparse
import importlib
import math
import sys
import tempfile
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import scipy
import torch
import torch.distributed as dist
from scipy.spatial.transform import Rotation
from torch import nn

from iebench.evaluation import metrics
from iebench.methods import Method, PairBatch, build_method
from iebench.models.resnet import resnet18
from iebench.protocol.factors import relative_quaternion
from iebench.training.config import TrainConfig

BATCH = 8
RESOLUTION = 64
SEED = 0
# The published SIE command: --sim-coeff 10 --std-coeff 10 --cov-coeff 1 --mlp 2048-2048-2048
# --equi-factor 0.45 --hypernetwork linear --equi 256 --arch resnet18.
OFFICIAL_SETTINGS = {
    "arch": "resnet18",
    "equi": 256,
    "mlp": "2048-2048-2048",
    "predictor_type": "hypernetwork",
    "hypernetwork": "linear",
    "predictor": "",
    "bias_hypernet": False,
    "bias_pred": False,
    "predictor_relu": False,
    "tf_num_layers": 1,
    "sim_coeff": 10.0,
    "equi_factor": 0.45,
    "std_coeff": 10.0,
    "cov_coeff": 1.0,
    "batch_size": BATCH,
}
# iebench's loss term -> the official stats key.
TERMS = {
    "sie": {
        "inv": "repr_loss_inv",
        "equi": "repr_loss_equi",
        "std": "std_loss",
        "pred_std": "pred_std_loss",
        "cov": "cov_loss",
    },
    "vicreg": {"inv": "repr_loss_inv", "std": "std_loss", "cov": "cov_loss"},
}
OFFICIAL_CLASSES = {"sie": "SIE", "vicreg": "VICReg"}
HYPERNET = ("predictor.hypernet.weight", "predictor.hypernet.net.0.weight")
# Metric arrays: objects x views x dim, as the MRR script's groups of 50 views.
METRIC_SHAPE = (12, 50, 16)


def seeded_model(method: str, seed: int = SEED) -> Method:
    """iebench's model at the published sizes, its weights from the seed; batch norm scales
    and shifts drawn too (not 1 and 0), so that every gradient path carries signal."""
    config = TrainConfig(
        method=method, data=".", out=".", batch_size=BATCH, covariance_divisor="batch-size"
    ).resolved()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_method(method, resnet18(), config.method_spec())
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
                module.weight.copy_(torch.rand(module.weight.shape, generator=generator) + 0.5)
                module.bias.copy_(0.1 * torch.randn(module.bias.shape, generator=generator))
    return model


def seeded_inputs(seed: int = SEED) -> dict[str, torch.Tensor]:
    """Two views' images (normalised-looking noise), their relative quaternion, labels."""
    generator = torch.Generator().manual_seed(seed + 2)
    shape = (BATCH, 3, RESOLUTION, RESOLUTION)
    euler = (torch.rand(2, BATCH, 3, generator=generator, dtype=torch.float64) - 0.5) * math.pi
    return {
        "x": torch.randn(shape, generator=generator),
        "y": torch.randn(shape, generator=generator),
        "z": torch.from_numpy(relative_quaternion(euler[0].numpy(), euler[1].numpy())).float(),
        "euler": euler,
        "labels": torch.randint(55, (BATCH,), generator=generator),
    }


def seeded_metric_arrays(seed: int = SEED) -> dict[str, torch.Tensor]:
    """Continuous random predictions, targets, logits and quaternions (no ties)."""
    generator = torch.Generator().manual_seed(seed + 3)
    objects, views, dim = METRIC_SHAPE
    quats = torch.randn(objects * views, 4, generator=generator, dtype=torch.float64)
    return {
        "pred": torch.randn(METRIC_SHAPE, generator=generator),
        "target": torch.randn(METRIC_SHAPE, generator=generator),
        "quats": quats / quats.norm(dim=1, keepdim=True),
        "logits": torch.randn(64, 55, generator=generator),
        "labels": torch.randint(55, (64,), generator=generator),
        "regressed": torch.randn(64, 4, generator=generator),
        "regression_target": torch.randn(64, 4, generator=generator) + 0.3,
    }


def iebench_outputs(method: str, model: Method, inputs: dict) -> dict[str, torch.Tensor]:
    """Eval-mode outputs: the representation, the embedding, SIE's prediction."""
    model.eval()
    with torch.no_grad():
        representation = model.backbone(inputs["x"])
        outputs = {"representation": representation}
        if method == "sie":
            outputs["embedding"] = model.embed_equivariant(representation)
            outputs["prediction"] = model.predictor(outputs["embedding"], inputs["z"])
        else:
            outputs["embedding"] = model.projector(representation)
    model.train()
    return outputs


def iebench_step(model: Method, inputs: dict) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
    """Train-mode loss terms (and the total) and every parameter's gradient."""
    model.train()
    model.zero_grad()
    loss, terms = model(PairBatch(inputs["x"], inputs["y"], inputs["z"]))
    loss.backward()
    values = {name: float(value) for name, value in terms.items()} | {"loss": float(loss.detach())}
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    return values, grads


def gradient_norm(grads: dict[str, torch.Tensor]) -> float:
    """The L2 norm of all gradients together."""
    return math.sqrt(sum(float(g.double().pow(2).sum()) for g in grads.values()))


def official_rank_scores(pred: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """The MRR script's rule: normalise, rank = 1 + position of the true view in
    argsort(-similarity) among its object's views."""
    pred = pred / pred.norm(dim=-1, keepdim=True)
    target = target / (target.norm(dim=-1, keepdim=True) + 1e-8)
    ranks = []
    for o in range(pred.shape[0]):
        for v in range(pred.shape[1]):
            order = torch.argsort(-(target[o] @ pred[o, v]))
            ranks.append(int(torch.argwhere(order == v)[0][0]) + 1)
    rank = torch.tensor(ranks, dtype=torch.float64)
    scores = {"mrr": float((1 / rank).mean())}
    scores |= {f"h@{k}": float((rank <= k).double().mean()) for k in (1, 2, 5, 10)}
    return scores


def official_pre(pred: torch.Tensor, target: torch.Tensor, quats: torch.Tensor) -> float:
    """The prediction-error script's rule: the argmax neighbour over all targets."""
    pred = pred / pred.norm(dim=-1, keepdim=True)
    target = target / (target.norm(dim=-1, keepdim=True) + 1e-8)
    nearest = torch.argmax(pred @ target.T, dim=1)
    return float((1 - (quats * quats[nearest]).sum(1) ** 2).mean())


def iebench_metric_values(arrays: dict) -> dict[str, float]:
    flat_pred = arrays["pred"].reshape(-1, METRIC_SHAPE[2])
    flat_target = arrays["target"].reshape(-1, METRIC_SHAPE[2])
    values = metrics.mrr_hits(arrays["pred"], arrays["target"])
    values["pre"] = metrics.pre(flat_pred, flat_target, arrays["quats"], arrays["quats"])
    values["r2"] = metrics.r2_score(arrays["regressed"], arrays["regression_target"])
    values["top1"] = metrics.topk_accuracy(arrays["logits"], arrays["labels"], 1)
    values["top5"] = metrics.topk_accuracy(arrays["logits"], arrays["labels"], 5)
    return values


@contextmanager
def official_models(repo: Path) -> Iterator[types.ModuleType]:
    """The official ``src.models``, imported from ``repo/src``; afterwards ``src`` is gone
    from sys.modules again (and sys.path was never touched)."""
    if not (repo / "src" / "models.py").is_file():
        raise SystemExit(f"{repo}: no src/models.py; pass a checkout of facebookresearch/SIE")
    saved = {k: v for k, v in sys.modules.items() if k == "src" or k.startswith("src.")}
    for key in saved:
        del sys.modules[key]
    package = types.ModuleType("src")
    package.__path__ = [str(repo / "src")]  # submodules resolve here, not on sys.path
    sys.modules["src"] = package
    try:
        yield importlib.import_module("src.models")
    finally:
        for key in [k for k in sys.modules if k == "src" or k.startswith("src.")]:
            del sys.modules[key]
        sys.modules.update(saved)


@contextmanager
def one_process_group() -> Iterator[None]:
    """The official gather layer calls all_gather: a gloo group of one process."""
    with tempfile.TemporaryDirectory() as directory:
        dist.init_process_group(
            "gloo", init_method=f"file://{directory}/store", rank=0, world_size=1
        )
        try:
            yield
        finally:
            dist.destroy_process_group()


def official_copy(official: nn.Module, model: Method) -> None:
    """Give the official model iebench's weights and buffers (its evaluator keeps its own)."""
    state = {}
    for key, value in model.state_dict().items():
        state[HYPERNET[1] if key == HYPERNET[0] else key] = value
    missing, unexpected = official.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith("evaluator.")]
    if missing or unexpected:
        raise SystemExit(f"weights do not map: missing {missing[:3]}, unexpected {unexpected[:3]}")


def official_outputs(method: str, official: nn.Module, inputs: dict) -> dict[str, torch.Tensor]:
    official.eval()
    with torch.no_grad():
        representation = official.backbone(inputs["x"])
        outputs = {"representation": representation}
        if method == "sie":
            embedding = official.projector_equi(representation[:, official.inv_repr_size :])
            outputs["embedding"] = embedding
            outputs["prediction"] = official.predictor(embedding.unsqueeze(1), inputs["z"])
        else:
            outputs["embedding"] = official.projector(representation)
    official.train()
    return outputs


def official_step(
    method: str, official: nn.Module, inputs: dict
) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
    official.train()
    official.zero_grad()
    loss, _, stats, _ = official(inputs["x"], inputs["y"], inputs["z"], inputs["labels"])
    loss.backward()  # the SSL loss only: the online evaluator trains on detached inputs
    values = {ours: float(stats[theirs].detach()) for ours, theirs in TERMS[method].items()}
    values["loss"] = float(loss)
    grads = {}
    for name, parameter in official.named_parameters():
        if parameter.grad is not None and not name.startswith("evaluator."):
            grads[HYPERNET[0] if name == HYPERNET[1] else name] = parameter.grad.clone()
    return values, grads


def compare_model(method: str, models: types.ModuleType) -> None:
    model = seeded_model(method)
    official = getattr(models, OFFICIAL_CLASSES[method])(argparse.Namespace(**OFFICIAL_SETTINGS))
    official_copy(official, model)
    inputs = seeded_inputs()
    print(f"\n{method} (official {OFFICIAL_CLASSES[method]}), batch {BATCH}, {RESOLUTION} px")
    ours, theirs = (
        iebench_outputs(method, model, inputs),
        official_outputs(method, official, inputs),
    )
    for name in ours:
        difference = (ours[name] - theirs[name]).abs().max().item()
        print(f"  output {name:<14} max |diff| {difference:.3e}")
    our_values, our_grads = iebench_step(model, inputs)
    their_values, their_grads = official_step(method, official, inputs)
    for name, value in their_values.items():
        difference = abs(our_values[name] - value)
        print(f"  loss {name:<9} official {value:.9g}  iebench {our_values[name]:.9g}"
              f"  |diff| {difference:.3e}")  # fmt: skip
    if set(our_grads) != set(their_grads):
        raise SystemExit(f"gradients of different parameters: {set(our_grads) ^ set(their_grads)}")
    worst = max(our_grads, key=lambda n: (our_grads[n] - their_grads[n]).abs().max())
    difference = (our_grads[worst] - their_grads[worst]).abs().max().item()
    scale = max(g.abs().max().item() for g in their_grads.values())
    print(f"  gradients: {len(our_grads)} parameters, max |diff| {difference:.3e} ({worst}),"
          f" largest |grad| {scale:.3e}")  # fmt: skip
    print(f"  gradient norm official {gradient_norm(their_grads):.9g}"
          f"  iebench {gradient_norm(our_grads):.9g}")  # fmt: skip


def compare_metrics(models: types.ModuleType) -> None:
    arrays = seeded_metric_arrays()
    flat = {k: arrays[k].reshape(-1, METRIC_SHAPE[2]) for k in ("pred", "target")}
    official = official_rank_scores(arrays["pred"], arrays["target"])
    official["pre"] = official_pre(flat["pred"], flat["target"], arrays["quats"])
    official["r2"] = float(models.r2_score(arrays["regressed"], arrays["regression_target"]))
    top1, top5 = models.accuracy(arrays["logits"], arrays["labels"], topk=(1, 5))
    official["top1"], official["top5"] = float(top1), float(top5)
    ours = iebench_metric_values(arrays)
    print(f"\nmetrics on seeded arrays ({METRIC_SHAPE[0]} objects x {METRIC_SHAPE[1]} views):")
    for name, value in official.items():
        print(f"  {name:<5} official {value:.9g}  iebench {ours[name]:.9g}"
              f"  |diff| {abs(ours[name] - value):.3e}")  # fmt: skip
    # Ties, where the rules differ on purpose: every embedding equal.
    same = torch.ones(METRIC_SHAPE)
    theirs, ours = official_rank_scores(same, same)["mrr"], metrics.mrr_hits(same, same)["mrr"]
    chance = float(np.mean(1 / np.arange(1, METRIC_SHAPE[1] + 1)))
    print(
        f"  collapsed (all equal): MRR official {theirs:.6g} (argsort order), iebench "
        f"{ours:.6g} (expected over ties), chance {chance:.6g}"
    )


def compare_quaternions() -> None:
    """The official dataset's pair quaternion (float32 Euler angles through scipy)."""
    euler = seeded_inputs()["euler"].numpy().astype(np.float32)
    theirs = Rotation.from_euler("xyz", euler[0]).inv() * Rotation.from_euler("xyz", euler[1])
    theirs = theirs.as_quat()
    ours = relative_quaternion(euler[0].astype(np.float64), euler[1].astype(np.float64))
    same, negated = np.abs(theirs - ours).max(), np.abs(theirs + ours).max()
    verdict = "equals" if same < negated else "is the NEGATIVE (scipy <= 1.10) of"
    print(f"\npair quaternion under scipy {scipy.__version__}: the official one {verdict}"
          f" iebench's (max |diff| {min(same, negated):.3e})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sie-repo", type=Path, required=True, help="official SIE checkout")
    args = parser.parse_args()
    torch.set_num_threads(min(4, torch.get_num_threads()))
    with official_models(args.sie_repo.resolve()) as models, one_process_group():
        for method in ("sie", "vicreg"):
            compare_model(method, models)
        compare_metrics(models)
    compare_quaternions()


if __name__ == "__main__":
    main()
