"""Reference levels (iebench.protocol.reference) and their place in the results schema."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.leaderboard_helpers import make_results

from iebench.core.errors import IebenchError
from iebench.evaluation.metrics import constant_r2, r2_score
from iebench.protocol import reference
from iebench.protocol.results import (
    UNRECORDED_TASK_VERSIONS,
    Results,
    format_table,
    json_depth,
    recorded_task_versions,
    schema_problems,
    shown_metrics,
)


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
        "reference.colour: expected some of the metrics ('r2', 'r2_per_output')",
    ]
    with pytest.raises(IebenchError, match="invalid results"):
        Results.from_dict(bad)


def test_reference_levels_are_checked_against_their_figures():
    committed = {"classification": {"top1": 25.0, "top5": 100.0}, **_equivariance(12)}
    assert reference.reference_problems(committed, 12, 80) == []  # the mini track: 4 classes
    # 55 classes, 3 of 4 validation objects of a trained class.
    levels = {"classification": {"top1": 75 / 55, "top5": 375 / 55}}
    assert reference.reference_problems(levels, 10, 4) == []
    forged = {"classification": {"top1": 99.0, "top5": 99.0}, "rotation": {"r2": -11.0}}
    assert reference.reference_problems(forged, 10, 8) == [
        "reference.rotation.r2: -11.0 outside [-10.0, 1.0]",
        "reference.classification {'top1': 99.0, 'top5': 99.0}: not the chance levels of 1-55 "
        "classes on 8 validation objects",
    ]
    # One class and 99 of 100 validation objects in it: consistent, however odd.
    only = {"classification": forged["classification"]}
    assert reference.reference_problems(only, 10, 50)
    assert not reference.reference_problems(only, 10, 100)
    levels = _equivariance(10)
    levels["equivariance"].update({"h@10": 1.0, "h@1": 0.2})
    assert reference.reference_problems(levels, 10, 8) == [
        "reference.equivariance.h@1: 0.2, not the chance level 0.1 of 10 views",
        "reference.equivariance.h@10: no chance level for 10 views",
    ]


def _equivariance(views: int) -> dict:
    return {"equivariance": reference.chance_retrieval(views)}


def test_results_record_task_versions_and_older_files_read_as_their_time():
    data = make_results("SIE", 48.5, 0.61, predictor=True).to_dict()
    assert data["protocol"]["task_versions"] == {
        "classification": 2,
        "rotation": 1,
        "colour": 1,
        "equivariance": 2,
    }
    assert recorded_task_versions(data) == data["protocol"]["task_versions"]
    del data["protocol"]["task_versions"]
    assert schema_problems(data) == []
    assert recorded_task_versions(data) == UNRECORDED_TASK_VERSIONS  # what they ran
    data["protocol"]["task_versions"] = {"classification": 0, "rotation": True}
    assert schema_problems(data) == [
        "protocol.task_versions: expected {task: version >= 1}, got "
        "{'classification': 0, 'rotation': True}",
        "protocol.task_versions: expected a version for each of protocol.tasks, got "
        "{'classification': 0, 'rotation': True}",
    ]


def test_json_nesting_is_measured_without_parsing():
    assert json_depth(b'{"a": "[[[[{{", "b": [[1], {"c": "\\"]"}]}') == 3
    assert json_depth(b"[" * 200_000) == 200_000
    assert json_depth(b'"unterminated [[[') == 0
