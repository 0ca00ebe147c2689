"""benchmarks/sie_vs_vicreg.py without its hours of training: the options a track fixes, the
verdict's margin (the sample standard deviation of the seeds) and paired interval, and run
folders left by other code refused."""

from __future__ import annotations

import json

import pytest
from helpers.benchmarks import benchmark_script

from iebench.protocol.results import Results, Score


@pytest.fixture(scope="module")
def script():
    with benchmark_script("sie_vs_vicreg") as module:
        yield module


def test_a_track_fills_in_its_settings_and_keeps_the_others(script):
    args = script.arguments(["--track", "mini", "--jobs", "1"])
    assert (args.per_class, args.epochs, args.factors, args.seeds) == (100, 300, "pose-only", 5)
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


def scores_of(script, sie_r2, vicreg_r2) -> object:
    seeds = len(sie_r2)
    return script.Scores(
        runs={
            "sie": [results(80.0, r2, mrr=0.6) for r2 in sie_r2],
            "vicreg": [results(80.0, r2) for r2 in vicreg_r2],
        },
        others={},
        randoms=[results(30.0, 0.1)] * seeds,
        bound=results(90.0, 0.9),
        floor=0.3,
        chance_top1=25.0,
        chance_mrr=0.3,
    )


def test_the_verdicts_margin_is_the_sample_std_of_the_seeds(script, capsys):
    """SIE beats VICReg by 0.055 in each of 5 seeds whose R^2 spread by 0.03 x 1.58 (sample
    std; the population std let 0.055 pass the 2-std margin before)."""
    assert script.seed_std([0.50, 0.53, 0.56]) == pytest.approx(0.03)
    sie = (0.50, 0.53, 0.56, 0.47, 0.59)
    scores = scores_of(script, sie, [r2 - 0.055 for r2 in sie])
    assert script.verdict(scores, [(0.1, 1.0, 1.0)] * 5) == 1
    output = capsys.readouterr().out
    assert (
        "  [FAIL] SIE rotation R^2 > VICReg's by more than 2 x the seed std (0.095) in every "
        "seed: differences +0.055, +0.055, +0.055, +0.055, +0.055\n"
    ) in output
    assert output.count("[pass]") == 6 and output.endswith(
        "the claim DOES NOT HOLD on this track\n"
    )


def test_the_paired_interval_is_students_t_over_the_seeds(script):
    """The old mini-track's 3 seeds (SIE ahead by +0.083, +0.113, +0.211): mean +0.136, but
    t(0.975, 2) = 4.303 makes the interval [-0.031, +0.302], which does not exclude 0."""
    mean, low, high = script.paired_interval([0.083, 0.113, 0.211])
    assert (mean, low, high) == pytest.approx((0.135667, -0.030628, 0.301962), abs=1e-6)
    mean, low, high = script.paired_interval([0.02, 0.05, -0.01, 0.04, 0.03])
    assert (mean, low, high) == pytest.approx((0.026, -0.002585, 0.054585), abs=1e-6)


def test_fewer_than_five_seeds_or_an_interval_touching_zero_fail(script, capsys):
    """Every seed ahead by more than twice the spread, yet 3 seeds: the claim is not shown."""
    scores = scores_of(script, (0.70, 0.71, 0.72), (0.40, 0.41, 0.42))
    assert script.verdict(scores, [(0.1, 1.0, 1.0)] * 3) == 1
    output = capsys.readouterr().out
    assert "  [FAIL] at least 5 training seeds per method: 3\n" in output
    assert "[pass] SIE - VICReg rotation R^2, paired by seed: mean +0.300" in output
    # 5 seeds, SIE ahead on average but the interval reaches below 0.
    vicreg = (0.40, 0.41, 0.42, 0.43, 0.44)
    sie = [v + d for v, d in zip(vicreg, (0.02, 0.05, -0.01, 0.04, 0.03), strict=True)]
    assert script.verdict(scores_of(script, sie, vicreg), [(0.1, 1.0, 1.0)] * 5) == 1
    output = capsys.readouterr().out
    assert (
        "  [FAIL] SIE - VICReg rotation R^2, paired by seed: mean +0.026, 95% t interval "
        "[-0.003, +0.055] above 0\n"
    ) in output
    # The same with every trained method clearing the top-1 criterion and a clear gap: holds.
    sie = [v + 0.3 + d / 10 for v, d in zip(vicreg, (0.02, 0.05, -0.01, 0.04, 0.03), strict=True)]
    assert script.verdict(scores_of(script, sie, vicreg), [(0.1, 1.0, 1.0)] * 5) == 0
    assert capsys.readouterr().out.endswith("the claim holds\n")


