"""Loss pieces and method losses against hand computations on fixed tensors."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from iebench.core.errors import IebenchError
from iebench.methods import METHODS, MethodSpec, PairBatch, build_method, losses
from iebench.methods.base import HypernetworkPredictor
from iebench.models.resnet import resnet18


def test_variance_hinge_by_hand():
    x = torch.tensor([[0.0, 0.0], [2.0, 0.2]])
    # Column 0: unbiased var 2 -> std > 1 -> no penalty; column 1: var 0.02.
    expected = (0.0 + (1 - math.sqrt(0.02 + 1e-4))) / 2
    assert losses.variance_hinge(x).item() == pytest.approx(expected, rel=1e-6)


def test_covariance_penalty_by_hand():
    x = torch.tensor([[1.0, 2.0], [3.0, 0.0], [5.0, 4.0]])
    # Centred rows (-2, 0), (0, -2), (2, 2): covariance [[4, 2], [2, 4]] over n - 1 = 2.
    # Off-diagonal squares 4 + 4, divided by dim 2.
    assert losses.covariance_penalty(x).item() == pytest.approx(4.0)


def test_covariance_penalty_ignores_the_diagonal():
    x = torch.diag(torch.tensor([1.0, 2.0, 3.0]))
    x = torch.cat([x, -x])  # uncorrelated columns with zero mean
    assert losses.covariance_penalty(x).item() == pytest.approx(0.0, abs=1e-7)


@pytest.mark.parametrize("temperature", [1.0, 0.5, 0.1])
def test_info_nce_by_hand(temperature):
    a = torch.tensor([[1.0, 0.0], [0.0, 3.0]])  # norms differ: InfoNCE uses cosine similarity
    b = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    # Each row: similarity 1 with its pair, 0 with the two others (diagonal excluded).
    t = 1 / temperature
    expected = math.log(2 + math.exp(t)) - t
    assert losses.info_nce(a, b, temperature).item() == pytest.approx(expected, rel=1e-5, abs=1e-7)


def test_info_nce_matches_the_positives_then_negatives_formulation():
    generator = torch.Generator().manual_seed(0)
    a, b = torch.randn(6, 5, generator=generator), torch.randn(6, 5, generator=generator)
    n = a.shape[0]
    features = F.normalize(torch.cat([a, b]), dim=1)
    similarity = features @ features.T
    same = torch.arange(2 * n) % n
    positive_mask = (same[:, None] == same[None, :]) & ~torch.eye(2 * n, dtype=torch.bool)
    negative_mask = same[:, None] != same[None, :]
    positives = similarity[positive_mask].view(2 * n, 1)
    negatives = similarity[negative_mask].view(2 * n, -1)
    logits = torch.cat([positives, negatives], dim=1) / 0.1
    expected = F.cross_entropy(logits, torch.zeros(2 * n, dtype=torch.long))
    assert losses.info_nce(a, b, 0.1).item() == pytest.approx(expected.item(), rel=1e-5)


def test_gather_is_the_identity_in_one_process():
    x = torch.randn(3, 2)
    assert losses.gather(x) is x


def test_hypernetwork_is_linear_in_the_action_and_bias_free():
    torch.manual_seed(0)
    predictor = HypernetworkPredictor(dim=5, action_dim=4)
    z = torch.randn(3, 5)
    q1, q2 = torch.randn(3, 4), torch.randn(3, 4)
    combined = predictor(z, 2.0 * q1 - 0.5 * q2)
    assert torch.allclose(combined, 2.0 * predictor(z, q1) - 0.5 * predictor(z, q2), atol=1e-5)
    assert torch.count_nonzero(predictor(z, torch.zeros(3, 4))) == 0
    # W(q) = sum_k q_k A_k with A_k read from the hypernetwork's k-th column as (out, in).
    a = predictor.hypernet.weight.T.reshape(4, 5, 5)
    w = torch.einsum("bk,koi->boi", q1, a)
    assert torch.allclose(predictor.matrix(q1), w)
    assert torch.allclose(predictor(z, q1), (w @ z.unsqueeze(2)).squeeze(2), atol=1e-5)


def test_projector_layout():
    projector = losses.projector([4, 8, 8, 6])
    kinds = [type(layer).__name__ for layer in projector]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU"] * 2 + ["Linear"]
    assert projector[-1].bias is None and projector[-1].out_features == 6
    assert [type(layer).__name__ for layer in losses.mlp([6, 6, 2])] == ["Linear", "ReLU", "Linear"]


def test_sie_reference_sizes():
    spec = MethodSpec(
        embed_dim=512,
        projector=(2048, 2048, 2048),
        action_dim=4,
        weights=METHODS["sie"].weights,
        equivariant_dims=256,
    )
    sie = build_method("sie", resnet18(), spec)
    sizes = [layer.out_features for layer in sie.projector_inv if isinstance(layer, nn.Linear)]
    assert sizes == [1024, 1024, 1024] and sie.projector_inv[0].in_features == 256
    assert sie.projector_equi[0].in_features == 256
    assert tuple(sie.predictor.hypernet.weight.shape) == (1024 * 1024, 4)
    assert sie.predictor.hypernet.bias is None


def _spec(name: str, dim: int = 6, projector: tuple[int, ...] = (8, 8, 8)) -> MethodSpec:
    info = METHODS[name]
    return MethodSpec(
        embed_dim=dim,
        projector=projector,
        action_dim=6 if info.conditioning == "rotation-colour" else 4,
        weights=info.weights,
        temperature=0.1,
        equivariant_dims=round(dim * info.equivariant_share),
    )


def _batch(spec: MethodSpec, rows: int = 8) -> PairBatch:
    generator = torch.Generator().manual_seed(1)
    return PairBatch(
        torch.randn(rows, spec.embed_dim, generator=generator),
        torch.randn(rows, spec.embed_dim, generator=generator),
        torch.randn(rows, spec.action_dim, generator=generator),
    )


def _vic(z1, z2):
    std = (losses.variance_hinge(z1) + losses.variance_hinge(z2)) / 2
    return std, losses.covariance_penalty(z1) + losses.covariance_penalty(z2)


def test_sie_loss_is_the_weighted_sum_of_its_terms():
    torch.manual_seed(0)
    spec = _spec("sie")
    sie = build_method("sie", nn.Flatten(), spec)  # backbone = identity on (B, D) features
    batch = _batch(spec)
    loss, terms = sie(batch)
    x1, x2 = batch.first, batch.second
    i1, i2 = sie.projector_inv(x1[:, :3]), sie.projector_inv(x2[:, :3])
    e1, e2 = sie.projector_equi(x1[:, 3:]), sie.projector_equi(x2[:, 3:])
    prediction = sie.predictor(e1, batch.action)
    std, cov = _vic(torch.cat([i1, e1], 1), torch.cat([i2, e2], 1))
    expected = {
        "inv": F.mse_loss(i1, i2),
        "equi": F.mse_loss(prediction, e2),
        "std": std,
        "pred_std": losses.variance_hinge(prediction) / 2,
        "cov": cov,
    }
    assert set(terms) == set(expected)
    for name, value in expected.items():
        assert terms[name].item() == pytest.approx(value.item(), rel=1e-5), name
    total = 10 * expected["inv"] + 4.5 * expected["equi"] + 10 * std
    total = total + 10 * expected["pred_std"] + cov
    assert loss.item() == pytest.approx(total.item(), rel=1e-5)


def test_sie_variants():
    torch.manual_seed(0)
    spec = _spec("sie-no-pred-var")
    _, terms = build_method("sie-no-pred-var", nn.Flatten(), spec)(_batch(spec))
    assert "pred_std" not in terms
    spec = _spec("sie-equi-only")
    method = build_method("sie-equi-only", nn.Flatten(), spec)
    assert not hasattr(method, "projector_inv") and method.projector_equi[0].in_features == 6
    loss, terms = method(_batch(spec))
    assert set(terms) == {"equi", "std", "pred_std", "cov"}
    expected = 10 * terms["equi"] + 10 * terms["std"] + 10 * terms["pred_std"] + terms["cov"]
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    spec = _spec("sie-rot-colour")
    method = build_method("sie-rot-colour", nn.Flatten(), spec)
    assert method.predictor.hypernet.in_features == 6
    all_equivariant = dataclasses.replace(_spec("sie"), equivariant_dims=6)
    with pytest.raises(IebenchError, match="equivariant dims"):
        build_method("sie", nn.Flatten(), all_equivariant)


def test_vicreg_loss_by_hand():
    torch.manual_seed(0)
    spec = _spec("vicreg")
    method = build_method("vicreg", nn.Flatten(), spec)
    batch = _batch(spec)
    loss, terms = method(batch)
    z1, z2 = method.projector(batch.first), method.projector(batch.second)
    std, cov = _vic(z1, z2)
    expected = 10 * F.mse_loss(z1, z2) + 10 * std + cov
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert set(terms) == {"inv", "std", "cov"}


def test_contrastive_losses_by_hand():
    torch.manual_seed(0)
    spec = _spec("simclr-augself")
    method = build_method("simclr-augself", nn.Flatten(), spec)
    batch = _batch(spec)
    loss, terms = method(batch)
    nce = losses.info_nce(method.projector(batch.first), method.projector(batch.second), 0.1)
    head = method.action_head(torch.cat([batch.first, batch.second], 1))
    assert [m.out_features for m in method.action_head if isinstance(m, nn.Linear)] == [12, 12, 4]
    expected = nce + F.mse_loss(head, batch.action)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)

    spec = _spec("equimod")
    method = build_method("equimod", nn.Flatten(), spec)
    batch = _batch(spec)
    loss, _ = method(batch)
    inv = losses.info_nce(
        method.projector_inv(batch.first), method.projector_inv(batch.second), 0.1
    )
    predicted = method.predictor(method.projector_equi(batch.first), batch.action)
    equi = losses.info_nce(predicted, method.projector_equi(batch.second), 0.1)
    assert loss.item() == pytest.approx((inv + equi).item(), rel=1e-5)

    spec = _spec("sen")
    method = build_method("sen", nn.Flatten(), spec)
    batch = _batch(spec)
    loss, _ = method(batch)
    z1 = method.projector_equi(batch.first)
    predicted = method.predictor.linear(torch.cat([batch.action, z1], 1))
    expected = losses.info_nce(predicted, method.projector_equi(batch.second), 0.1)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_weights_must_name_the_terms():
    spec = MethodSpec(6, (8, 8), 4, {"inv": 1.0}, equivariant_dims=3)
    with pytest.raises(IebenchError, match="loss weights"):
        build_method("vicreg", nn.Flatten(), spec)
    with pytest.raises(IebenchError, match="unknown method"):
        build_method("byol", nn.Flatten(), spec)


def test_covariance_can_divide_by_the_configured_batch_as_the_official_code():
    x = torch.randn(10, 6, generator=torch.Generator().manual_seed(0))
    # The official code divides by its configured batch - 1 even when fewer rows are present.
    scale = ((10 - 1) / (16 - 1)) ** 2
    official = losses.covariance_penalty(x, rows=16)
    assert official.item() == pytest.approx(losses.covariance_penalty(x).item() * scale)
    assert losses.covariance_penalty(x, rows=10).item() == pytest.approx(
        losses.covariance_penalty(x).item()
    )
