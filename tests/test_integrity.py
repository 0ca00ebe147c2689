"""Nothing lost, nothing silently wrong: outputs checked before any work, results
never replaced silently, empty splits refused, encoder faults named, repeatable builds,
resumes from the stored config, resolution mismatches refused, draws pinned."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from helpers.handbuilt import build_tree

from iebench.cli import cli
from iebench.core.errors import IebenchError
from iebench.data.dataset import EpochSampler, PairsDataset, ViewsDataset
from iebench.data.torch_seeding import torch_generator
from iebench.data.validate import validate_tree
from iebench.demo import DemoConfig
from iebench.evaluation.config import ProbeSettings
from iebench.evaluation.probes import make_probe, train_probe
from iebench.evaluation.submission import load_submission
from iebench.evaluation.tasks import random_pairs, random_views
from iebench.leaderboard.track import Track
from iebench.protocol.layout import split_files

# A tiny encoder whose weights come from torch's global generator (nn.Linear's default
# initialisation), as a submission's usually do; FAULT post-processes the features.
ENCODER = """\
from torch import nn
from iebench.evaluation.submission import EncoderMetadata

METADATA = EncoderMetadata(name="random", embedding_dim=16, resolution={resolution})


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.linear = nn.Linear(48, 16)

    def forward(self, images):
        out = self.linear(self.pool(images).flatten(1))
        return {fault}


def build_encoder(checkpoint):
    {build}
    return Encoder()
