"""benchmarks/sie_mrr.py: the view-spread figures, the oracle's MRR curve and the calibration of
a trained SIE run, whose own MRR must be the one `iebench evaluate` records."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers.benchmarks import BENCHMARKS, benchmark_script
from helpers.handbuilt import RENDERED_SHAPE, build_tree
from helpers.leaderboard_helpers import new_board

from iebench.core.seeding import numpy_generator
from iebench.leaderboard import load_board
from iebench.protocol.factors import FactorSpec
from iebench.protocol.results import read_results


@pytest.fixture(scope="module")
def script():
    with benchmark_script("sie_mrr") as module:
        yield module


def unit(rows: list[list[float]]) -> torch.Tensor:
    return F.normalize(torch.tensor([rows], dtype=torch.float32), dim=-1)


def random_embeddings(objects: int = 20, views: int = 12, dims: int = 8) -> torch.Tensor:
    generator = numpy_generator(0, "test-sie-mrr")
    values = generator.standard_normal((objects, views, dims)).astype(np.float32)
    return F.normalize(torch.from_numpy(values), dim=-1)


def test_the_view_spread_is_the_mean_and_nearest_squared_distance(script):
    # Three views on a circle: squared distances 2 (neighbours) and 4 (opposite).
    spread, nearest = script.view_spread(unit([[1, 0], [0, 1], [-1, 0]]))
    assert spread == pytest.approx(8 / 3)
    assert nearest == pytest.approx(2.0)


def test_the_view_span_keeps_what_the_views_differ_in_and_drops_the_rest(script):
    views = unit([[1, 0, 0], [0, 1, 0], [-1, 0, 0]])
    span = script.view_span(views)
    inside, outside = torch.tensor([[[1.0, 1.0, 0.0]]]), torch.tensor([[[0.0, 0.0, 1.0]]])
    assert torch.allclose(script.in_span(inside, span), inside, atol=1e-6)
    assert torch.allclose(script.in_span(outside, span), torch.zeros(1, 1, 3), atol=1e-6)


def test_the_oracle_is_exact_without_noise_and_falls_towards_chance(script):
    embeddings = random_embeddings()
    span = script.view_span(embeddings)
    for part in (None, span):
        curve = [
            script.oracle_mrr(embeddings, error, 1.0, "test", part)
            for error in script.RELATIVE_ERRORS
        ]
        assert curve[0] == 1.0
        assert all(a >= b for a, b in zip(curve, curve[1:], strict=False))
        assert curve[-1] < 0.45  # chance with 12 views: 0.259
    # The noise is drawn from the key, never from global state: pinned.
    assert script.oracle_mrr(embeddings, 1.0, 1.0, "test") == pytest.approx(0.8706, abs=1e-4)


def test_the_needed_error_interpolates_the_falling_curve(script):
    curve = [(0.0, 1.0), (1.0, 0.5), (2.0, 0.3)]
    assert script.needed_relative_error(curve, 0.4) == pytest.approx(1.5)
    assert script.needed_relative_error(curve, 0.75) == pytest.approx(0.5)


def test_a_candidate_keeps_every_track_setting_but_what_it_changes(script, tmp_path):
    """Its run folders and stamps are those `sie_vs_vicreg --track mini` would make with the
    candidate's weights: the same folder names, the same settings in the stamp."""
    args = script.parser().parse_args(
        ["train", "--tuning", "--sie-weight", "equi=90", "--out", str(tmp_path)]
    )
    settings = script.candidate_settings(args)
    track = script.pipeline.arguments(["--track", "mini", "--out", str(tmp_path)])
    changed = {"sie_weight": ["equi=90"], "tree_seed": 0}
    assert script.pipeline.stamp(settings)["settings"] == {
        **script.pipeline.stamp(track)["settings"],
        **changed,
    }
    run = script.pipeline.run_dir(settings, tmp_path / "tree", "sie", 2)
    assert run.name == "sie-equi90-w16-p64-64-64-b32-e300-s2"
    epochs = script.candidate_settings(script.parser().parse_args(["train", "--epochs", "600"]))
    assert (epochs.epochs, epochs.sie_weight, epochs.tree_seed) == (600, ["equi=45"], 1)


