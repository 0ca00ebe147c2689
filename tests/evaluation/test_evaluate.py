"""`iebench evaluate` end to end on a tiny rendered tree, and the harness's parts on a hand-built
tree of the same shape (8 train, 4 val objects of 4 classes, 4 views, 32 px)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from helpers.handbuilt import build_rendered_shape, build_tree
from helpers.leaderboard_helpers import edit, new_board

import iebench
from iebench.cli import cli
from iebench.core.errors import IebenchError
from iebench.evaluation import features as features_module
from iebench.evaluation.config import EvalConfig
from iebench.evaluation.metrics import r2_score
from iebench.evaluation.submission import EncoderMetadata, Submission, load_submission
from iebench.evaluation.tasks import (
    SplitData,
    equivariance,
    pair_task_targets,
    random_pairs,
    relative_rotations,
    val_pairs,
)
from iebench.leaderboard import SubmissionRejected, submit
from iebench.models.resnet import resnet18
from iebench.protocol.factors import FactorSpec, quaternion_multiply, relative_quaternion
from iebench.protocol.results import read_results, validate, write_results

ENCODER = """\
import torch
from torch import nn
from iebench.models.resnet import load_backbone_weights, resnet18
from iebench.evaluation.submission import EncoderMetadata

METADATA = EncoderMetadata(
    name="tiny", embedding_dim=32, resolution=32, invariant_dims=(0, 16), equivariant_dims=(16, 32)
)


def build_encoder(checkpoint):
    model = resnet18(width=4, layers=(1, 1, 1, 1))
    with torch.no_grad():  # fixed weights, independent of global random state
        generator = torch.Generator().manual_seed(0)
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.3 + 0.5)
    if checkpoint is not None:
        load_backbone_weights(model, checkpoint)
    return model


class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.project_layer = nn.Linear(16, 8)
        self.predict_layer = nn.Linear(12, 8)

    def project(self, features):
        return self.project_layer(features[:, 16:])

    def predict(self, embeddings, quaternions):
        return self.predict_layer(torch.cat([embeddings, quaternions], 1))


def build_predictor(checkpoint):
    torch.manual_seed(0)
    return Head()
"""


@pytest.fixture(scope="module")
def encoder_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("submission") / "tiny_encoder.py"
    path.write_text(ENCODER)
    return path


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """The rendered test tree's shape without Blender (treat it as read-only)."""
    return build_rendered_shape(tmp_path_factory.mktemp("tree"))


# The constant predictor's R^2 on the fixture tree (8 train, 4 val objects x 4 views of the
# built-in objects, generator version 2; larger built-in trees give 0.22-0.28): it depends on
# the latents alone, not the encoder.
REFERENCE_ROTATION_R2 = 0.334467


def run_cli(*args: str):
    return CliRunner().invoke(cli, ["evaluate", *map(str, args)], catch_exceptions=False)


def scores_of(path: Path) -> dict:
    return json.loads(path.read_text())["scores"]


