"""The two R^2 definitions of the literature, each under its own name, pinned by hand.

``r2``: the protocol's, 1 - SS_res / SS_tot around ONE global mean of all target elements
(SIE, ContextSSL). ``r2_per_output``: sklearn's default, the mean over outputs k of
1 - SS_res_k / SS_tot_k (seq-JEPA). A constant predictor scores well above 0 on the first
and 0 on the second.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers.leaderboard_helpers import OLD_RESULTS

from iebench.core.errors import IebenchError
from iebench.evaluation.metrics import constant_r2, r2_per_output, r2_score
from iebench.protocol.results import read_results, schema_problems
from iebench.protocol.tasks import TASK_REGISTRY

TARGET = np.array([[0.0, 10.0], [2.0, 12.0], [4.0, 11.0]])
PRED = np.array([[1.0, 10.0], [2.0, 13.0], [3.0, 11.0]])
# SS_res = 1 + 1 + 1 = 3 under both definitions.
# Global mean 6.5: SS_tot = 6.5^2 + 3.5^2 + 4.5^2 + 5.5^2 + 2.5^2 + 4.5^2 = 131.5.
GLOBAL_R2 = 1 - 3 / 131.5  # 0.97718...
# Output 0: mean 2, SS_tot 8, SS_res 2 -> 0.75; output 1: mean 11, SS_tot 2, SS_res 1 -> 0.5.
PER_OUTPUT_R2 = 0.625


def test_both_definitions_on_a_fixed_example():
    assert r2_score(PRED, TARGET) == pytest.approx(0.9771863117870723, abs=1e-15)
    assert r2_score(PRED, TARGET) == pytest.approx(GLOBAL_R2, abs=1e-15)
    assert r2_per_output(PRED, TARGET) == pytest.approx(PER_OUTPUT_R2, abs=1e-15)
    assert r2_per_output(torch.tensor(PRED), torch.tensor(TARGET)) == pytest.approx(0.625)
    assert r2_per_output(TARGET, TARGET) == 1.0


def test_the_constant_predictor_scores_zero_per_output_but_not_globally():
    train = np.array([[1.0, 11.0], [3.0, 11.0]])  # per-output means (2, 11): the val means
    # Global: SS_res = 8 + 2 = 10 of SS_tot 131.5.
    assert constant_r2(train, TARGET) == pytest.approx(1 - 10 / 131.5, abs=1e-15)
    assert constant_r2(train, TARGET, r2_per_output) == pytest.approx(0.0, abs=1e-15)
    # Means off by one on output 0: SS_res_0 = 8 + 3 = 11 -> 1 - 11/8; output 1 stays 0.
    shifted = train + np.array([1.0, 0.0])
    assert constant_r2(shifted, TARGET, r2_per_output) == pytest.approx(-3 / 16, abs=1e-15)


def test_an_output_without_spread_scores_as_sklearn_scores_it():
    target = np.array([[1.0, 5.0], [3.0, 5.0]])
    assert r2_per_output(target, target) == 1.0  # exact: 1 on both outputs
    off = np.array([[1.0, 5.0], [3.0, 6.0]])  # output 1 missed: 0 (not -inf)
    assert r2_per_output(off, target) == 0.5


def test_shapes_are_checked():
    with pytest.raises(IebenchError, match=r"r2_per_output: expected pred and target"):
        r2_per_output(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(IebenchError, match=r"r2_per_output: expected pred and target"):
        r2_per_output(np.zeros(3), np.zeros(3))


def test_the_registry_declares_both_on_every_pair_task_the_board_ranking_the_protocols():
    for task in ("rotation", "colour", "translation", "translation-base"):
        assert TASK_REGISTRY[task].metric_names == ("r2", "r2_per_output")
        assert TASK_REGISTRY[task].main_metric.name == "r2"
        assert TASK_REGISTRY[task].required_metrics_of("full") == ("r2",)
        per_output = TASK_REGISTRY[task].metric("r2_per_output")
        assert (per_output.low, per_output.high, per_output.optional) == (-100.0, 1.0, True)


def test_old_files_without_the_per_output_r2_stay_valid_and_neither_stands_for_the_other():
    data = json.loads(OLD_RESULTS.read_text())
    assert "r2_per_output" not in data["scores"]["rotation"]["full"]
    assert read_results(OLD_RESULTS).scores["rotation"]["full"]["r2"].mean == 0.6642295223356098
    assert schema_problems(data) == []
    data["scores"]["rotation"]["full"]["r2_per_output"] = {"mean": 0.5, "std": 0.0, "n": 1}
    assert schema_problems(data) == []
    del data["scores"]["rotation"]["full"]["r2"]  # the protocol's R^2 is always there
    assert schema_problems(data) == [
        "scores.rotation.full: expected metrics ('r2', 'r2_per_output')"
    ]
