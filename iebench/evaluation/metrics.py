"""The benchmark's metrics (docs/protocol.md section 6): numpy or torch arrays in, floats out.

Ties never favour the truth, nor depend on sort order: every rank-based score
(top-k, MRR, H@k) and PRE's nearest neighbour are the EXPECTED value under a
uniformly random order within each tied group. A true candidate tied with t - 1
others behind g strictly better ones takes each rank g+1 .. g+t with probability
1/t, so it scores mean(1/r) over those ranks for MRR and the fraction of them
<= k for top-k / H@k; PRE averages the error over all tied nearest neighbours. A
collapsed encoder (every score equal) therefore scores exactly at chance
(MRR = mean(1/U{1..V}), H@k = k/V, top-k = k/C), never 1.0. Scores within
TIE_EPSILONS float epsilons of each other (relative to the row) count as tied, since
equal inputs can leave a matrix product a few roundings apart. (The official
scripts break ties by argsort order, which a collapsed model turns into a perfect score.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from iebench.core.errors import IebenchError

Array = np.ndarray | torch.Tensor
# Scores this many float epsilons (relative to the row's largest |score|) apart are a tie:
# equal inputs can come out of a matrix product a few rounding steps apart.
TIE_EPSILONS = 64
# Similarity-matrix entries computed at once by mrr_hits / pre (bounds memory: 512 MiB).
CHUNK_ELEMENTS = 1 << 27


def _tensor(x: Array, name: str) -> torch.Tensor:
    tensor = torch.as_tensor(x)
    if not (tensor.is_floating_point() or tensor.dtype in (torch.int64, torch.int32)):
        raise IebenchError(f"{name}: expected numbers, got dtype {tensor.dtype}")
    return tensor if tensor.is_floating_point() else tensor.to(torch.float64)


def r2_score(pred: Array, target: Array) -> float:
    """1 - SS_res / SS_tot, with SS_tot around ONE global mean of all target elements.

    Not sklearn's default (the average of per-output R^2): the reference scripts
    pool all outputs, which rewards getting each output's own mean right.
    """
    pred = _tensor(pred, "pred").to(torch.float64)
    target = _tensor(target, "target").to(pred.device, torch.float64)
    if pred.shape != target.shape:
        raise IebenchError(f"r2_score: shapes differ, {tuple(pred.shape)} vs {tuple(target.shape)}")
    ss_res = torch.sum((target - pred) ** 2)
    ss_tot = torch.sum((target - target.mean()) ** 2)
    if ss_tot == 0:
        raise IebenchError("r2_score: the targets are all equal, so R^2 is undefined")
    return float(1.0 - ss_res / ss_tot)


def r2_per_output(pred: Array, target: Array) -> float:
    """The mean over outputs k of 1 - SS_res_k / SS_tot_k, each around output k's own mean:
    sklearn's ``r2_score`` default (multioutput="uniform_average"), as seq-JEPA reports it.

    Not the protocol's R^2 (``r2_score``): predicting each output's own mean scores 0 here.
    An output whose targets are all equal scores 1 when predicted exactly, else 0 (sklearn's
    ``force_finite``).
    """
    pred = _tensor(pred, "pred").to(torch.float64)
    target = _tensor(target, "target").to(pred.device, torch.float64)
    if pred.ndim != 2 or pred.shape != target.shape:
        raise IebenchError(
            f"r2_per_output: expected pred and target of one shape (N, outputs), "
            f"got {tuple(pred.shape)} and {tuple(target.shape)}"
        )
    ss_res = torch.sum((target - pred) ** 2, dim=0)
    ss_tot = torch.sum((target - target.mean(dim=0)) ** 2, dim=0)
    constant = ss_tot == 0
    per_output = torch.where(
        constant,
        (ss_res == 0).to(torch.float64),
        1.0 - ss_res / torch.where(constant, 1.0, ss_tot),
    )
    return float(per_output.mean())


def constant_r2(
    train_targets: Array, val_targets: Array, score: Callable[[Array, Array], float] = r2_score
) -> float:
    """``score`` (an R^2: by default the protocol's) of the constant predictor that outputs,
    for every validation target, the per-output mean of the training targets: the floor of a
    pair-regression task."""
    mean = _tensor(train_targets, "train_targets").to(torch.float64).mean(dim=0)
    return score(mean.expand(*_tensor(val_targets, "val_targets").shape), val_targets)


def _tie_tolerance(scores: torch.Tensor) -> torch.Tensor:
    """Per row, how far apart two scores may be and still tie (see TIE_EPSILONS)."""
    scale = scores.abs().amax(dim=-1, keepdim=True).clamp(min=1.0)
    return TIE_EPSILONS * torch.finfo(scores.dtype).eps * scale


def _true_rank_group(scores: torch.Tensor, true_index: torch.Tensor):
    """Per row (last axis = candidates): how many candidates score strictly higher than the
    true one (g) and how many tie with it, the true one included (t >= 1)."""
    true_score = scores.gather(-1, true_index.unsqueeze(-1))
    tolerance = _tie_tolerance(scores)
    better = (scores > true_score + tolerance).sum(dim=-1)
    tied = ((scores - true_score).abs() <= tolerance).sum(dim=-1)
    return better.to(torch.float64), tied.clamp(min=1).to(torch.float64)


def _expected_hits(better: torch.Tensor, tied: torch.Tensor, k: int) -> torch.Tensor:
    """The fraction of the tied ranks better+1 .. better+tied that are <= k."""
    return (k - better).clamp(min=0).minimum(tied) / tied


def _expected_reciprocal_rank(
    better: torch.Tensor, tied: torch.Tensor, candidates: int
) -> torch.Tensor:
    """mean(1/r) over the ranks better+1 .. better+tied, as (H(better+tied) - H(better)) / tied."""
    harmonic = torch.cat(
        [
            torch.zeros(1, dtype=torch.float64),
            torch.cumsum(1.0 / torch.arange(1, candidates + 1, dtype=torch.float64), 0),
        ]
    ).to(better.device)
    upper, lower = (better + tied).long(), better.long()
    return (harmonic[upper] - harmonic[lower]) / tied


def topk_accuracy(logits: Array, labels: Array, k: int = 1) -> float:
    """Fraction (0-1) of rows whose true label is among the k highest logits (ties: expected)."""
    logits = _tensor(logits, "logits")
    labels = torch.as_tensor(labels, device=logits.device).long()
    if logits.ndim != 2 or labels.shape != logits.shape[:1]:
        raise IebenchError(
            f"topk_accuracy: expected logits (N, C) and labels (N,), "
            f"got {tuple(logits.shape)} and {tuple(labels.shape)}"
        )
    better, tied = _true_rank_group(logits, labels)
    return float(_expected_hits(better, tied, k).mean())


def mrr_hits(pred: Array, target: Array, ks: Sequence[int] = (1, 2, 5, 10)) -> dict[str, float]:
    """Mean reciprocal rank and hits@k of each prediction among its object's views.

    ``pred`` and ``target`` are (objects, views, dim); the true match of
    ``pred[o, v]`` is ``target[o, v]`` among the candidates ``target[o, :]``.
    Similarity is cosine (both sides L2-normalised); ties count as a random order
    would on average (see the module docstring). Returns
    ``{"mrr": ..., "h@1": ..., ...}``, each a fraction in [0, 1].
    """
    pred = _tensor(pred, "pred")
    target = _tensor(target, "target").to(pred.device, pred.dtype)
    if pred.ndim != 3 or pred.shape != target.shape:
        raise IebenchError(
            f"mrr_hits: expected pred and target of one shape (objects, views, dim), "
            f"got {tuple(pred.shape)} and {tuple(target.shape)}"
        )
    objects, views, _ = pred.shape
    true_view = torch.arange(views, device=pred.device).expand(objects, views)
    groups = []
    step = max(1, CHUNK_ELEMENTS // (views * views))
    for start in range(0, objects, step):
        stop = start + step
        scores = torch.einsum(
            "ovd,owd->ovw",
            F.normalize(pred[start:stop], dim=-1),
            F.normalize(target[start:stop], dim=-1),
        )
        better, tied = _true_rank_group(scores, true_view[start:stop])
        groups.append((better.flatten(), tied.flatten()))
    better = torch.cat([g[0] for g in groups])
    tied = torch.cat([g[1] for g in groups])
    result = {"mrr": float(_expected_reciprocal_rank(better, tied, views).mean())}
    result.update({f"h@{k}": float(_expected_hits(better, tied, k).mean()) for k in ks})
    return result


def pre(pred: Array, targets: Array, target_quats: Array, true_quats: Array) -> float:
    """Prediction error of the rotation: mean(1 - <q_true, q_nn>^2).

    For each prediction (row of ``pred``), q_nn is the quaternion of its nearest
    neighbour by cosine similarity among all rows of ``targets``; when several tie
    for nearest, the error is their mean (what a random pick gives on average).
    ``true_quats`` are the predictions' true absolute rotations. 0 when every
    neighbour has the true rotation, up to 1; q and -q count as equal.
    """
    pred = _tensor(pred, "pred")
    targets = F.normalize(_tensor(targets, "targets").to(pred.device, pred.dtype), dim=-1)
    target_quats = _tensor(target_quats, "target_quats").to(pred.device, torch.float64)
    true_quats = _tensor(true_quats, "true_quats").to(pred.device, torch.float64)
    if (
        pred.ndim != 2
        or targets.ndim != 2
        or pred.shape[1] != targets.shape[1]
        or target_quats.shape != (targets.shape[0], 4)
        or true_quats.shape != (pred.shape[0], 4)
    ):
        raise IebenchError(
            "pre: expected pred (N, E), targets (M, E), target_quats (M, 4), true_quats (N, 4); "
            f"got {tuple(pred.shape)}, {tuple(targets.shape)}, {tuple(target_quats.shape)}, "
            f"{tuple(true_quats.shape)}"
        )
    errors = []
    # A quarter chunk: each step also holds the float64 rotation errors of every pair.
    step = max(1, CHUNK_ELEMENTS // (4 * max(1, targets.shape[0])))
    for start in range(0, pred.shape[0], step):
        query = F.normalize(pred[start : start + step], dim=-1)
        similarity = query @ targets.T
        best = similarity.max(dim=1, keepdim=True).values
        nearest = similarity >= best - _tie_tolerance(similarity)
        dots = true_quats[start : start + step] @ target_quats.T
        tied_errors = torch.where(nearest, 1.0 - dots**2, torch.zeros_like(dots))
        errors.append(tied_errors.sum(dim=1) / nearest.sum(dim=1))
    return float(torch.cat(errors).mean())
