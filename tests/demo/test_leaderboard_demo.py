"""`iebench demo` end to end at its smallest: real render, training, evaluation, board."""

from __future__ import annotations

import json

import pytest

from iebench.core.errors import IebenchError
from iebench.demo import DemoConfig, run_demo
from iebench.leaderboard import load_board
from iebench.protocol.tracks import MINI, MINI_PILOT

pytestmark = [pytest.mark.blender, pytest.mark.slow]


def test_demo_runs_every_stage_and_publishes_every_method(tmp_path):
    said: list[str] = []
    config = DemoConfig(out=tmp_path / "demo", per_class=2, views=3, epochs=1, progress=False)
    report = run_demo(config, say=said.append)

    stages = [line.split("] ")[1] for line in said if line.startswith("[")]
    assert stages[0].startswith("built-in objects: 2 per category of airplane, car, chair")
    assert stages[1].startswith("render 3 views per object (pose-only factors")
    # The runs finish in any order (2 at a time), each reported with its scores.
    assert sorted(s.split(":")[0] for s in stages[2:6]) == [
        "predict-rotation3d",
        "random-init",
        "sie",
        "vicreg",
    ]
    assert all("rotation R^2" in s for s in stages[2:6])
    assert stages[6].startswith("submit 4 results") and stages[7] == "build the board"
    entries = load_board(report.board).entries
    assert sorted(e.name for e in entries) == ["predict-rotation3d", "random-init", "sie", "vicreg"]
    assert {e.track.protocol for e in entries} == {"reference"}
    assert report.page.is_file() and report.plot.is_file()
    assert report.table.splitlines()[0] == (
        "3DIEBench-mini pilot (procedural objects, pose-only factors, 64 px), "
        "reference protocol, 64 px"
    )
    # The floors under the scores: chance MRR of 1 true view among 3 is (1 + 1/2 + 1/3) / 3;
    # H@5 (5 >= 3 views: always 1) is left out. Colour is constant on pose-only renders.
    lines = report.table.splitlines()
    header = next(line for line in lines if line.startswith("#"))
    assert "H@1" in header and "H@5" not in header
    floors = next(line for line in lines if line.lstrip().startswith("reference level"))
    assert "0.611" in floors.split() and "0.333" in floors.split()
    sie = json.loads(report.results["sie"].read_text())
    assert "equivariance" in sie["scores"]  # SIE's predictor was evaluated too
    assert sie["dataset"]["constant_tasks"] == ["colour"]
    stored = json.loads((config.out / "demo.json").read_text())
    assert stored["views"] == 3 and stored["track"]["factors"] == "pose-only"
    # The runs were trained with the track's settings.
    run = json.loads((config.out / "runs" / "sie" / "config.json").read_text())
    assert (run["width"], run["layers"], run["projector"]) == (16, [1, 1, 1, 1], [64, 64, 64])
    assert run["weights"]["equi"] == 45.0

    # A second run reuses everything: no training again, the same results.
    def scores(results):
        return {
            name: [json.loads(path.read_text())["scores"][task]["full"] for task in ("rotation",)]
            for name, path in results.items()
        }

    before = scores(report.results)
    weights = (config.out / "runs" / "sie" / "final.pth").stat().st_mtime_ns
    again = run_demo(config, say=lambda line: None)
    assert (config.out / "runs" / "sie" / "final.pth").stat().st_mtime_ns == weights
    assert scores(again.results) == before


def test_the_pilot_is_the_mini_track_at_a_smaller_size():
    """The track's settings, pinned: a change here changes the board's mini-track rows."""
    assert (MINI.per_class, MINI.views, MINI.resolution, MINI.factors) == (100, 12, 64, "pose-only")
    assert MINI.categories == ("airplane", "car", "chair", "watercraft")
    assert (MINI.width, MINI.layers, MINI.projector) == (16, (2, 2, 2, 2), (64, 64, 64))
    assert (MINI.epochs, MINI.batch_size, MINI.seeds) == (300, 32, 5)
    assert (MINI.tuning_seed, MINI.verdict_seed) == (0, 1)
    assert MINI.weights == {"sie": {"equi": 45.0}}
    assert (MINI_PILOT.per_class, MINI_PILOT.layers, MINI_PILOT.seeds) == (40, (1, 1, 1, 1), 1)
    assert {**vars(MINI_PILOT), "name": "", "per_class": 0, "layers": (), "seeds": 0} == {
        **vars(MINI),
        "name": "",
        "per_class": 0,
        "layers": (),
        "seeds": 0,
    }


def test_demo_config_is_checked_once():
    with pytest.raises(IebenchError, match="views must be >= 2, got 1; jobs must be >= 1, got 0"):
        DemoConfig(views=1, jobs=0)
    with pytest.raises(IebenchError, match="unknown method 'byol'"):
        DemoConfig(methods=("sie", "byol"))


def test_a_second_demo_into_a_running_demos_folder_is_refused(tmp_path):
    from iebench.core.locks import hold
    from iebench.demo import DEMO_LOCK_NAME

    out = tmp_path / "demo"
    out.mkdir()
    refused = pytest.raises(IebenchError, match=r"demo: another demo is running in this folder")
    with hold(out / DEMO_LOCK_NAME), refused:  # a demo running in this folder
        run_demo(DemoConfig(out=out, per_class=2, views=3, epochs=1, progress=False))
    assert sorted(path.name for path in out.iterdir()) == [DEMO_LOCK_NAME]  # nothing written
