"""Nothing lost, nothing silently wrong in the harness: results never replaced silently,
encoder faults named, repeatable builds, resolution mismatches refused, probe epochs run."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers.integrity import encoder_file, evaluate, only_error, run

from iebench.evaluation.config import ProbeSettings
from iebench.evaluation.probes import make_probe, train_probe
from iebench.evaluation.submission import load_submission
from iebench.leaderboard.track import Track


# Point 4: a results file is never replaced silently.
def test_a_results_file_is_replaced_only_with_overwrite(rendered_tree, tmp_path):
    encoder, out = encoder_file(tmp_path), tmp_path / "results.json"
    assert evaluate(encoder, rendered_tree, out, tmp_path / "c").exit_code == 0
    before = out.read_bytes()
    line = only_error(evaluate(encoder, rendered_tree, out, tmp_path / "c", "--seeds", "2"))
    assert line == (
        f"Error: {out}: --out already exists; pass --overwrite to replace it or choose another path"
    )
    assert out.read_bytes() == before
    result = evaluate(encoder, rendered_tree, out, tmp_path / "c", "--seeds", "2", "--overwrite")
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["protocol"]["seeds"] == [0, 1]
    # The contact sheet of `preview` is a user-named result too.
    sheet = tmp_path / "sheet.png"
    assert run("preview", rendered_tree, "--out", sheet, "--count", "1").exit_code == 0
    line = only_error(run("preview", rendered_tree, "--out", sheet, "--count", "1"))
    assert "--out already exists; pass --overwrite" in line
    assert run("preview", rendered_tree, "--out", sheet, "--overwrite").exit_code == 0


# Point 6: every batch is checked against the contract as it is produced.
@pytest.mark.parametrize(
    "fault, batch, shape",
    [
        ("out[:4]", 8, "(4, 16), expected (8, 16)"),  # the probe batch has 4 rows: unseen there
        ("out[:, :8] if len(images) > 8 else out", 16, "(16, 8), expected (16, 16)"),
    ],
)
def test_encoder_faults_on_full_batches_name_the_encoder(
    rendered_tree, tmp_path, fault, batch, shape
):
    encoder = encoder_file(tmp_path, fault=fault)
    expected = (
        f"Error: {encoder}: the encoder on train objects 0..{batch // 4 - 1} ({batch} images) "
        f"returned shape {shape}"
    )
    for _ in range(2):  # the same line again: the cache is not blamed
        result = evaluate(encoder, rendered_tree, tmp_path / "r.json", tmp_path / "c",
                          "--batch-size", batch)  # fmt: skip
        assert only_error(result) == expected
    assert not list((tmp_path / "c").rglob("*.npy"))  # no shard written
    assert not (tmp_path / "r.json").exists()


# Point 7: a submission is built with seeded generators; results say which seed and commit.
def test_a_random_encoder_gives_the_same_scores_whatever_the_cache(rendered_tree, tmp_path):
    encoder = encoder_file(tmp_path)

    def run_into(cache: str, *extra) -> tuple[dict, np.ndarray]:
        """The results and the val features of a run that extracts into a fresh directory."""
        known = set((tmp_path / cache).glob("features-*"))
        out = tmp_path / f"{len(list(tmp_path.glob('*.json')))}.json"
        result = evaluate(encoder, rendered_tree, out, tmp_path / cache, *extra)
        assert result.exit_code == 0, result.output
        (directory,) = set((tmp_path / cache).glob("features-*")) - known
        return json.loads(out.read_text()), np.load(directory / "val-00000.npy")

    (first, first_features), (second, second_features) = run_into("c1"), run_into("c2")
    assert np.array_equal(first_features, second_features)
    assert first["scores"] == second["scores"]
    assert first["encoder"]["build_seed"] == 0
    assert first["encoder"]["git_commit"] is None  # not in a git repository
    other, other_features = run_into("c2", "--seed", 1)  # the seed is in the cache key
    assert other["encoder"]["build_seed"] == 1
    assert not np.array_equal(first_features, other_features)  # another seed, another encoder


def test_the_submission_repository_commit_is_recorded(tmp_path):
    repository = tmp_path / "repo"
    repository.mkdir()
    encoder = encoder_file(repository)

    def git(*args: str) -> str:
        command = ["git", "-C", str(repository), "-c", "user.name=t", "-c", "user.email=t@t"]
        return subprocess.run([*command, *args], check=True, capture_output=True, text=True).stdout

    git("init", "-q")
    assert load_submission(encoder).git_commit is None  # no commit yet
    git("add", "encoder.py")
    git("commit", "-q", "-m", "encoder")
    head = git("rev-parse", "HEAD").strip()
    assert load_submission(encoder).git_commit == head
    encoder.write_text(encoder.read_text() + "# changed\n")
    assert load_submission(encoder).git_commit == f"{head}-dirty"


# Point 9: an encoder's input resolution must be the tree's render resolution.
def test_a_resolution_mismatch_is_refused_unless_allowed(rendered_tree, tmp_path):
    encoder, out = encoder_file(tmp_path, resolution=64), tmp_path / "r.json"
    line = only_error(evaluate(encoder, rendered_tree, out, tmp_path / "c"))
    assert line == (
        f"Error: {encoder}: the encoder takes 64 px images but {rendered_tree} was rendered "
        f"at 32 px; evaluate on a 64 px render, or pass --allow-resolution-mismatch to "
        f"resize its images"
    )
    result = evaluate(encoder, rendered_tree, out, tmp_path / "c", "--allow-resolution-mismatch")
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert (data["encoder"]["resolution"], data["dataset"]["render_resolution"]) == (64, 32)
    title = Track.of(data).title({data["dataset"]["fingerprint"]: "Tiny"})
    assert title == "Tiny, quick protocol, 64 px input from a 32 px render"


def test_a_probe_trains_the_configured_epochs():
    inputs = torch.randn(10, 3, generator=torch.Generator().manual_seed(0))
    targets = torch.randint(4, (10,), generator=torch.Generator().manual_seed(1))
    counts = {"epochs": 0, "steps": 0, "callbacks": 0}

    def sample_epoch():
        counts["epochs"] += 1
        return inputs, targets

    def loss(outputs, labels):
        counts["steps"] += 1
        return F.cross_entropy(outputs, labels)

    def on_epoch():
        counts["callbacks"] += 1

    settings = ProbeSettings(epochs=7, batch_size=4)
    gen = torch.Generator().manual_seed(2)
    train_probe(make_probe(3, 4, (), gen), sample_epoch, loss, settings, gen, on_epoch)
    assert counts == {"epochs": 7, "steps": 7 * 3, "callbacks": 7}  # 3 minibatches of 10 rows
