"""Every script under benchmarks/ imports and answers -h; those that fit in seconds run on a
hand-built tree (the others render with Blender, or need the official SIE code)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.handbuilt import build_tree

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
SCRIPTS = sorted(path.name for path in BENCHMARKS.glob("*.py"))


def run_script(name: str, *args: object, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python benchmarks/<name> args`` on one torch thread; fails the test on a non-zero exit."""
    command = [sys.executable, str(BENCHMARKS / name), *map(str, args)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_every_script_is_listed():
    assert SCRIPTS == [
        "evaluate.py",
        "loader.py",
        "parity_official.py",
        "presets_downstream.py",
        "real_objects.py",
        "render.py",
        "render_memory.py",
        "sie_mrr.py",
        "sie_vs_vicreg.py",
        "train.py",
    ]


@pytest.mark.parametrize("name", SCRIPTS)
def test_a_script_imports_and_answers_help(name):
    """benchmarks/evaluate.py once failed here with an ImportError (a helper it imported had
    moved), so the evaluation speed-up could not be measured again."""
    result = run_script(name, "-h")
    assert result.stdout.startswith(f"usage: {name} ")
    assert "-h, --help" in result.stdout


def test_the_evaluation_benchmark_measures_a_ratio_on_a_tiny_tree(tmp_path):
    tree = build_tree(tmp_path / "tree", views=3)
    output = run_script("evaluate.py", "--data", tree, "--resolution", "32").stdout
    assert "4 train / 2 val objects x 3 views; ResNet-18 at 32 px; protocol quick" in output
    assert "straightforward: " in output and "(200 backbone images, train only)" in output
    assert "measured ratio: " in output and "projected ratio, 300 epochs" in output


def test_the_loader_benchmark_measures_every_loader_on_a_tiny_tree(tmp_path):
    tree = build_tree(tmp_path / "tree", views=3)
    output = run_script(
        "loader.py", "--data", tree, "--resolution", "32", "--seconds", "0.05", "--rounds", "1",
        "--batch-size", "2",
    ).stdout  # fmt: skip
    assert "4 objects x 3 views, images 32x32, output 32 px" in output
    assert "packing 12 views took" in output
    ratios = re.findall(r"^(\w.*?) +\d+ +(\d+\.\d\d)x$", output, re.MULTILINE)
    assert [name.split(" (")[0] for name, _ in ratios] == [  # no DCT scaling at full size
        "straightforward",
        "iebench, JPEG",
        "iebench, packed cache",
        "iebench, packed cache, uint8 out",
    ]
    assert ratios[0][1] == "1.00"


def test_the_training_benchmark_times_each_variant_on_a_tiny_model():
    output = run_script(
        "train.py", "--width", "8", "--resolution", "32", "--batch-size", "4", "--steps", "1",
        "--warmup", "1", "--rounds", "1", "--device", "cpu",
    ).stdout  # fmt: skip
    assert output.startswith("sie, ResNet width 8, 32 px, batch 4 pairs, CPU")
    assert "fp32 " in output and "fp32 channels-last" in output and "x1.00" in output
