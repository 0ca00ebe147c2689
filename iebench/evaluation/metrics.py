"""The benchmark's metrics (REFERENCE.md section 5): numpy or torch arrays in, floats out.

Ranks count only candidates that are strictly better, so ties never depend on
sort order: a query tied with its true match ranks it first.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from iebench.core.errors import IebenchError

Array = np.ndarray | torch.Tensor
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
    return float(1.0 - ss_res / ss_tot)


def _true_rank(scores: torch.Tensor, true_index: torch.Tensor) -> torch.Tensor:
    """1 + the number of candidates scoring strictly higher than the true one (last axis)."""
    true_score = scores.gather(-1, true_index.unsqueeze(-1))
    return 1 + (scores > true_score).sum(dim=-1)


def topk_accuracy(logits: Array, labels: Array, k: int = 1) -> float:
    """Fraction (0-1) of rows whose true label is among the k highest logits (ties favour it)."""
    logits = _tensor(logits, "logits")
    labels = torch.as_tensor(labels, device=logits.device).long()
    if logits.ndim != 2 or labels.shape != logits.shape[:1]:
        raise IebenchError(
            f"topk_accuracy: expected logits (N, C) and labels (N,), "
            f"got {tuple(logits.shape)} and {tuple(labels.shape)}"
        )
    return float((_true_rank(logits, labels) <= k).to(torch.float64).mean())


def mrr_hits(pred: Array, target: Array, ks: Sequence[int] = (1, 2, 5, 10)) -> dict[str, float]:
    """Mean reciprocal rank and hits@k of each prediction among its object's views.

    ``pred`` and ``target`` are (objects, views, dim); the true match of
    ``pred[o, v]`` is ``target[o, v]`` among the candidates ``target[o, :]``.
    Similarity is cosine (both sides L2-normalised). Returns
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
    ranks = []
    step = max(1, CHUNK_ELEMENTS // (views * views))
    for start in range(0, objects, step):
        stop = start + step
        scores = torch.einsum(
            "ovd,owd->ovw",
            F.normalize(pred[start:stop], dim=-1),
            F.normalize(target[start:stop], dim=-1),
        )
        ranks.append(_true_rank(scores, true_view[start:stop]).flatten())
    rank = torch.cat(ranks).to(torch.float64)
    result = {"mrr": float((1.0 / rank).mean())}
    result.update({f"h@{k}": float((rank <= k).to(torch.float64).mean()) for k in ks})
    return result


def pre(pred: Array, targets: Array, target_quats: Array, true_quats: Array) -> float:
    """Prediction error of the rotation: mean(1 - <q_true, q_nn>^2).

    For each prediction (row of ``pred``), q_nn is the quaternion of its nearest
    neighbour by cosine similarity among all rows of ``targets`` (first one on
    ties); ``true_quats`` are the predictions' true absolute rotations. 0 when
    every neighbour has the true rotation, up to 1; q and -q count as equal.
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
    step = max(1, CHUNK_ELEMENTS // max(1, targets.shape[0]))
    for start in range(0, pred.shape[0], step):
        query = F.normalize(pred[start : start + step], dim=-1)
        nearest = (query @ targets.T).argmax(dim=1)
        dots = (true_quats[start : start + step] * target_quats[nearest]).sum(dim=1)
        errors.append(1.0 - dots**2)
    return float(torch.cat(errors).mean())
