"""predict-transform, predict-rotation3d and CARE as methods: terms, learning, reproducibility."""

import json

import pytest
import torch
from click.testing import CliRunner

from iebench.cli import cli
from iebench.core.errors import IebenchError
from iebench.evaluation.submission import load_submission
from iebench.methods.base import MethodSpec, PairBatch
from iebench.methods.care import Care
from iebench.methods.predict_rotation3d import PredictRotation3d, sign_free_quaternion_mse
from iebench.methods.predict_transform import PredictTransform
from iebench.methods.pretext import get_transform
from iebench.models.backbones import build_backbone


def spec(weights: dict[str, float], embed_dim: int = 32, seed: int = 0, **options) -> MethodSpec:
    return MethodSpec(
        embed_dim=embed_dim,
        projector=(32, 16),
        action_dim=4,
        weights=weights,
        options=options,
        seed=seed,
    )


def batch(seed: int = 0, size: int = 8) -> PairBatch:
    generator = torch.Generator().manual_seed(seed)
    quaternions = torch.nn.functional.normalize(torch.randn(size, 4, generator=generator), dim=1)
    return PairBatch(
        torch.randn(size, 3, 16, 16, generator=generator),
        torch.randn(size, 3, 16, 16, generator=generator),
        quaternions,
    )


def tiny_backbone(name: str = "resnet18-cifar") -> torch.nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return build_backbone(name, width=4)


def fit(method: torch.nn.Module, pairs: PairBatch, steps: int) -> list[float]:
    optimizer = torch.optim.Adam(method.parameters(), lr=3e-3)
    losses = []
    for _ in range(steps):
        loss, _ = method(pairs)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_predict_transform_alone_learns_its_classes():
    method = PredictTransform(
        tiny_backbone(), spec({"nce": 0.0, "transform": 1.0}, transform="vflip")
    )
    assert method.projector is None  # no unused parameters for DDP
    loss, terms = method(batch())
    assert set(terms) == {"transform"} and loss.item() == pytest.approx(terms["transform"].item())
    losses = fit(method, batch(), 25)
    assert sum(losses[-3:]) / 3 < 0.5 * sum(losses[:3]) / 3


def test_predict_transform_on_top_of_simclr_has_both_terms():
    weights = {"nce": 1.0, "transform": 0.5}
    method = PredictTransform(tiny_backbone(), spec(weights, transform="jigsaw"))
    assert method.head[-1].out_features == 24
    loss, terms = method(batch())
    assert set(terms) == {"nce", "transform"}
    expected = terms["nce"] + 0.5 * terms["transform"]
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def predict_transform(seed: int) -> PredictTransform:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # same weights for every seed: only the labels differ
        method = PredictTransform(tiny_backbone(), spec({"nce": 0.0, "transform": 1.0}, seed=seed))
    return method.eval()  # fixed BN statistics: the loss depends only on weights and labels


def test_transform_labels_are_reproducible_and_resume_with_the_weights():
    first, second = predict_transform(3), predict_transform(3)
    assert first(batch())[0] == second(batch())[0]
    # the label stream's step is saved with the weights: a copy continues where it stopped
    resumed = predict_transform(3)
    resumed.load_state_dict(first.state_dict())
    assert int(resumed.labels.step) == 1
    assert resumed(batch())[0] == first(batch())[0]
    assert predict_transform(4)(batch())[0] != predict_transform(3)(batch())[0]


def test_sign_free_quaternion_loss():
    q = torch.nn.functional.normalize(torch.randn(6, 4, generator=torch.Generator().manual_seed(1)))
    assert sign_free_quaternion_mse(q, q) == 0
    assert sign_free_quaternion_mse(-q, q) == 0
    flipped = q.clone()
    flipped[:3] *= -1
    assert sign_free_quaternion_mse(flipped, q) == 0
    assert sign_free_quaternion_mse(torch.zeros_like(q), q).item() == pytest.approx(0.25)


