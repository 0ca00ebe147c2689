"""`iebench demo` end to end at its smallest: real render, training, evaluation, board."""

from __future__ import annotations

import json

import pytest

from iebench.core.errors import IebenchError
from iebench.demo import DemoConfig, run_demo
from iebench.leaderboard import load_board


def test_demo_runs_every_stage_and_publishes_both_methods(tmp_path):
    said: list[str] = []
    config = DemoConfig(out=tmp_path / "demo", per_class=2, views=3, epochs=1, progress=False)
    report = run_demo(config, say=said.append)

    stages = [line for line in said if line.startswith("[")]
    assert [line.split("] ")[1].split(" ")[0] for line in stages] == [
        "built-in",
        "render",
        "train",
        "evaluate",
        "train",
        "evaluate",
        "submit",
        "build",
    ]
    assert stages[0].startswith("[1/8") and stages[-1].startswith("[8/8")
    entries = load_board(report.board).entries
    assert sorted(e.name for e in entries) == ["sie", "vicreg"]
    assert {e.track.protocol for e in entries} == {"quick"}
    assert report.page.is_file() and report.plot.is_file()
    assert report.table.splitlines()[0] == "built-in objects (demo render), quick protocol, 64 px"
    # The floors under the scores: chance MRR of 1 true view among 3 is (1 + 1/2 + 1/3) / 3;
    # H@5 (5 >= 3 views: always 1) is left out.
    lines = report.table.splitlines()
    header = next(line for line in lines if line.startswith("#"))
    assert "H@1" in header and "H@5" not in header
    floors = next(line for line in lines if line.lstrip().startswith("reference level"))
    assert "0.611" in floors.split() and "0.333" in floors.split()
    sie = json.loads(report.results["sie"].read_text())
    assert "equivariance" in sie["scores"]  # SIE's predictor was evaluated too
    assert json.loads((config.out / "demo.json").read_text())["views"] == 3


def test_demo_config_is_checked_once():
    with pytest.raises(IebenchError, match="views must be >= 2, got 1; unknown method 'byol'"):
        DemoConfig(views=1, methods=("sie", "byol"))
