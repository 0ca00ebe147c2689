"""Results anyone can check: no machine paths, the iebench commit, the portable command line;
the schema refuses a file with provenance whose paths are absolute or climb out with '..'."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from helpers.handbuilt import build_tree
from helpers.leaderboard_helpers import OLD_RESULTS

from iebench.cli import cli
from iebench.core.repository import portable_path
from iebench.evaluation.run import portable_command
from iebench.evaluation.submission import iebench_commit
from iebench.protocol.results import _COMMIT, read_results, schema_problems

ENCODER = """\
import torch
from iebench.evaluation.submission import EncoderMetadata
from iebench.models.resnet import resnet18

METADATA = EncoderMetadata(name="provenance probe", embedding_dim=16, resolution=32)


def build_encoder(checkpoint):
    model = resnet18(width=2, layers=(1, 1, 1, 1))
    model.load_state_dict(torch.load(checkpoint, weights_only=True))
    return model
"""


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        check=True,
        capture_output=True,
    )


def test_a_results_file_records_no_machine_path(tmp_path, monkeypatch):
    from iebench.models.resnet import resnet18

    tree = build_tree(tmp_path / "3DIEBench", views=4, size=32)
    repo = tmp_path / "repo"
    (repo / "models").mkdir(parents=True)
    (repo / "models" / "encoder.py").write_text(ENCODER)
    git(repo, "init", "-q")
    git(repo, "add", "models/encoder.py")
    git(repo, "commit", "-qm", "encoder")
    weights = tmp_path / "weights" / "final.pth"  # outside any repository
    weights.parent.mkdir()
    torch.manual_seed(0)
    torch.save(resnet18(width=2, layers=(1, 1, 1, 1)).state_dict(), weights)
    out = repo / "results.json"
    args = ["evaluate", str(repo / "models" / "encoder.py"), "--data", str(tree),
            "--checkpoint", str(weights), "--protocol", "quick", "--tasks", "rotation",
            "--workers", "0", "--device", "cpu", f"--cache={tmp_path / 'features'}", "--quiet",
            "--out", str(out)]  # fmt: skip
    monkeypatch.setattr(sys, "argv", [str(tmp_path / ".venv" / "bin" / "iebench"), *args])
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert str(tmp_path) not in text and "/tmp" not in text
    data = json.loads(text)
    encoder = data["encoder"]
    assert (encoder["file"], encoder["checkpoint"]) == ("models/encoder.py", "final.pth")
    assert data["dataset"]["root"] == "3DIEBench"
    config = data["config"]
    assert (config["data"], config["checkpoint"], config["cache_dir"]) == (
        "3DIEBench", "final.pth", "features"
    )  # fmt: skip
    assert data["provenance"]["command"] == [
        "iebench", "evaluate", "models/encoder.py", "--data", "3DIEBench", "--checkpoint",
        "final.pth", "--protocol", "quick", "--tasks", "rotation", "--workers", "0",
        "--device", "cpu", "--cache=features", "--quiet", "--out", "results.json",
    ]  # fmt: skip
    # This checkout is a git tree: its commit, "-dirty" while it has changes.
    assert data["provenance"]["iebench_commit"] == iebench_commit()
    assert _COMMIT.fullmatch(data["provenance"]["iebench_commit"])
    assert encoder["git_commit"] is not None and not encoder["git_commit"].endswith("-dirty")
    # Both R^2 definitions, each with its floor.
    assert set(data["scores"]["rotation"]["full"]) == {"r2", "r2_per_output"}
    assert set(data["reference"]["rotation"]) == {"r2", "r2_per_output"}
    assert abs(data["reference"]["rotation"]["r2_per_output"]) < 0.2
    assert read_results(out).provenance == data["provenance"]


def test_portable_paths_and_commands(tmp_path):
    assert portable_path(tmp_path / "data" / "3DIEBench") == "3DIEBench"  # no repository
    here = Path(__file__)
    assert portable_path(here) == "tests/evaluation/test_provenance.py"  # in this checkout
    assert portable_command(
        [
            "/opt/venv/bin/iebench",
            "evaluate",
            "enc.py",
            "--data",
            "/mnt/x/3DIEBench",
            "--out=../up/r.json",
            "--seeds",
            "3",
        ]
    ) == ["iebench", "evaluate", "enc.py", "--data", "3DIEBench", "--out=r.json", "--seeds", "3"]
    module_run = ["/opt/venv/lib/python3.11/site-packages/iebench/__main__.py", "evaluate", "e.py"]
    assert portable_command(module_run) == ["iebench", "evaluate", "e.py"]


def committed() -> dict:
    return json.loads(OLD_RESULTS.read_text())


def test_old_files_with_machine_paths_stay_valid():
    data = committed()
    assert data["encoder"]["file"].startswith("/home/researcher/")
    assert "provenance" not in data and schema_problems(data) == []


@pytest.mark.parametrize(
    ("section", "field", "value", "problem"),
    [
        ("encoder", "file", "/work/exp/submission.py", "an absolute path"),
        ("encoder", "checkpoint", "C:\\runs\\final.pth", "an absolute path"),
        ("dataset", "root", "../../data", "climbs out of its folder"),
        ("config", "cache_dir", "~/features", "an absolute path"),
    ],
)
def test_a_file_with_provenance_refuses_machine_paths(section, field, value, problem):
    data = committed()
    data["encoder"].update(file="runs/sie/submission.py", checkpoint="runs/sie/final.pth")
    data["dataset"]["root"] = "tree"
    data["config"].update(data="tree", cache_dir="features")
    data["provenance"] = {"iebench_commit": "ab" * 20, "command": ["iebench", "evaluate"]}
    assert schema_problems(data) == []
    data[section][field] = value
    problems = schema_problems(data)
    assert len(problems) == 1 and problems[0].startswith(f"{section}.{field}: ")
    assert problem in problems[0]


def test_the_provenance_section_is_checked_as_untrusted_input():
    data = committed()
    data["encoder"].update(file="submission.py", checkpoint="final.pth")
    data["dataset"]["root"] = "tree"
    data["config"].update(data="tree", cache_dir="features")
    data["provenance"] = {"iebench_commit": "HEAD", "command": ["iebench", "/etc/passwd"]}
    assert schema_problems(data) == [
        "provenance.iebench_commit: expected a git commit (hex, maybe -dirty), got 'HEAD'",
        "provenance.command[1]: an absolute path '/etc/passwd' (record it relative to its "
        "repository)",
    ]
    data["provenance"] = {"iebench_commit": None, "command": ["x"] * 201, "extra": 1}
    assert schema_problems(data) == [
        "provenance.extra: unknown key",
        "provenance.command: expected a list of 1-200 strings, got "
        + repr(["x"] * 12)[:-1]
        + ",...(1005 characters)",
    ]


def test_a_runs_submission_file_names_its_folder_without_machine_paths(tmp_path):
    """A run's submission.py is committed with the board's rows: its usage line names the run
    as results do (relative to the repository holding it, else by the folder's name)."""
    from iebench.training.config import TrainConfig
    from iebench.training.export import run_submission_source

    run = tmp_path / "runs" / "sie-s0"
    run.mkdir(parents=True)
    config = TrainConfig(method="sie", data=tmp_path / "tree", out=run).resolved()
    source = run_submission_source(config)
    assert "    iebench evaluate sie-s0/submission.py\n" in source and str(tmp_path) not in source
    git(tmp_path, "init", "-q")
    source = run_submission_source(config)
    assert "    iebench evaluate runs/sie-s0/submission.py\n" in source
