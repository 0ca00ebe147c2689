"""benchmarks/sie_vs_vicreg.py without its hour of training: the options a track fixes, and the
verdict's margin (the sample standard deviation of the seeds)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from iebench.protocol.results import Results, Score

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "sie_vs_vicreg.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("sie_vs_vicreg", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["sie_vs_vicreg"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    del sys.modules["sie_vs_vicreg"]


def test_a_track_fills_in_its_settings_and_keeps_the_others(script):
    args = script.arguments(["--track", "mini", "--jobs", "1"])
    assert (args.per_class, args.epochs, args.factors, args.seeds) == (100, 300, "pose-only", 3)
    assert args.sie_weight == ["equi=45"] and args.jobs == 1
    # An option given with the track's own value is no contradiction.
    assert script.arguments(["--track", "mini", "--epochs", "300"]).epochs == 300
    plain = script.arguments(["--epochs", "5"])
    assert (plain.per_class, plain.epochs, plain.factors, plain.sie_weight) == (
        150,
        5,
        "published",
        [],
    )


def test_an_option_the_track_overrides_is_refused_in_one_line(script, capsys):
    """`--track mini --epochs 600` ran 300 epochs: the track's settings replaced it silently."""
    with pytest.raises(SystemExit) as exit_:
        script.arguments(["--track", "mini", "--epochs", "600", "--width", "16", "--views", "6"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == (
        "sie_vs_vicreg.py: error: --track mini fixes --views 6 (the track's: 12); "
        "--epochs 600 (the track's: 300); leave these out or leave out --track\n"
    )


def test_one_seed_is_refused(script, capsys):
    with pytest.raises(SystemExit):
        script.arguments(["--seeds", "1"])
    assert capsys.readouterr().err == "sie_vs_vicreg.py: error: --seeds 1: the verdict needs >= 2\n"


def results(top1: float, r2: float, mrr: float | None = None) -> Results:
    scores = {
        "classification": {"full": {"top1": Score(top1, 0.0, 1)}},
        "rotation": {"full": {"r2": Score(r2, 0.0, 1)}},
    }
    if mrr is not None:
        scores["equivariance"] = {"predictor": {"mrr": Score(mrr, 0.0, 1)}}
    return Results("0", "", {}, {}, {}, {}, scores, {})


def test_the_verdicts_margin_is_the_sample_std_of_the_seeds(script, capsys):
    """SIE beats VICReg by 0.055 in each of 3 seeds whose R^2 spread by 0.03 (sample std;
    the population std, 0.0245, let 0.055 pass the 2-std margin before)."""
    assert script.seed_std([0.50, 0.53, 0.56]) == pytest.approx(0.03)
    sie = [results(80.0, r2, mrr=0.6) for r2 in (0.50, 0.53, 0.56)]
    vicreg = [results(80.0, r2) for r2 in (0.445, 0.475, 0.505)]
    scores = script.Scores(
        runs={"sie": sie, "vicreg": vicreg},
        others={},
        randoms=[results(30.0, 0.1)] * 3,
        bound=results(90.0, 0.9),
        floor=0.3,
        chance_top1=25.0,
        chance_mrr=0.3,
    )
    errors = [(0.1, 1.0, 1.0)] * 3
    assert script.verdict(scores, errors) == 1
    output = capsys.readouterr().out
    assert (
        "  [FAIL] SIE rotation R^2 > VICReg's by more than 2 x the seed std (0.060) in every "
        "seed: differences +0.055, +0.055, +0.055\n"
    ) in output
    assert output.count("[pass]") == 4 and output.endswith(
        "the claim DOES NOT HOLD on this track\n"
    )