def test_predict_rotation3d_alone_and_with_simclr():
    alone = PredictRotation3d(tiny_backbone(), spec({"nce": 0.0, "rotation": 1.0}))
    assert alone.rotation_head[0].in_features == 64 and alone.rotation_head[-1].out_features == 4
    losses = fit(alone, batch(), 20)
    assert losses[-1] < 0.5 * losses[0]
    both = PredictRotation3d(tiny_backbone(), spec({"nce": 1.0, "rotation": 2.0}))
    loss, terms = both(batch())
    assert set(terms) == {"nce", "rotation"}
    assert loss.item() == pytest.approx((terms["nce"] + 2 * terms["rotation"]).item(), rel=1e-6)


def test_predict_rotation3d_ignores_colour_conditioning_in_the_action():
    method = PredictRotation3d(tiny_backbone(), spec({"nce": 0.0, "rotation": 1.0})).eval()
    pairs = batch()
    with_colour = PairBatch(
        pairs.first, pairs.second, torch.cat([pairs.action, torch.ones(8, 2)], 1)
    )
    assert method(pairs)[0] == method(with_colour)[0]


def test_care_shares_each_chunks_transformation_and_learns():
    weights = {"nce": 1.0, "care": 0.03}
    method = Care(tiny_backbone(), spec(weights, chunk_size=4))
    labels = method.chunk_labels(10, torch.Generator().manual_seed(0))
    assert labels.shape == (10,)
    for start in (0, 4, 8):
        assert len(set(labels[start : start + 4].tolist())) == 1
    loss, terms = method(batch())
    assert set(terms) == {"nce", "care"} and terms["care"] > 0
    assert loss.item() == pytest.approx((terms["nce"] + 0.03 * terms["care"]).item(), rel=1e-6)
    losses = fit(method, batch(), 20)
    assert sum(losses[-3:]) < sum(losses[:3])


def test_care_applies_the_chunk_transformation_to_each_view():
    # Identity backbone and projector: the loss sees the transformed views themselves.
    method = Care(
        torch.nn.Flatten(),
        spec({"nce": 1.0, "care": 1.0}, embed_dim=48, transform="vflip", chunk_size=2),
    )
    method.projector = torch.nn.Identity()
    seen = []
    method.backbone.register_forward_hook(lambda _m, inputs, _o: seen.append(inputs[0]))
    pairs = PairBatch(torch.randn(4, 3, 4, 4), torch.randn(4, 3, 4, 4), torch.zeros(4, 4))
    method(pairs)
    generator = type(method.labels)(seed=0).next_generator()  # the stream's first step
    for view, images in zip(seen, (pairs.first, pairs.second), strict=True):
        labels = method.chunk_labels(4, generator)
        expected = get_transform("vflip").apply_normalised(images, labels, method.mean, method.std)
        torch.testing.assert_close(view, expected)


def test_options_are_checked():
    weights = {"nce": 0.0, "transform": 1.0}
    with pytest.raises(IebenchError, match="unknown options chunk_size; its options are transform"):
        PredictTransform(tiny_backbone(), spec(weights, chunk_size=3))
    with pytest.raises(IebenchError, match="unknown transformation 'spin'"):
        PredictTransform(tiny_backbone(), spec(weights, transform="spin"))
    with pytest.raises(IebenchError, match="chunk_size must be an int >= 2, got 1"):
        Care(tiny_backbone(), spec({"nce": 1.0, "care": 0.01}, chunk_size=1))


def test_train_cli_passes_transform_and_backbone_through_to_the_submission(rendered_tree, tmp_path):
    run = tmp_path / "run"
    args = ["train", "predict-transform", "--data", str(rendered_tree), "--out", str(run)]
    args += ["--transform", "jigsaw", "--backbone", "eqresnet18", "--epochs", "1"]
    args += ["--batch-size", "4", "--resolution", "32", "--width", "4", "--projector", "16-16"]
    args += ["--workers", "0", "--quiet"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    config = json.loads((run / "config.json").read_text())
    assert config["backbone"] == "eqresnet18"
    assert config["options"] == {"transform": "jigsaw"}
    submission = load_submission(run / "submission.py")
    assert submission.metadata.embedding_dim == 16  # eqresnet18 width 4: 16 per rotation
    assert type(submission.encoder).__name__ == "EqResNet"
    # an option the method does not take is one clear line
    args[1] = "sie"
    args[5] = str(tmp_path / "sie")
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert "method sie: unknown options transform; its options are none" in result.output