def test_end_to_end_quick_protocol_writes_valid_results(rendered_tree, encoder_file, tmp_path):
    out = tmp_path / "results.json"
    common = ["--data", rendered_tree, "--protocol", "quick", "--workers", "0"]
    result = run_cli(encoder_file, *common, "--cache", tmp_path / "c1", "--out", out)
    assert result.exit_code == 0, result.output
    assert "classification" in result.output and "backbone in eval mode" in result.output

    results = read_results(out)  # validates the schema
    assert results.protocol["name"] == "quick"
    assert results.protocol["tasks"] == ["classification", "rotation", "colour", "equivariance"]
    assert results.protocol["probe"]["epochs"] == 10
    assert results.dataset["splits"] == {
        "train": {"objects": 8, "images": 32},
        "val": {"objects": 4, "images": 16},
    }
    assert results.encoder["has_predictor"] and results.encoder["checkpoint"] is None
    for task in ("classification", "rotation", "colour"):
        assert set(results.scores[task]) == {"full", "invariant", "equivariant"}
    assert 0 <= results.scores["classification"]["full"]["top1"].mean <= 100
    assert set(results.scores["equivariance"]["predictor"]) == {
        "mrr",
        "h@1",
        "h@2",
        "h@5",
        "h@10",
        "pre",
    }
    assert results.config["protocol"] == "quick"
    # The floors: 4 classes in train and val; MRR and H@k of 1 true view among 4.
    reference = results.reference
    assert reference["classification"] == {"top1": 25.0, "top5": 100.0}
    assert reference["equivariance"] == {"mrr": pytest.approx(25 / 48), "h@1": 0.25, "h@2": 0.5}
    assert reference["rotation"]["r2"] == pytest.approx(REFERENCE_ROTATION_R2, abs=1e-6)
    assert abs(reference["colour"]["r2"]) < 0.2
    lines = result.output.splitlines()
    header = next(line for line in lines if line.startswith("task "))
    assert header.split() == [
        "task",
        "metric",
        "full",
        "invariant",
        "equivariant",
        "predictor",
        "predictor-train-train",
        "predictor-val-all",
        "reference",
    ]
    rows = {tuple(line.split()[:2]): line.split()[2:] for line in lines[lines.index(header) :]}
    assert rows[("equivariance", "mrr")][-1] == "0.521"  # the reference column
    assert rows[("classification", "top1")][-1] == "25.00"
    assert ("equivariance", "h@5") not in rows  # k >= 4 views: H@k is always 1
    assert "reference: the score of a representation that carries nothing" in result.output

    # The same run again, extracting afresh into another cache: the same numbers.
    again = tmp_path / "again.json"
    result = run_cli(encoder_file, *common, "--cache", tmp_path / "c2", "--out", again)
    assert result.exit_code == 0, result.output
    assert scores_of(again) == scores_of(out)

    # Reusing the first cache extracts nothing and still gives the same numbers.
    shards = sorted((tmp_path / "c1").glob("features-*/*.npy"))
    stamps = [p.stat().st_mtime_ns for p in shards]
    result = run_cli(
        encoder_file, *common, "--cache", tmp_path / "c1", "--out", again, "--overwrite"
    )
    assert result.exit_code == 0, result.output
    assert [p.stat().st_mtime_ns for p in shards] == stamps
    assert scores_of(again) == scores_of(out)


