"""`iebench train --log tensorboard`: the CSV's per-epoch scalars, also as TensorBoard event
files in the run folder; a one-line refusal when the tensorboard package is missing."""

from __future__ import annotations

import csv
import subprocess
import sys

import pytest
from click.testing import CliRunner
from helpers.handbuilt import build_tree
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from iebench.cli import cli

# 4 train objects of a hand-built tree, a tiny VICReg: 2 steps per epoch on CPU.
ARGS = [
    *("--resolution", "32", "--width", "8", "--projector", "16-16", "--workers", "0"),
    *("--batch-size", "2", "--epochs", "2", "--device", "cpu", "--quiet"),
]


def train(*args: str) -> str:
    result = CliRunner().invoke(cli, ["train", "vicreg", *args, *ARGS])
    assert result.exit_code == 0, result.output
    return result.output


def test_tensorboard_holds_the_csv_scalars_per_epoch(tmp_path):
    tree = build_tree(tmp_path / "tree", views=2, size=32)
    run = tmp_path / "run"
    train("--data", str(tree), "--out", str(run), "--log", "tensorboard")
    with (run / "log.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    events = EventAccumulator(str(run))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert tags == set(rows[0]) - {"epoch"}
    assert {"loss", "steps", "seconds"} <= tags
    for tag in tags:
        scalars = events.Scalars(tag)
        assert [s.step for s in scalars] == [1, 2], tag
        for scalar, row in zip(scalars, rows, strict=True):
            assert scalar.value == pytest.approx(float(row[tag]), rel=1e-6), tag
    assert [s.value for s in events.Scalars("steps")] == [2.0, 2.0]


def test_csv_is_the_default_and_writes_no_event_files(tmp_path):
    tree = build_tree(tmp_path / "tree", views=2, size=32)
    run = tmp_path / "run"
    train("--data", str(tree), "--out", str(run))
    assert (run / "log.csv").is_file() and (run / "log.json").is_file()
    assert not list(run.glob("events.out.tfevents.*"))


def test_a_missing_tensorboard_is_one_line_before_anything_is_written(tmp_path):
    tree = build_tree(tmp_path / "tree", views=2, size=32)
    run = tmp_path / "run"
    # An interpreter where `import tensorboard` fails, as without the extra.
    script = (
        "import sys; sys.modules['tensorboard'] = None\n"
        "from iebench.cli import main\n"
        f"sys.argv = ['iebench', 'train', 'vicreg', '--data', {str(tree)!r}, "
        f"'--out', {str(run)!r}, '--log', 'tensorboard', *{ARGS!r}]\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines() == [
        "Error: --log tensorboard: the tensorboard package is not installed; "
        "pip install 'iebench[tensorboard]', or use --log csv"
    ]
    assert not run.exists()
