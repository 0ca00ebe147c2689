"""`iebench leaderboard verify`: a re-run of a real evaluation passes, an edited score or a
changed encoder file is refused, and a pass is recorded in the board's verified.csv."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers.handbuilt import build_tree

from iebench.cli import cli
from iebench.core.errors import IebenchError
from iebench.evaluation.verify import VERIFIED_HEADER, verify

ENCODER = """\
import torch
from iebench.evaluation.submission import EncoderMetadata
from iebench.models.resnet import resnet18

METADATA = EncoderMetadata(name="verify probe", embedding_dim=16, resolution=32)


def build_encoder(checkpoint):
    torch.manual_seed(0)
    return resnet18(width=2, layers=(1, 1, 1, 1))
"""


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory) -> tuple[Path, Path]:
    """(The dataset, a results file of `iebench evaluate`) in a repository holding both the
    submission file (models/encoder.py) and the results (results/verify.json)."""
    base = tmp_path_factory.mktemp("verify")
    tree = build_tree(base / "3DIEBench", views=4, size=32)
    repo = base / "repo"
    (repo / "models").mkdir(parents=True)
    (repo / "models" / "encoder.py").write_text(ENCODER)
    git(repo, "init", "-q")
    git(repo, "add", "models/encoder.py")
    git(repo, "commit", "-qm", "encoder")
    out = repo / "results" / "verify.json"
    result = CliRunner().invoke(
        cli,
        ["evaluate", str(repo / "models" / "encoder.py"), "--data", str(tree),
         "--protocol", "quick", "--tasks", "classification,rotation", "--seeds", "2",
         "--workers", "0", "--device", "cpu", "--cache", str(base / "cache"), "--quiet",
         "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return tree, out


def test_a_real_evaluation_is_reproduced_exactly(evaluated):
    tree, results = evaluated
    report = verify(results, tree)  # the encoder file found from the results' repository
    assert report.passed
    assert len(report.checks) == 2 + 2  # top-1, top-5; r2, r2_per_output (full only)
    # Measured: a same-machine re-run differs by float rounding alone (8.5e-9 here): every
    # probe's randomness is seeded.
    assert report.max_difference < 1e-6
    # The floor: 0.001 of the metric's top (100 for percentages); the seed spread: 3 std.
    top1 = next(c for c in report.checks if c.metric == "top1")
    assert top1.tolerance == max(0.1, 3 * json.loads(results.read_text())["scores"][
        "classification"]["full"]["top1"]["std"])  # fmt: skip


def test_a_pass_is_recorded_on_the_board(evaluated, tmp_path):
    tree, results = evaluated
    board = tmp_path / "board"
    entry = board / "results" / "track-abc" / "verify-probe.json"
    entry.parent.mkdir(parents=True)
    shutil.copy(results, entry)
    encoder = results.parents[1] / "models" / "encoder.py"
    args = ["leaderboard", "verify", str(entry), "--data", str(tree), "--encoder", str(encoder),
            "--board", str(board)]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "verified: 4 scores within max(0.001 x metric top, 3 x recorded std)" in result.output
    rows = list(csv.reader((board / "verified.csv").open()))
    assert tuple(rows[0]) == VERIFIED_HEADER == (
        "entry", "results_sha256", "verified_at", "iebench_commit", "tolerance", "max_difference"
    )  # fmt: skip
    assert rows[1][0] == "track-abc/verify-probe.json"
    # The score nearest its tolerance: its tolerance and difference (the line passes exactly
    # when every score did).
    assert 0 <= float(rows[1][5]) < 1e-6 <= float(rows[1][4])
    assert CliRunner().invoke(cli, args).exit_code == 0
    assert len(list(csv.reader((board / "verified.csv").open()))) == 3  # appended, one header


def test_an_edited_score_is_refused_naming_it(evaluated, tmp_path):
    tree, results = evaluated
    data = json.loads(results.read_text())
    recorded = data["scores"]["rotation"]["full"]["r2"]
    recorded["mean"] += 0.05
    edited = results.parent / "edited.json"  # beside the original: same repository
    edited.write_text(json.dumps(data))
    report = verify(edited, tree)
    assert not report.passed
    assert [(c.task, c.part, c.metric) for c in report.failures] == [("rotation", "full", "r2")]
    failure = report.failures[0]
    assert failure.difference == pytest.approx(0.05, abs=1e-6)
    assert failure.line() == (
        f"rotation full r2: recorded {recorded['mean']:.4f}, re-run {failure.rerun:.4f}, "
        f"tolerance {failure.tolerance:.4f}"
    )
    result = CliRunner().invoke(
        cli, ["leaderboard", "verify", str(edited), "--data", str(tree),
              "--board", str(tmp_path / "board")]
    )  # fmt: skip
    assert result.exit_code != 0  # not a board entry: refused before the re-run
    assert "not a results file of the board" in result.output
    result = CliRunner().invoke(cli, ["leaderboard", "verify", str(edited), "--data", str(tree)])
    assert result.exit_code == 1
    assert result.output.strip() == failure.line()


def test_a_changed_encoder_file_is_refused_before_any_work(evaluated, tmp_path):
    tree, results = evaluated
    changed = tmp_path / "encoder.py"
    changed.write_text(ENCODER.replace("width=2", "width=3"))
    with pytest.raises(IebenchError, match=r"encoder\.py: its sha256 is not the encoder file"):
        verify(results, tree, submission_file=changed)
    result = CliRunner().invoke(
        cli, ["leaderboard", "verify", str(results), "--data", str(tree), "--encoder", str(changed)]
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "its sha256 is not the encoder file sha256" in result.output


def test_another_dataset_is_refused(evaluated, tmp_path):
    _, results = evaluated
    other = build_tree(tmp_path / "other", views=4, size=32, seed=1)
    with pytest.raises(IebenchError, match=r"other: dataset fingerprint \w+ is not the recorded"):
        verify(results, other)


def test_a_submitted_row_verified_on_a_real_board_is_marked(evaluated, tmp_path):
    """submit, verify --board, build: the board's row says verified and `check` passes (a
    results file of the new format on a board, end to end)."""
    tree, first = evaluated
    encoder = first.parents[1] / "models" / "encoder.py"
    results = first.parent / "board-tasks.json"  # every task a track requires
    result = CliRunner().invoke(
        cli,
        ["evaluate", str(encoder), "--data", str(tree), "--protocol", "quick",
         "--workers", "0", "--device", "cpu", "--cache", str(tmp_path / "cache"), "--quiet",
         "--out", str(results)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    board = tmp_path / "board"
    submitted = CliRunner().invoke(
        cli, ["leaderboard", "submit", str(results), "--board", str(board)]
    )
    assert submitted.exit_code == 0, submitted.output
    [entry] = (board / "results").glob("*/*.json")
    verified = CliRunner().invoke(
        cli, ["leaderboard", "verify", str(entry), "--data", str(tree), "--encoder", str(encoder),
              "--board", str(board)],
    )  # fmt: skip
    assert verified.exit_code == 0, verified.output
    built = CliRunner().invoke(cli, ["leaderboard", "build", "--board", str(board)])
    assert built.exit_code == 0, built.output
    [row] = [
        line for line in (board / "README.md").read_text().splitlines() if "verify probe" in line
    ][:1]
    assert "verified" in row
    assert CliRunner().invoke(cli, ["leaderboard", "check", str(board)]).exit_code == 0
