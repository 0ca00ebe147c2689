"""The metric functions against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from iebench.core.errors import IebenchError
from iebench.evaluation.metrics import mrr_hits, pre, r2_score, topk_accuracy


def test_r2_uses_one_global_mean_not_per_output():
    target = np.array([[0.0, 10.0], [2.0, 12.0]])
    # Predicting each output's own mean: per-output R^2 would be 0 for both outputs.
    pred = np.array([[1.0, 11.0], [1.0, 11.0]])
    # SS_res = 4 * 1; SS_tot around the global mean 6 = 36 + 16 + 16 + 36.
    assert r2_score(pred, target) == pytest.approx(1 - 4 / 104)
    assert r2_score(torch.tensor(pred), torch.tensor(target)) == pytest.approx(1 - 4 / 104)
    assert r2_score(target, target) == 1.0
    assert r2_score(np.full_like(target, 6.0), target) == pytest.approx(0.0)


def test_r2_of_constant_targets_is_refused():
    with pytest.raises(IebenchError, match="targets are all equal"):
        r2_score(np.zeros((4, 2)), np.full((4, 2), 0.5))


def test_r2_rejects_mismatched_shapes():
    with pytest.raises(IebenchError, match="shapes differ"):
        r2_score(np.zeros((2, 4)), np.zeros((2, 2)))


def test_topk_accuracy_counts_ties_as_a_random_order_would():
    logits = np.array([[1.0, 3.0, 2.0], [5.0, 5.0, 0.0], [0.0, 1.0, 2.0]])
    labels = np.array([1, 0, 0])
    # Row 0: rank 1. Row 1: tied with label 1 for ranks 1-2 (half a hit at k=1). Row 2: rank 3.
    assert topk_accuracy(logits, labels, 1) == pytest.approx(1.5 / 3)
    assert topk_accuracy(logits, labels, 2) == pytest.approx(2 / 3)
    assert topk_accuracy(torch.tensor(logits), torch.tensor(labels), 3) == 1.0


def test_collapsed_scores_are_chance_not_perfect():
    """Every candidate equal: before the fix every metric read 1.0 (ties went to the truth)."""
    assert topk_accuracy(np.zeros((6, 55)), np.arange(6), 1) == pytest.approx(1 / 55)
    assert topk_accuracy(np.zeros((6, 55)), np.arange(6), 5) == pytest.approx(5 / 55)
    same = np.ones((3, 50, 8))
    scores = mrr_hits(same, same)
    assert scores["mrr"] == pytest.approx(np.mean(1 / np.arange(1, 51)))
    assert scores["h@1"] == pytest.approx(1 / 50) and scores["h@10"] == pytest.approx(10 / 50)
    rng = np.random.default_rng(0)
    quats = rng.normal(size=(20, 4))
    quats /= np.linalg.norm(quats, axis=1, keepdims=True)
    chance = np.mean(1 - (quats @ quats.T) ** 2)
    assert pre(np.ones((20, 8)), np.ones((20, 8)), quats, quats) == pytest.approx(chance)


def test_mrr_and_hits_by_hand():
    s = 1 / math.sqrt(2)
    target = np.array([[[1.0, 0.0], [0.0, 1.0], [s, s]]])
    # view 0: itself (rank 1); view 1: t0 and t2 are closer (rank 3); view 2: t0 closer (rank 2).
    pred = np.array([[[3.0, 0.0], [1.0, 0.1], [1.0, 0.0]]])
    scores = mrr_hits(pred, target)
    assert scores["mrr"] == pytest.approx((1 + 1 / 3 + 1 / 2) / 3)
    assert scores["h@1"] == pytest.approx(1 / 3)
    assert scores["h@2"] == pytest.approx(2 / 3)
    assert scores["h@5"] == scores["h@10"] == 1.0


def test_mrr_ties_take_the_mean_over_the_tied_ranks():
    target = np.array([[[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]])
    # The prediction for view 1 is equally similar to views 0 and 1: ranks 1 and 2 equally
    # likely, so 1/rank averages to 3/4 and it is half a hit at 1.
    pred = np.array([[[1.0, 0.0], [1.0, 1.0], [-1.0, 0.0]]])
    scores = mrr_hits(pred, target, ks=(1, 2))
    assert scores["mrr"] == pytest.approx((1 + 0.75 + 1) / 3)
    assert scores["h@1"] == pytest.approx(2.5 / 3) and scores["h@2"] == 1.0


def test_identity_queries_are_included():
    rng = np.random.default_rng(0)
    target = rng.normal(size=(4, 5, 8))
    assert mrr_hits(target, target)["mrr"] == 1.0
    # A predictor that returns the source (view 0) unchanged: only the identity query
    # 0 -> 0 is a hit; every other view has view 0 strictly closer (rank >= 2).
    source = np.repeat(target[:, :1], 5, axis=1)
    scores = mrr_hits(source, target)
    assert scores["h@1"] == pytest.approx(1 / 5)
    assert scores["mrr"] < 1 / 5 + 4 / 5 * 1 / 2 + 1e-12


def test_mrr_rejects_bad_shapes():
    with pytest.raises(IebenchError, match="objects, views, dim"):
        mrr_hits(np.zeros((3, 4)), np.zeros((3, 4)))


def test_pre_by_hand():
    s = 1 / math.sqrt(2)
    targets = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    target_quats = np.array([[0, 0, 0, 1.0], [0, 0, s, s], [1.0, 0, 0, 0]])
    pred = np.array([[2.0, 0.1], [0.1, 1.0], [1.0, 1.0]])  # the last ties targets 0 and 1
    true_quats = np.array([[0, 0, 0, 1.0], [0, 0, 0, -1.0], [0, 0, 0, 1.0]])  # sign is irrelevant
    # Errors: 1 - 1 = 0; 1 - cos(45 deg)^2 = 0.5; the mean of 0 and 0.5 over the tie.
    assert pre(pred, targets, target_quats, true_quats) == pytest.approx(0.75 / 3)


def test_pre_rejects_bad_shapes():
    with pytest.raises(IebenchError, match="pre: expected"):
        pre(np.zeros((2, 3)), np.zeros((4, 3)), np.zeros((4, 4)), np.zeros((3, 4)))