def test_a_collapsed_representation_scores_chance_and_no_relative_error(script):
    """Every view embedded alike: no predictor can tell the views apart, and the calibration
    says so (MRR at chance, relative errors undefined) rather than dividing by zero."""
    embeddings = F.normalize(torch.ones(6, 12, 8), dim=-1)
    figures = script.calibration(embeddings, embeddings.clone(), "collapsed")
    chance = float(np.mean(1.0 / np.arange(1, 13)))
    assert figures.spread == 0.0 and np.isnan(figures.relative(figures.error))
    assert figures.mrr == pytest.approx(chance) and figures.unmoved_mrr == pytest.approx(chance)
    assert all(m == pytest.approx(chance) for _, m in figures.curves["in span"])


@pytest.mark.parametrize("command", ["calibrate", "refit", "publish"])
def test_a_wrong_run_folder_is_one_line_naming_it(command, tmp_path):
    tree = build_tree(tmp_path / "tree", views=4, objects=RENDERED_SHAPE)
    extra = ["--board", tmp_path / "board", "--label", "x"] if command == "publish" else []
    result = subprocess.run(
        [sys.executable, BENCHMARKS / "sie_mrr.py", command, tmp_path / "nowhere",
         "--data", tree, *extra],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"{tmp_path / 'nowhere'}/")
    assert line.endswith("not found") or "not a readable config" in line


def test_a_trained_run_is_calibrated_refitted_and_published(tmp_path):
    """Its calibration reports the MRR `iebench evaluate` records; refit trains fresh heads;
    publish evaluates it where it lies and puts it on a board under the label given."""
    # Pose-only factors, as the mini track's: a board requires no colour task of such a tree.
    spec = FactorSpec.named("pose-only")
    tree = build_tree(tmp_path / "tree", views=4, objects=RENDERED_SHAPE, spec=spec)
    run, results = tmp_path / "run", tmp_path / "results.json"
    command = [sys.executable, "-m", "iebench"]
    subprocess.run(
        [*command, "train", "sie", "--data", tree, "--out", run, "--epochs", "2",
         "--batch-size", "8", "--resolution", "32", "--width", "8", "--projector", "32-32-32",
         "--workers", "0", "--quiet"],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        [*command, "evaluate", run / "submission.py", "--data", tree, "--tasks", "equivariance",
         "--out", results, "--workers", "0", "--device", "cpu", "--quiet"],
        check=True, capture_output=True,
    )  # fmt: skip
    recorded = read_results(results).scores["equivariance"]["predictor"]["mrr"].mean
    output = subprocess.run(
        [sys.executable, BENCHMARKS / "sie_mrr.py", "calibrate", run, "--data", tree],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    lines = output.splitlines()
    header = next(k for k, line in enumerate(lines) if line.startswith("run "))
    columns = ["run", "spread", "nearest", "error", "rel.", "in", "span", "MRR"]
    assert lines[header].split()[:8] == columns
    values = lines[header + 1].split()
    assert values[0] == "run"
    assert float(values[6]) == pytest.approx(recorded, abs=5e-4)
    assert "oracle MRR at relative error" in output
    refitted = subprocess.run(
        [sys.executable, BENCHMARKS / "sie_mrr.py", "refit", run, "--data", tree, "--steps", "3"],
        check=True, capture_output=True, text=True,
    ).stdout.splitlines()  # fmt: skip
    assert refitted[1].split() == ["run", "own", "MRR", "3", "steps"]
    own, after = map(float, refitted[2].split()[1:])
    assert own == pytest.approx(recorded, abs=5e-4) and 0 < after <= 1
    board = new_board(tmp_path)
    subprocess.run(
        [sys.executable, BENCHMARKS / "sie_mrr.py", "publish", run, "--data", tree,
         "--board", board, "--label", "sie tiny"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    assert "iebench evaluate run/submission.py" in (run / "submission.py").read_text()
    entries = load_board(board).entries
    assert [entry.name for entry in entries] == ["sie tiny seed 0"]
    assert read_results(run / "results.json").scores["equivariance"]["predictor"]["mrr"].mean == (
        pytest.approx(recorded, abs=1e-6)
    )