"""
TINY_TRAIN = ["--resolution", "32", "--width", "8", "--projector", "32-32-32", "--quiet"]


def encoder_file(
    directory: Path, resolution: int = 32, fault: str = "out", build: str = "pass"
) -> Path:
    path = directory / "encoder.py"
    path.write_text(ENCODER.format(resolution=resolution, fault=fault, build=build))
    return path


def run(*args) -> object:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def evaluate(encoder: Path, data: Path, out: Path, cache: Path, *extra) -> object:
    return run(
        "evaluate", encoder, "--data", data, "--out", out, "--cache", cache,
        "--protocol", "quick", "--tasks", "classification", "--workers", "0", *extra,
    )  # fmt: skip


def only_error(result) -> str:
    """The one line a refused command prints (after any progress bar, which goes to stderr)."""
    assert result.exit_code == 1 and result.output.count("Error: ") == 1, result.output
    line = "Error: " + result.output.split("Error: ")[1].rstrip("\n")
    assert "\n" not in line, result.output
    return line


# Point 3: wrong-kind output paths are refused before any work, by every command.
@pytest.mark.parametrize(
    "command, kind",
    [
        ("evaluate", "directory"),
        ("train", "file"),
        ("pack", "file"),
        ("preview", "directory"),
        ("demo", "file"),
        ("render", "file"),
        ("study", "file"),
    ],
)
def test_outputs_of_the_wrong_kind_are_refused_before_any_work(
    rendered_tree, tmp_path, command, kind
):
    out = tmp_path / "taken"
    out.mkdir() if kind == "directory" else out.write_text("keep me\n")
    arguments = {
        "evaluate": ["evaluate", encoder_file(tmp_path), "--data", rendered_tree,
                     "--cache", tmp_path / "cache", "--workers", "0"],
        "train": ["train", "sie", "--data", rendered_tree, *TINY_TRAIN],
        "pack": ["pack", rendered_tree],
        "preview": ["preview", rendered_tree],
        "demo": ["demo"],
        "render": ["render", "--views", "2", "--per-class", "1", "--synsets", "car"],
        "study": ["study", "transformations", "--data", rendered_tree],
    }[command]  # fmt: skip
    line = only_error(run(*arguments, "--out", out))
    assert line == f"Error: {out}: --out is an existing {kind}; " + (
        "name a file to write" if kind == "directory" else "name a directory"
    )
    assert not (tmp_path / "cache").exists()  # evaluate extracted nothing
    assert kind == "directory" or out.read_text() == "keep me\n"
    if kind == "file":  # an output under a file cannot be written either
        line = only_error(run(*arguments, "--out", out / "inner" / "x"))
        assert line.endswith(f"--out lies under {out}, which is a file")


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


# Point 5: an empty split is refused up front by validate, pack, evaluate and the demo.
def test_an_empty_split_is_refused_up_front(tmp_path):
    tree = build_tree(tmp_path / "tree", views=3)
    files = split_files(tree, "val")  # as a render of one object per class leaves it
    np.save(files.images, np.array([], dtype="<U1"))
    np.save(files.labels, np.array([], dtype=np.int64))
    np.save(files.latents, np.zeros((0, 7)))
    expected = (
        f"{files.images}: split 'val' has no objects; render at least 2 objects per "
        f"category (e.g. --per-class 2) so that both splits get some"
    )

    report = validate_tree(tree)
    assert not report.ok and report.problems == [f"{files.images}: the val split is empty"]

    assert only_error(run("pack", tree)) == f"Error: {expected}"
    assert not (tree / "packed").exists() or not list((tree / "packed").iterdir())

    marker = tmp_path / "built"
    encoder = encoder_file(tmp_path, build=f"open({str(marker)!r}, 'w').close()")
    assert only_error(evaluate(encoder, tree, tmp_path / "r.json", tmp_path / "c")) == (
        f"Error: {expected}"
    )
    assert not marker.exists()  # refused before the encoder was built

    with pytest.raises(IebenchError, match="per_class must be >= 2, got 1"):
        DemoConfig(out=tmp_path / "demo", per_class=1)


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


# Point 8: `train --resume` takes the stored config; only explicit, different options refused.
def test_resume_alone_takes_the_stored_config(rendered_tree, tmp_path):
    out = tmp_path / "run"
    common = ["train", "sie", "--data", rendered_tree, "--out", out]
    first = run(*common, "--epochs", "1", "--batch-size", "8", "--lr", "0.002",
                "--workers", "0", *TINY_TRAIN)  # fmt: skip
    assert first.exit_code == 0, first.output
    resumed = run(*common, "--resume", "--epochs", "2")
    assert resumed.exit_code == 0, resumed.output
    stored = json.loads((out / "config.json").read_text())
    assert (stored["epochs"], stored["batch_size"], stored["lr"]) == (2, 8, 0.002)
    assert stored["workers"] == 0 and stored["progress"] is False
    line = only_error(
        run(
            *common,
            "--resume",
            "--epochs",
            "3",
            "--lr",
            "0.002",
            "--width",
            "16",
            "--batch-size",
            "4",
            "--resolution",
            "32",
        )  # fmt: skip
    )
    assert line.endswith(
        "the run was started with another config; cannot resume with "
        "batch_size: 8 -> 4; width: 8 -> 16"
    )


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


# Point 10: the draws of fixed keys are pinned; the configured probe epochs are run.
def test_pair_and_view_draws_are_pinned(tmp_path):
    tree = build_tree(tmp_path / "tree")  # 4 train objects, 5 views
    pairs = PairsDataset(tree, "train", seed=0)
    assert [pairs.locate((0, k)) for k in range(4)] == [(0, 4, 0), (1, 2, 4), (2, 1, 4), (3, 2, 1)]
    assert [pairs.locate((1, k)) for k in range(4)] == [(0, 4, 2), (1, 3, 4), (2, 4, 0), (3, 1, 0)]
    pairs = PairsDataset(tree, "train", seed=7)
    assert [pairs.locate((0, k)) for k in range(4)] == [(0, 1, 2), (1, 1, 0), (2, 2, 1), (3, 0, 3)]
    views = ViewsDataset(tree, "train", seed=0, mode="random")
    assert [views.locate((e, k))[1] for e in (0, 1) for k in range(4)] == [2, 2, 0, 3, 3, 1, 3, 0]
    sampler = EpochSampler(range(12), seed=0, rank=0, world_size=1)
    assert [k for _, k in sampler] == [9, 2, 8, 3, 7, 4, 6, 11, 1, 5, 0, 10]
    sampler.set_epoch(1)
    assert [k for _, k in sampler] == [0, 11, 8, 3, 5, 9, 7, 6, 4, 2, 10, 1]
    # The evaluation's draws: scored validation pairs and the classification probe's views.
    i, j = random_pairs(6, 10, torch_generator(0, "rotation", "val"))
    assert (i.tolist(), j.tolist()) == ([1, 0, 0, 4, 6, 2], [6, 6, 9, 6, 8, 8])
    views = random_views(6, 10, torch_generator(0, "classification", "train"))
    assert views.tolist() == [8, 4, 9, 0, 7, 2]


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
