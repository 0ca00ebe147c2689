"""Training on a tiny hand-built tree (the rendered test tree's shape: 8 training objects,
4 views): every method learns, runs resume exactly, bad configs are one line."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from helpers.handbuilt import build_rendered_shape
from torch import nn
from torch.utils.data import DataLoader

from iebench.cli import cli
from iebench.core.errors import IebenchError
from iebench.data.dataset import PairsDataset
from iebench.data.preprocess import to_uint8_tensor
from iebench.evaluation.submission import load_submission
from iebench.methods import METHODS, MethodSpec, PairBatch, build_method
from iebench.models.resnet import load_backbone_weights, resnet18
from iebench.protocol.factors import euler_to_matrix, relative_quaternion
from iebench.training import TrainConfig, build_model, train
from iebench.training.export import baseline_source
from iebench.training.loop import PairInputs
from iebench.training.run_files import load_torch

BASELINES = Path(__file__).resolve().parents[2] / "baselines"
# A CPU-sized model: ResNet width 8 (64-d output), 32 px, small projectors.
TINY = {"resolution": 32, "width": 8, "projector": (32, 32, 32), "workers": 0, "progress": False}
TINY_ARGS = ["--resolution", "32", "--width", "8", "--projector", "32-32-32", "--workers", "0"]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 training objects of 4 classes, 4 views each, 32 px (treat it as read-only)."""
    return build_rendered_shape(tmp_path_factory.mktemp("tree"))


def tiny_config(tree: Path, out: Path, method: str = "sie", **overrides) -> TrainConfig:
    settings = {**TINY, "epochs": 3, "batch_size": 8, **overrides}
    return TrainConfig(method=method, data=str(tree), out=str(out), **settings)


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)