def test_top1_is_checked_for_every_trained_method_not_the_random_init(script, capsys):
    sie = (0.70, 0.71, 0.72, 0.73, 0.74)
    scores = scores_of(script, sie, [r2 - 0.3 for r2 in sie])
    scores.others["simclr"] = [results(60.0, 0.5)] * 5  # below 3 x chance = 75
    assert script.verdict(scores, [(0.1, 1.0, 1.0)] * 5) == 1
    assert (
        "  [FAIL] top-1 of every trained method >= 3 x chance 25.0: sie min 80.0, vicreg min "
        "80.0, simclr min 60.0 (random init min 30.0)\n"
    ) in capsys.readouterr().out


def test_a_run_folder_left_by_other_code_is_refused_before_any_work(script, tmp_path):
    args = script.arguments(["--track", "mini", "--out", str(tmp_path)])
    run = tmp_path / "runs" / "tree" / "sie-s0"
    pipeline = script.Pipeline(run, [])
    script.refuse_stale_runs(args, [pipeline])  # not there yet: nothing to refuse
    run.mkdir(parents=True)
    with pytest.raises(SystemExit, match="sie-s0: made by unknown code, this is iebench "):
        script.refuse_stale_runs(args, [pipeline])
    script.run_pipeline(args, pipeline)  # stamps the folder
    script.refuse_stale_runs(args, [pipeline])
    stamp = json.loads((run / script.STAMP_NAME).read_text())
    stamp["iebench_commit"] = "0" * 40
    (run / script.STAMP_NAME).write_text(json.dumps(stamp))
    with pytest.raises(SystemExit, match=f"made by iebench {'0' * 40}, this is iebench"):
        script.refuse_stale_runs(args, [pipeline])
    stamp = script.stamp(args)
    stamp["settings"]["epochs"] = 600
    (run / script.STAMP_NAME).write_text(json.dumps(stamp))
    with pytest.raises(SystemExit, match="with other settings"):
        script.refuse_stale_runs(args, [pipeline])
    # A stamp damaged in place is no stamp: refused in one line, never a traceback.
    for damaged in (b"{not json", b"\xff\xfe", b"[1, 2]", b'{"iebench_commit": "x"}'):
        (run / script.STAMP_NAME).write_bytes(damaged)
        with pytest.raises(SystemExit, match="sie-s0: made by unknown code, this is iebench "):
            script.refuse_stale_runs(args, [pipeline])


def test_the_track_runs_its_verdict_tree_and_tunes_on_another(script, capsys):
    """Settings were chosen on dataset seed 0; the verdict's tree is seed 1."""
    assert script.arguments(["--track", "mini"]).tree_seed == 1
    assert script.arguments(["--track", "mini", "--tuning"]).tree_seed == 0
    assert script.arguments([]).tree_seed == 0
    with pytest.raises(SystemExit):
        script.arguments(["--track", "mini", "--tree-seed", "0"])
    assert "--tree-seed 0 (the track's: 1)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        script.arguments(["--track", "mini", "--tuning", "--board", "leaderboard"])
    assert capsys.readouterr().err.endswith("--tuning: tuning runs never go on a board\n")
    with pytest.raises(SystemExit):
        script.arguments(["--tuning"])
    assert capsys.readouterr().err.endswith("--tuning needs --track\n")
