"""Official SIE checkpoints in iebench: the key layout, the predictor's sign conversion."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from iebench.cli import cli
from iebench.methods import build_method
from iebench.models.resnet import resnet18
from iebench.training.config import TrainConfig
from iebench.training.export import load_encoder, load_predictor

BASELINES = Path(__file__).resolve().parents[2] / "baselines"


def official_checkpoint(path: Path) -> torch.nn.Module:
    """An SIE model with seeded weights, saved as the official training loop saves it:
    DDP's ``module.`` names, the hypernetwork's inner Sequential, the online evaluator,
    the optimizer state. Returns the model (iebench names, official weights)."""
    config = TrainConfig(method="sie", data=".", out=".").resolved()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build_method("sie", resnet18(), config.method_spec())
        for module in model.modules():  # BN statistics that are not the defaults
            if isinstance(module, torch.nn.BatchNorm1d | torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 1.5)
    state = {}
    for key, value in model.state_dict().items():
        key = key.replace("predictor.hypernet.weight", "predictor.hypernet.net.0.weight")
        state[f"module.{key}"] = value
    state["module.evaluator.classifier_repr.weight"] = torch.zeros(55, 512)
    torch.save({"epoch": 3, "model": state, "optimizer": {"state": {}, "param_groups": []}}, path)
    return model.eval()


def test_official_predictor_is_converted_to_iebench_sign(tmp_path):
    model = official_checkpoint(tmp_path / "model.pth")
    predictor = load_predictor(tmp_path / "model.pth", "sie")
    generator = torch.Generator().manual_seed(1)
    features = torch.randn(6, 512, generator=generator)
    q = torch.nn.functional.normalize(torch.randn(6, 4, generator=generator), dim=1)
    with torch.no_grad():
        embeddings = predictor.project(features)
        torch.testing.assert_close(embeddings, model.embed_equivariant(features))
        # The official predictor saw scipy <= 1.10's quaternion, -q, for the pair iebench
        # calls q: the converted one must predict for q what the original did for -q.
        torch.testing.assert_close(
            predictor.predict(embeddings, q), model.predictor(embeddings, -q), rtol=1e-5, atol=1e-5
        )
    encoder = load_encoder(tmp_path / "model.pth", width=64, layers=(2, 2, 2, 2))
    for name, value in encoder.state_dict().items():
        torch.testing.assert_close(value, model.backbone.state_dict()[name])


def test_evaluate_official_training_checkpoint_runs_every_metric(rendered_tree, tmp_path):
    """Before: the predictor needed iebench's own heads.pth beside the checkpoint."""
    official_checkpoint(tmp_path / "model.pth")
    out = tmp_path / "r.json"
    result = CliRunner().invoke(
        cli,
        [
            "evaluate",
            str(BASELINES / "sie.py"),
            "--checkpoint",
            str(tmp_path / "model.pth"),
            "--data",
            str(rendered_tree),
            "--protocol",
            "quick",
            "--workers",
            "0",
            "--tasks",
            "equivariance",
            "--cache",
            str(tmp_path / "c"),
            "--out",
            str(out),
            "--allow-resolution-mismatch",  # the 256 px baseline on the 32 px fixture
        ],  # fmt: skip
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    scores = json.loads(out.read_text())["scores"]["equivariance"]
    assert set(scores) == {"predictor", "predictor-train-train", "predictor-val-all"}
    assert set(scores["predictor"]) == {"mrr", "h@1", "h@2", "h@5", "h@10", "pre"}


def parity_module():
    """benchmarks/parity_official.py (its seeded models, inputs and iebench's side)."""
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "parity_official.py"
    spec = importlib.util.spec_from_file_location("parity_official", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# What `python benchmarks/parity_official.py --sie-repo SIE` printed for the official code
# (facebookresearch/SIE 54541cf, torch 2.13 CPU) on its seeded weights and inputs.
OFFICIAL_LOSSES = {
    "sie": {
        "inv": 0.238178164,
        "equi": 15.8346987,
        "std": 0.639921904,
        "pred_std": 8.56618281e-05,
        "cov": 11.4489231,
        "loss": 91.4869156,
    },
    "vicreg": {"inv": 0.243605047, "std": 0.638030529, "cov": 11.7254419, "loss": 20.5417976},
}
OFFICIAL_GRADIENT_NORMS = {"sie": 1751.07052, "vicreg": 336.381393}
OFFICIAL_METRICS = {
    "mrr": 0.0891592062,
    "h@1": 0.0166666667,
    "h@2": 0.0416666667,
    "h@5": 0.111666667,
    "h@10": 0.19,
    "pre": 0.758213508,
    "r2": -1.41242552,
    "top1": 0.015625,
    "top5": 0.0625,
}


@pytest.mark.parametrize("method", ["sie", "vicreg"])
def test_losses_and_gradients_equal_the_official_code(method):
    parity = parity_module()
    values, grads = parity.iebench_step(parity.seeded_model(method), parity.seeded_inputs())
    assert set(values) == set(OFFICIAL_LOSSES[method])
    # abs: a hinge near zero (pred_std, 1 - std with std ~ 1) keeps float32's absolute
    # rounding, not its relative one, and reductions round differently on other CPUs.
    for name, official in OFFICIAL_LOSSES[method].items():
        assert values[name] == pytest.approx(official, rel=1e-5, abs=1e-6), name
    assert parity.gradient_norm(grads) == pytest.approx(OFFICIAL_GRADIENT_NORMS[method], rel=1e-5)


def test_metrics_equal_the_official_scripts_without_ties():
    parity = parity_module()
    values = parity.iebench_metric_values(parity.seeded_metric_arrays())
    for name, official in OFFICIAL_METRICS.items():
        assert values[name] == pytest.approx(official, rel=1e-6, abs=1e-9), name
    arrays = parity.seeded_metric_arrays()  # the script's own official-rule implementation
    assert parity.official_rank_scores(arrays["pred"], arrays["target"])["mrr"] == pytest.approx(
        OFFICIAL_METRICS["mrr"]
    )