def fixed_batch(tree: Path, config: TrainConfig) -> PairBatch:
    """Every training object's epoch-0 pair of views, normalised, in one batch."""
    conditioning = "colour" if config.conditioning == "rotation-colour" else None
    dataset = PairsDataset(
        tree, "train", resolution=32, conditioning=conditioning, transform=to_uint8_tensor
    )
    pair = next(iter(DataLoader(dataset, batch_size=len(dataset))))
    return PairInputs(torch.device("cpu"), channels_last=False)(pair)


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_trains_and_its_loss_falls(tree, tmp_path, method):
    # The 8 training objects in batches of 4: 2 steps per epoch, fresh view pairs each epoch.
    config = tiny_config(tree, tmp_path / method, method, epochs=2, batch_size=4)
    history = train(config).history
    assert [(row["epoch"], row["steps"]) for row in history] == [(1, 2), (2, 2)]
    terms = {name for name, weight in METHODS[method].weights.items() if weight}
    assert set(history[0]) == {"epoch", "steps", "seconds", "loss", *terms}
    assert all(math.isfinite(value) for row in history for value in row.values())
    # Ten Adam steps (the run's lr and weight decay) on one batch of real pairs.
    config = config.resolved()
    model = build_model(config)
    batch = fixed_batch(tree, config)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    losses = []
    for _ in range(11):
        loss, _ = model(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.9 * losses[0], losses


def test_run_files_and_submission(tree, tmp_path):
    run = train(tiny_config(tree, tmp_path / "run", epochs=2)).run
    stored = json.loads((run / "config.json").read_text())
    assert stored["method"] == "sie" and stored["projector"] == [32, 32, 32]
    assert stored["weights"] == {
        "inv": 10.0,
        "equi": 4.5,
        "std": 10.0,
        "pred_std": 10.0,
        "cov": 1.0,
    }
    assert stored["equivariant_dims"] == 32 and stored["precision"] == "fp32"
    log = (run / "log.csv").read_text().splitlines()
    assert log[0] == "epoch,steps,seconds,loss,inv,equi,std,pred_std,cov" and len(log) == 3
    assert [row["epoch"] for row in json.loads((run / "log.json").read_text())] == [1, 2]
    # final.pth is backbone-only, in the layout of official final weights.
    backbone = resnet18(width=8)
    load_backbone_weights(backbone, run / "final.pth")
    assert set(weights(run / "final.pth")) == set(backbone.state_dict())
    # The run's own submission file: its sizes, its split, its projector and predictor.
    submission = load_submission(run / "submission.py")
    assert submission.metadata.embedding_dim == 64
    assert submission.metadata.invariant_dims == (0, 32)
    assert submission.metadata.equivariant_dims == (32, 64)
    saved = load_torch(run / "heads.pth")
    heads = saved["heads"]
    # The heads' settings name the run's folders without this machine's (committed heads are
    # published): outside a repository, by their names.
    assert (saved["config"]["data"], saved["config"]["out"]) == (tree.name, "run")
    assert str(tmp_path) not in str(saved)
    predictor = submission.predictor
    assert torch.equal(
        predictor.method.predictor.hypernet.weight, heads["predictor.hypernet.weight"]
    )
    features = submission.encoder(torch.zeros(2, 3, 32, 32))
    identity = torch.tensor([[0.0, 0.0, 0.0, 1.0]] * 2)
    assert predictor.predict(predictor.project(features), identity).shape == (2, 16)
    # The reference-size baseline file names the file that fits this run.
    with pytest.raises(IebenchError, match="submission.py instead"):
        load_submission(BASELINES / "sie.py", checkpoint=run / "final.pth")


@pytest.mark.parametrize("method", list(METHODS))
def test_baseline_files_are_the_template(method):
    path = BASELINES / f"{method}.py"
    assert path.read_text() == baseline_source(method), (
        f"{path} is stale: regenerate it with iebench.training.export.write_baselines"
    )


def test_bad_configs_are_one_clear_line(tree, tmp_path):
    with pytest.raises(IebenchError, match="unknown loss weights nce"):
        train(tiny_config(tree, tmp_path / "a", weights={"nce": 1.0}))
    with pytest.raises(IebenchError, match="8 training objects, fewer than the batch size 16"):
        train(tiny_config(tree, tmp_path / "b", batch_size=16))
    with pytest.raises(IebenchError, match="multiple of 32"):
        train(tiny_config(tree, tmp_path / "c", resolution=40))
    with pytest.raises(IebenchError, match="split file missing"):
        train(tiny_config(tmp_path, tmp_path / "d"))
    assert not (tmp_path / "d").exists()  # nothing written: a corrected run starts afresh
    result = CliRunner().invoke(
        cli,
        [
            "train",
            "sie",
            "--data",
            str(tree),
            "--out",
            str(tmp_path / "e"),
            "--weight",
            "cov=x",
        ],
    )
    assert result.exit_code == 1 and "--weight 'cov=x': expected NAME=VALUE" in result.output


def test_resume_after_a_kill_matches_the_uninterrupted_run(tree, tmp_path):
    epochs = 8
    uninterrupted = train(tiny_config(tree, tmp_path / "whole", epochs=epochs))
    killed = tmp_path / "killed"
    command = [sys.executable, "-m", "iebench", "train", "sie", "--data", str(tree),
               "--out", str(killed), "--epochs", str(epochs), "--batch-size", "8", "--quiet",
               *TINY_ARGS]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, env=env)
    checkpoint = killed / "checkpoint.pth"
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    done = load_torch(checkpoint)["epoch"]
    assert 1 <= done < epochs, "the run was not interrupted"
    assert not (killed / "final.pth").exists()

    # A plain restart refuses to overwrite; another config cannot resume this run.
    config = tiny_config(tree, killed, epochs=epochs)
    with pytest.raises(IebenchError, match="already holds a run"):
        train(config)
    with pytest.raises(IebenchError, match=r"lr: 0.001 -> 0.002"):
        train(tiny_config(tree, killed, epochs=epochs, lr=2e-3), resume=True)

    resumed = train(config, resume=True)
    assert [row["loss"] for row in resumed.history] == [
        row["loss"] for row in uninterrupted.history
    ]
    expected, got = weights(uninterrupted.run / "final.pth"), weights(killed / "final.pth")
    assert all(torch.equal(expected[key], got[key]) for key in expected)
    assert torch.equal(
        load_torch(uninterrupted.run / "heads.pth")["heads"]["predictor.hypernet.weight"],
        load_torch(killed / "heads.pth")["heads"]["predictor.hypernet.weight"],
    )

    # Resuming the finished run again writes none of its outputs (results record their
    # sha256, and torch.save need not give the same bytes twice).
    outputs = ("final.pth", "heads.pth", "submission.py")
    finished = {name: (killed / name).stat().st_mtime_ns for name in outputs}
    train(config, resume=True)
    assert {name: (killed / name).stat().st_mtime_ns for name in outputs} == finished


def pose_pairs(rng: np.random.Generator, n: int) -> PairBatch:
    """Inputs that show the pose: the flattened rotation matrix of each view plus an object code."""
    euler_i, euler_j = (rng.uniform(-np.pi / 2, np.pi / 2, (n, 3)) for _ in range(2))
    code = rng.normal(size=(n, 4))
    views = [
        np.concatenate([euler_to_matrix(e).reshape(n, 9), code], 1) for e in (euler_i, euler_j)
    ]
    action = relative_quaternion(euler_i, euler_j)
    return PairBatch(*(torch.tensor(a, dtype=torch.float32) for a in (*views, action)))