def test_seeds_and_task_selection(tree, encoder_file, tmp_path):
    out = tmp_path / "r.json"
    result = run_cli(
        encoder_file, "--data", tree, "--protocol", "quick", "--workers", "0",
        "--cache", tmp_path / "cache", "--tasks", "rotation", "--seeds", "2", "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    scores = scores_of(out)
    assert list(scores) == ["rotation"]
    r2 = scores["rotation"]["full"]["r2"]
    assert r2["n"] == 2 and r2["std"] > 0


BAD = {
    "syntax error": ("def build_encoder(checkpoint)\n", "syntax error at line 1"),
    "missing function": ("METADATA = None\n", "METADATA is missing"),
    "wrong output size": (
        ENCODER.replace("embedding_dim=32", "embedding_dim=64"),
        r"the encoder returned shape (4, 32), expected (4, 64)",
    ),
    "NaN output": (
        ENCODER.replace(
            "return model\n", "return nn.Sequential(model, nn.Threshold(1e9, float('nan')))\n"
        ),
        "non-finite values",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_submission_writes_no_results(tree, tmp_path, case):
    body, message = BAD[case]
    path = tmp_path / "bad.py"
    path.write_text(body)
    out = tmp_path / "results.json"
    result = run_cli(path, "--data", tree, "--protocol", "quick", "--out", out)
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {path}: ")
    assert message in result.output and result.output.count("\n") == 1
    assert not out.exists()


def test_checkpoint_that_does_not_fit_writes_no_results(tree, encoder_file, tmp_path):
    checkpoint = tmp_path / "wide.pth"
    torch.save({"epoch": 1, "model": {"module.backbone.conv1.weight": torch.zeros(1)}}, checkpoint)
    out = tmp_path / "results.json"
    result = run_cli(encoder_file, "--data", tree, "--checkpoint", checkpoint, "--out", out)
    assert result.exit_code == 1
    assert (
        "wide.pth: checkpoint does not fit the backbone: missing keys bn1.weight" in result.output
    )
    assert not out.exists()


def test_official_checkpoint_gives_the_trained_weights_features(tree, encoder_file, tmp_path):
    trained = resnet18(width=4, layers=(1, 1, 1, 1))
    with torch.no_grad():
        for parameter in trained.parameters():
            parameter.uniform_(-0.5, 0.5, generator=torch.Generator().manual_seed(3))
    full = {f"module.backbone.{k}": v for k, v in trained.state_dict().items()}
    torch.save({"epoch": 2000, "model": full, "optimizer": {}}, tmp_path / "model.pth")
    torch.save(trained.state_dict(), tmp_path / "final_weights.pth")
    loaded = [
        load_submission(encoder_file, checkpoint=tmp_path / name)
        for name in ("model.pth", "final_weights.pth")
    ]
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = trained.eval()(images)
        for submission in loaded:
            assert torch.equal(submission.encoder(images), expected)
    assert loaded[0].checkpoint_sha256 != loaded[1].checkpoint_sha256


def test_python_api_and_sharded_resumable_cache(tree, tmp_path, monkeypatch):
    metadata = EncoderMetadata(name="api", embedding_dim=32, resolution=32)
    submission = Submission.from_module(resnet18(width=4, layers=(1, 1, 1, 1)), metadata)
    config = EvalConfig(
        data=tree,
        protocol="quick",
        tasks=("classification",),
        cache_dir=tmp_path / "one",
        workers=0,
        progress=False,
    )
    whole = iebench.evaluate(submission, config)
    assert list(whole.scores["classification"]) == ["full"]

    # Shards of 3 objects read in batches of 5 views: batches straddle shard ends.
    monkeypatch.setattr(features_module, "SHARD_OBJECTS", 3)
    sharded_config = EvalConfig(
        **{**config.__dict__, "cache_dir": tmp_path / "many", "batch_size": 5}
    )
    sharded = iebench.evaluate(submission, sharded_config)
    shards = sorted((tmp_path / "many").glob("features-*/train-*.npy"))
    assert len(shards) == 3  # 8 train objects
    assert sharded.scores == whole.scores

    # An interrupted extraction resumes: only the missing shard is extracted again.
    first = shards[0].stat().st_mtime_ns
    shards[1].unlink()
    resumed = iebench.evaluate(submission, sharded_config)
    assert shards[1].is_file() and shards[0].stat().st_mtime_ns == first
    assert resumed.scores == whole.scores


def test_equivariance_task_with_an_exact_predictor(tree):
    """Features = the absolute rotation quaternion; a predictor composing it with R_0^-1 R_v
    recovers view v exactly: MRR 1 and PRE 0 in every mode (checks the rotation conventions)."""
    from iebench.data.tree import TreeIndex

    splits = {}
    for split in ("train", "val"):
        index = TreeIndex.load(tree, split)
        data = SplitData.build(index, np.zeros((index.num_objects, index.views, 4)), "cpu")
        splits[split] = dataclasses.replace(data, features=data.quaternions.float())

    class Exact:
        def project(self, features):
            return features

        def predict(self, embeddings, quaternions):
            product = quaternion_multiply(embeddings.double().numpy(), quaternions.double().numpy())
            return torch.from_numpy(product).float()

    scores = equivariance(splits, Exact())
    assert set(scores) == {"predictor", "predictor-train-train", "predictor-val-all"}
    for part in ("predictor", "predictor-train-train"):
        assert scores[part]["mrr"] == pytest.approx(1.0) and scores[part]["h@1"] == pytest.approx(
            1.0
        )
    for part in scores:
        assert scores[part]["pre"] == pytest.approx(0.0, abs=1e-6)


def test_probe_rotation_targets_are_the_pinned_relative_quaternions(tree):
    from iebench.data.tree import TreeIndex

    index = TreeIndex.load(tree, "train")
    data = SplitData.build(index, np.zeros((index.num_objects, index.views, 4)), "cpu")
    objects, i, j = (
        torch.arange(index.num_objects),
        torch.zeros(8, dtype=torch.long),
        torch.ones(8, dtype=torch.long),
    )
    ours = relative_rotations(data, objects, i, j).numpy()
    euler = index.latents[:, :, :3]
    np.testing.assert_array_equal(ours, relative_quaternion(euler[:, 0], euler[:, 1]))


def test_random_pairs_are_distinct_and_cover_all_ordered_pairs():
    i, j = random_pairs(20000, 4, torch.Generator().manual_seed(0))
    assert torch.all(i != j)
    counts = torch.bincount(i * 4 + j, minlength=16).reshape(4, 4)
    assert torch.all(counts.diagonal() == 0)
    assert counts.sum() == 20000 and counts[counts > 0].min() > 20000 / 12 * 0.85


def test_results_are_validated_on_write_and_read(tree, encoder_file, tmp_path):
    out = tmp_path / "r.json"
    result = run_cli(
        encoder_file, "--data", tree, "--protocol", "quick", "--workers", "0",
        "--tasks", "equivariance", "--cache", tmp_path / "c", "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    validate(data)
    assert list(data["scores"]) == ["equivariance"]
    # The official modes: val-val, train-train (so train features too) and PRE val-all.
    assert set(data["scores"]["equivariance"]) == {
        "predictor",
        "predictor-train-train",
        "predictor-val-all",
    }
    assert list(data["scores"]["equivariance"]["predictor-val-all"]) == ["pre"]

    broken = dict(data, scores={"rotation": {"full": {"r2": {"mean": "high"}}}})
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    with pytest.raises(IebenchError, match=r"broken\.json: invalid results: scores\.rotation"):
        read_results(tmp_path / "broken.json")
    with pytest.raises(IebenchError, match="schema_version"):
        validate(dict(data, schema_version=2))
    results = read_results(out)
    bad = results.__class__(**{**results.__dict__, "timings": {"total_s": 1.0}})
    with pytest.raises(IebenchError, match="timings.extraction_s: missing"):
        write_results(bad, tmp_path / "never.json")
    assert not (tmp_path / "never.json").exists()


def test_equivariance_needs_a_predictor(tree, tmp_path):
    path = tmp_path / "plain.py"
    path.write_text(ENCODER.split("class Head")[0])
    result = run_cli(path, "--data", tree, "--tasks", "equivariance", "--out", tmp_path / "r")
    assert result.exit_code == 1 and "needs build_predictor" in result.output


def test_config_is_validated():
    with pytest.raises(IebenchError, match="unknown protocol 'slow'.*seeds must be"):
        EvalConfig(data=Path("."), protocol="slow", seeds=0)
    with pytest.raises(IebenchError, match="unknown tasks"):
        EvalConfig(data=Path("."), tasks=("segmentation",))
    if not torch.cuda.is_available():
        with pytest.raises(IebenchError, match="device 'cuda': CUDA is not available"):
            EvalConfig(data=Path("."), device="cuda")


def test_example_runs_equivariance(tree, tmp_path):
    example = Path(__file__).resolve().parents[2] / "examples" / "my_encoder.py"
    copy = tmp_path / "my_encoder.py"
    shutil.copy(example, copy)
    out = tmp_path / "r.json"
    result = run_cli(
        copy, "--data", tree, "--protocol", "quick", "--workers", "0",
        "--tasks", "equivariance", "--cache", tmp_path / "c", "--out", out,
        "--allow-resolution-mismatch",  # a 256 px encoder on the 32 px test render
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert read_results(out).encoder["name"] == "sie-resnet18"


def test_dataset_fingerprint_follows_the_data_not_the_bookkeeping(rendered_tree, tmp_path):
    for path in [*rendered_tree.glob("*.npy"), rendered_tree / "iebench.json"]:
        shutil.copy(path, tmp_path / path.name)
    first = features_module.dataset_fingerprint(tmp_path)
    assert first == features_module.dataset_fingerprint(rendered_tree)

    manifest_path = tmp_path / "iebench.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["updated"] = "2000-01-01T00:00:00+00:00"
    manifest["blender"] = dict(manifest["blender"], build=None, device=None)  # a resumed render
    manifest_path.write_text(json.dumps(manifest))
    assert features_module.dataset_fingerprint(tmp_path) == first

    manifest["render_settings"] = dict(manifest["render_settings"], extra="changed")
    manifest_path.write_text(json.dumps(manifest))
    assert features_module.dataset_fingerprint(tmp_path) != first
    changed = features_module.dataset_fingerprint(tmp_path)
    manifest["factor_spec"] = FactorSpec.vertical_axis().to_dict()  # other factor ranges
    manifest_path.write_text(json.dumps(manifest))
    assert features_module.dataset_fingerprint(tmp_path) not in (first, changed)
    manifest_path.unlink()  # the published layout: split files only
    without = features_module.dataset_fingerprint(tmp_path)
    np.save(tmp_path / "val_labels.npy", np.load(tmp_path / "val_labels.npy")[::-1].copy())
    assert features_module.dataset_fingerprint(tmp_path) != without


COLLAPSED = """\
import torch
from torch import nn
from iebench.evaluation.submission import EncoderMetadata

METADATA = EncoderMetadata(name="collapsed", embedding_dim=8, resolution=32)


class Constant(nn.Module):
    def forward(self, images):
        return torch.ones(images.shape[0], 8)


class Ignores:
    def project(self, features):
        return features

    def predict(self, embeddings, quaternions):
        return embeddings


def build_encoder(checkpoint):
    return Constant()


def build_predictor(checkpoint):
    return Ignores()
"""


def test_collapsed_encoder_scores_at_chance_on_every_metric(tree, tmp_path):
    """Every feature equal, a predictor that ignores its input: before the tie rule this
    scored MRR = H@1 = H@k = 1.0 through `iebench evaluate`."""
    from iebench.data.tree import TreeIndex
    from iebench.protocol.factors import euler_to_quaternion

    path = tmp_path / "collapsed.py"
    path.write_text(COLLAPSED)
    out = tmp_path / "r.json"
    result = run_cli(
        path, "--data", tree, "--protocol", "quick", "--workers", "0",
        "--cache", tmp_path / "c", "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    scores = read_results(out).scores
    views = 4
    chance_mrr = np.mean(1 / np.arange(1, views + 1))
    quats = {
        split: euler_to_quaternion(TreeIndex.load(tree, split).latents[..., :3])
        for split in ("train", "val")
    }
    quats = {split: q.reshape(-1, 4) for split, q in quats.items()}
    quats["all"] = np.concatenate([quats["train"], quats["val"]])

    def chance_pre(source, targets):
        return np.mean(1 - (quats[source] @ quats[targets].T) ** 2)

    for part, split in (("predictor", "val"), ("predictor-train-train", "train")):
        got = {metric: score.mean for metric, score in scores["equivariance"][part].items()}
        assert got["mrr"] == pytest.approx(chance_mrr)
        assert got["h@1"] == pytest.approx(1 / views) and got["h@2"] == pytest.approx(2 / views)
        assert got["h@5"] == got["h@10"] == pytest.approx(1.0)
        assert got["pre"] == pytest.approx(chance_pre(split, split))
    val_all = scores["equivariance"]["predictor-val-all"]["pre"].mean
    assert val_all == pytest.approx(chance_pre("val", "all"))
    # One val object per class: a constant guess is right for 1 in 4 views.
    for part in scores["classification"].values():
        assert part["top1"].mean <= 25.0 + 1e-9
    # R^2 around one global mean rewards each output's own mean: chance is the best constant.
    val = SplitData.build(TreeIndex.load(tree, "val"), np.zeros((4, views, 1)), "cpu")
    for task in ("rotation", "colour"):
        pairs = val_pairs(task, val, 0, EvalConfig(data=Path(".")).val_pairs_per_object)
        targets = pair_task_targets(task, val, *pairs)
        best_constant = r2_score(targets.mean(0, keepdim=True).expand_as(targets), targets)
        assert scores[task]["full"]["r2"].mean <= best_constant + 1e-6


def test_a_task_the_factor_spec_fixes_is_left_out_and_not_required_on_the_board(tmp_path):
    """On a pose-only tree (floor and spot hues fixed) colour has nothing to predict: the
    default tasks leave it out, asking for it is refused before any work, the results say
    why it is missing, and the board takes them without it."""
    tree = build_tree(tmp_path / "tree", spec=FactorSpec.pose_only())
    metadata = EncoderMetadata(name="pose-only", embedding_dim=32, resolution=32)
    submission = Submission.from_module(resnet18(width=4, layers=(1, 1, 1, 1)), metadata)
    config = EvalConfig(data=tree, protocol="quick", workers=0, progress=False)
    with pytest.raises(IebenchError, match="the colour task has nothing to predict"):
        iebench.evaluate(
            submission, dataclasses.replace(config, tasks=("colour",), cache_dir=tmp_path / "c")
        )
    assert not (tmp_path / "c").exists()

    results = iebench.evaluate(submission, dataclasses.replace(config, cache_dir=tmp_path / "c"))
    assert list(results.scores) == ["classification", "rotation"]
    assert results.dataset["constant_tasks"] == ["colour"]
    path = tmp_path / "results.json"
    write_results(results, path)
    board = new_board(tmp_path)
    submit(path, board, dataset_name="pose-only tree")

    def claims(constant: list[str]):  # another encoder's file claiming other constant tasks
        def change(data: dict) -> None:
            data["dataset"]["constant_tasks"] = constant
            data["encoder"].update(name="other", file_sha256="0" * 64)

        return change

    # A file cannot waive a task its track scores, nor call a task without factors constant.
    with pytest.raises(SubmissionRejected, match=r"constant_tasks \['colour', 'rotation'\] differ"):
        submit(edit(path, claims(["colour", "rotation"])), board)
    with pytest.raises(SubmissionRejected, match="expected a list of factor tasks"):
        submit(edit(path, claims(["classification", "colour"])), board)
    # A file that lacks colour on a tree that varies it is still refused.
    edit(path, lambda data: data["dataset"].update(constant_tasks=[]))
    with pytest.raises(SubmissionRejected, match="scores.colour: missing"):
        submit(path, new_board(tmp_path / "other"))
