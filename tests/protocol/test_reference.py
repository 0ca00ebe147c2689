"""Reference levels (iebench.protocol.reference) and their place in the results schema."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.leaderboard_helpers import make_results

from iebench.core.errors import IebenchError
from iebench.evaluation.metrics import constant_r2, r2_score
from iebench.protocol import reference
from iebench.protocol.results import Results, format_table, schema_problems, shown_metrics


def test_chance_retrieval_for_50_views_leaves_out_nothing_below_50():
    levels = reference.chance_retrieval(50)
    assert levels["mrr"] == pytest.approx(0.089984, abs=1e-6)  # mean(1/k, k = 1..50)
    assert {k: levels[k] for k in ("h@1", "h@2", "h@5", "h@10")} == {
        "h@1": 0.02,
        "h@2": 0.04,
        "h@5": 0.1,
        "h@10": 0.2,
    }
    # 5 views: H@5 and H@10 are always 1, so neither is a level nor a shown metric.
    assert set(reference.chance_retrieval(5)) == {"mrr", "h@1", "h@2"}
    assert shown_metrics("equivariance", 5) == ("mrr", "h@1", "h@2", "pre")


def test_chance_classification_counts_only_the_classes_trained_on():
    assert reference.chance_classification(np.arange(55), np.arange(55)) == pytest.approx(
        {"top1": 100 / 55, "top5": 500 / 55}
    )
    # 3 training classes; a quarter of the validation labels are of a fourth one.
    levels = reference.chance_classification(np.array([0, 1, 2, 2]), np.array([0, 1, 2, 7]))
    assert levels == pytest.approx({"top1": 25.0, "top5": 75.0})


def test_constant_r2_is_the_pooled_r2_of_the_training_mean():
    gen = np.random.default_rng(0)
    train = gen.normal([0.0, 0.0, 0.0, 0.8], 0.3, size=(400, 4))  # quaternion-like offsets
    val = gen.normal([0.0, 0.0, 0.0, 0.8], 0.3, size=(100, 4))
    level = constant_r2(train, val)
    assert level == pytest.approx(r2_score(np.tile(train.mean(0), (len(val), 1)), val))
    assert 0.5 < level < 0.9  # one output's mean apart from the rest already scores


def test_results_carry_reference_levels_checked_by_the_schema():
    results = make_results("SIE", 48.5, 0.61, predictor=True)
    data = results.to_dict()
    assert data["reference"]["rotation"] == {"r2": 0.2373}
    assert Results.from_dict(data) == results
    table = format_table(results)
    assert table.splitlines()[1].split()[-1] == "reference"
    assert "rotation        r2      0.610             0.630                   0.237" in table
    assert "h@10" not in table  # 10 views per object: always 1
    without = {k: v for k, v in data.items() if k != "reference"}
    assert schema_problems(without) == []  # optional: earlier results files stay valid
    assert "reference" not in format_table(Results.from_dict(without))
    bad = {**data, "reference": {"rotation": {"r2": "high"}, "colour": {"mrr": 0.1}}}
    assert schema_problems(bad) == [
        "reference.rotation.r2: expected a finite number, got 'high'",
        "reference.colour: expected some of the metrics ('r2',)",
    ]
    with pytest.raises(IebenchError, match="invalid results"):
        Results.from_dict(bad)