def test_sie_learns_an_equivariant_predictor_when_the_pose_is_visible():
    # On renders, a CPU-sized SIE hardly sees the pose (benchmarks/sie_vs_vicreg.py); here the
    # input shows it, and SIE's predictor must learn to use the action.
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    info = METHODS["sie"]
    spec = MethodSpec(32, (64, 64, 64), 4, dict(info.weights), equivariant_dims=16)
    backbone = nn.Sequential(nn.Linear(13, 128), nn.ReLU(), nn.Linear(128, 32))
    sie = build_method("sie", backbone, spec)
    optimizer = torch.optim.Adam(sie.parameters(), lr=1e-3)
    for _ in range(600):
        loss, _ = sie(pose_pairs(rng, 128))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    batch = pose_pairs(rng, 512)
    with torch.no_grad():
        e1 = sie.embed_equivariant(sie.backbone(batch.first))
        e2 = sie.embed_equivariant(sie.backbone(batch.second))
        error = F.mse_loss(sie.predictor(e1, batch.action), e2).item()
        shuffled = F.mse_loss(sie.predictor(e1, batch.action.roll(1, 0)), e2).item()
    assert error < 0.5 * shuffled and error < F.mse_loss(e1, e2).item()


def test_partial_last_batch_is_kept_by_default_as_the_official_loop(tree, tmp_path):
    """8 training objects in batches of 3: the official loop takes 3 steps (3, 3, 2) per
    epoch, as on the published split (41 steps of 1024, the last of 960); before, 2."""
    kept = train(tiny_config(tree, tmp_path / "keep", epochs=1, batch_size=3))
    assert kept.history[0]["steps"] == 3
    config = tiny_config(tree, tmp_path / "drop", epochs=1, batch_size=3)
    dropped = train(dataclasses.replace(config, last_batch="drop"))
    assert dropped.history[0]["steps"] == 2
    with pytest.raises(IebenchError, match="last batch of each epoch would hold 1 object"):
        train(tiny_config(tree, tmp_path / "one", epochs=1, batch_size=7))
    official = dataclasses.replace(config, covariance_divisor="batch-size").resolved()
    assert official.method_spec().covariance_rows == 3
    assert config.resolved().method_spec().covariance_rows is None


def test_an_untrained_run_is_written_once_with_the_seeds_initial_backbone(tmp_path):
    """The floor entry of the demo and the mini track: a run folder like a trained run's,
    holding the backbone a seed-3 run starts from, named random-init; never rewritten."""
    from iebench.training.loop import write_untrained_run

    config = TrainConfig(method="vicreg", data=tmp_path, out=tmp_path / "run", width=8, seed=3)
    files = write_untrained_run(config)
    assert '    name="random-init",' in files.submission.read_text().splitlines()
    weights = torch.load(files.final, map_location="cpu", weights_only=True)
    initial = build_model(config.resolved()).backbone.state_dict()
    assert weights.keys() == initial.keys()
    assert all(torch.equal(weights[key], initial[key]) for key in initial)
    written = files.final.stat().st_mtime_ns, files.submission.stat().st_mtime_ns
    write_untrained_run(config)
    assert (files.final.stat().st_mtime_ns, files.submission.stat().st_mtime_ns) == written


def test_a_run_being_written_refuses_a_second_run_into_its_folder(tree, tmp_path):
    """Two runs resumed into one folder would interleave checkpoints: the second is refused
    in one line naming the folder and the holder, and the first run's files are untouched."""
    from iebench.core.locks import hold
    from iebench.training.loop import RUN_LOCK_NAME

    config = tiny_config(tree, tmp_path / "run", method="vicreg", epochs=1)
    train(config)
    written = {path.name: path.read_bytes() for path in (tmp_path / "run").iterdir()}
    refused = pytest.raises(IebenchError, match=r"run: another training run is writing this run")
    with hold(tmp_path / "run" / RUN_LOCK_NAME), refused:  # a run writing this folder
        train(dataclasses.replace(config, epochs=2), resume=True)
    assert {path.name: path.read_bytes() for path in (tmp_path / "run").iterdir()} == written
    # Once it has ended the run resumes as usual.
    assert len(train(dataclasses.replace(config, epochs=2), resume=True).history) == 2
