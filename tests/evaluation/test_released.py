"""The field's released checkpoints as submissions: each release's key layout, written here
from its repository's model code, loads through its baselines/ file and runs `iebench evaluate`.

The state dicts are random (no weights are downloaded). Tensors the submissions never read
(the context transformers, target encoders, online probes) are zero-stride expansions: their
shapes are the release's, their files stay small.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from helpers.handbuilt import build_tree

from iebench.cli import cli
from iebench.core.errors import IebenchError
from iebench.evaluation.submission import load_submission
from iebench.models.released import PoseRotation, quaternion_matrix
from iebench.protocol.factors import quaternion_to_matrix

BASELINES = Path(__file__).resolve().parents[2] / "baselines"
GENERATOR_SEED = 0


def batch_norm(prefix: str, channels: int, affine: bool = True) -> dict[str, tuple]:
    shapes = {f"{prefix}.weight": (channels,), f"{prefix}.bias": (channels,)} if affine else {}
    shapes.update({f"{prefix}.running_mean": (channels,), f"{prefix}.running_var": (channels,)})
    return shapes | {f"{prefix}.num_batches_tracked": ()}


def resnet18_shapes(prefix: str, shortcut_everywhere: bool) -> dict[str, tuple]:
    """ResNet-18 without fc: torchvision's (a shortcut where the shape changes) or SIE's
    reference, which EquiCaps keeps (a 1x1 shortcut in the first block of every stage)."""
    shapes = {f"{prefix}conv1.weight": (64, 3, 7, 7), **batch_norm(f"{prefix}bn1", 64)}
    channels = 64
    for stage in range(4):
        width = 64 * 2**stage
        for block in range(2):
            name = f"{prefix}layer{stage + 1}.{block}"
            inputs = channels if block == 0 else width
            shapes[f"{name}.conv1.weight"] = (width, inputs, 3, 3)
            shapes.update(batch_norm(f"{name}.bn1", width))
            shapes[f"{name}.conv2.weight"] = (width, width, 3, 3)
            shapes.update(batch_norm(f"{name}.bn2", width))
            if block == 0 and (shortcut_everywhere or stage > 0):
                shapes[f"{name}.downsample.0.weight"] = (width, inputs, 1, 1)
                shapes.update(batch_norm(f"{name}.downsample.1", width))
        channels = width
    return shapes


def linear(prefix: str, inputs: int, outputs: int, bias: bool = True) -> dict[str, tuple]:
    return {f"{prefix}.weight": (outputs, inputs)} | (
        {f"{prefix}.bias": (outputs,)} if bias else {}
    )


def mlp(prefix: str, inputs: int, hidden: int, outputs: int) -> dict[str, tuple]:
    return (
        linear(f"{prefix}.0", inputs, hidden)
        | linear(f"{prefix}.2", hidden, hidden)
        | linear(f"{prefix}.4", hidden, outputs)
    )


def equicaps_shapes(capsules: int = 32, pose: int = 9) -> dict[str, tuple]:
    """EquiCaps_3x3 (``pose=9``; EquiCaps_4x4: 16) at 256 px, ``--mlp 1111-16-32``."""
    votes = 8 * 8 * capsules
    shapes = resnet18_shapes("backbone.", shortcut_everywhere=True)
    shapes |= {
        "projector.conv_a.weight": (capsules, 512, 3, 3),
        "projector.conv_pose.weight": (capsules * pose, 512, 3, 3),
        **batch_norm("projector.bn_a", capsules),
        **batch_norm("projector.bn_pose", capsules * pose),
        "projector.fc.W1": (votes, capsules * pose, pose),
        "projector.fc.W2": (votes, capsules, pose),
        "projector.fc.b2": (1, 1, votes, capsules),
    }
    embedding = capsules * (1 + pose)
    shapes |= linear("evaluator.classifier_repr", 512, 55) | mlp(
        "evaluator.predictor_angles_repr", 1024, 1024, 4
    )
    shapes |= linear("evaluator.classifier_emb_inv", capsules, 55)
    shapes |= linear("evaluator.classifier_emb_equiv", capsules * pose, 55)
    shapes |= mlp("evaluator.predictor_angles_inv_emb", 2 * capsules, 2 * capsules, 4)
    shapes |= mlp(
        "evaluator.predictor_angles_equi_emb", 2 * capsules * pose, 2 * capsules * pose, 4
    )
    shapes |= {
        "evaluator.classifier_emb_inv_caps.W2": (capsules, 55, pose),
        "evaluator.classifier_emb_inv_caps.b2": (1, 1, capsules, 55),
    }
    shapes |= linear("evaluator.classifier_emb", embedding, 55)
    return shapes | mlp("evaluator.predictor_angles_emb", 2 * embedding, 2 * embedding, 4)


def seq_jepa_shapes(layers: int = 3, action: int = 4, projected: int = 128) -> dict[str, tuple]:
    """SeqJEPA_Transforms on 3DIEBench (rotation): EMA, learnt action embedding, 3 layers,
    4 heads, predictor hidden 1024, with main_transformed_views.py's online probes."""
    width = 512 + projected
    shapes = resnet18_shapes("encoder.", False) | resnet18_shapes("target_encoder.", False)
    shapes |= linear("action_proj.0", action, projected, bias=False)
    shapes |= batch_norm("action_proj.1", projected, affine=False)
    shapes["agg_token"] = (1, 1, width)
    for layer in range(layers):
        name = f"transformer_encoder.transformer_encoder.layers.{layer}"
        shapes |= {
            f"{name}.self_attn.in_proj_weight": (3 * width, width),
            f"{name}.self_attn.in_proj_bias": (3 * width,),
        }
        shapes |= linear(f"{name}.self_attn.out_proj", width, width)
        shapes |= linear(f"{name}.linear1", width, 4 * width)
        shapes |= linear(f"{name}.linear2", 4 * width, width)
        shapes |= {f"{name}.norm{n}.{p}": (width,) for n in (1, 2) for p in ("weight", "bias")}
    shapes |= {f"transformer_encoder.norm.{p}": (width,) for p in ("weight", "bias")}
    shapes |= linear("predictor.0", width + projected, 1024, bias=False)
    shapes |= batch_norm("predictor.1", 1024) | linear("predictor.3", 1024, 512)
    return shapes | linear("online_linprobe.0", width, 55) | mlp("online_equiprobe", 1024, 1024, 4)


def contextssl_shapes(layers: int = 3, width: int = 2048) -> dict[str, tuple]:
    """BranchNetwork from README's training command: projection_dim 512, n_layer 3,
    n_embd 2048, linear equivariance probe, 6-d action (quaternion + 2 colour deltas)."""
    shapes = resnet18_shapes("enc.", False) | linear("equiv_linear", 512, 6)
    shapes |= linear("predictor._read_in", 512 + 6, width)
    shapes |= linear("predictor._read_out", width, 512)
    for layer in range(layers):
        name = f"predictor.transformer.h.{layer}"
        shapes |= {f"{name}.ln_{n}.{p}": (width,) for n in (1, 2) for p in ("weight", "bias")}
        shapes |= linear(f"{name}.attn.c_attn", width, 3 * width)
        shapes |= linear(f"{name}.attn.c_proj", width, width)
        shapes |= linear(f"{name}.mlp.c_fc", width, 4 * width)
        shapes |= linear(f"{name}.mlp.c_proj", 4 * width, width)
    shapes |= {f"predictor.transformer.ln_f.{p}": (width,) for p in ("weight", "bias")}
    return shapes | mlp("aug_predictor", 512, 1024, 6) | mlp("rel_aug_predictor", 1024, 1024, 6)


def random_state(shapes: dict[str, tuple], read: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """Seeded values for the keys under the ``read`` prefixes; one value expanded for the rest."""
    generator = torch.Generator().manual_seed(GENERATOR_SEED)
    state = {}
    for key, shape in shapes.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(7)
        elif not key.startswith(read):
            state[key] = torch.full((1,) * len(shape), 0.01).expand(shape)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=generator) + 0.5
        else:  # small enough that 18 layers of it stay finite
            state[key] = torch.randn(shape, generator=generator) * 0.05
    return state


# file -> (the release's layout, what the submission reads, how the release saves it)
RELEASES = {
    "equicaps.py": (equicaps_shapes, ("backbone.", "projector."), "ddp-training"),
    "equicaps-capsules.py": (equicaps_shapes, ("backbone.", "projector."), "ddp-bare"),
    "seq-jepa.py": (seq_jepa_shapes, ("encoder.",), "training"),
    "contextssl.py": (contextssl_shapes, ("enc.",), "bare"),
}


def save_release(path: Path, shapes: dict[str, tuple], read: tuple[str, ...], how: str) -> dict:
    state = random_state(shapes, read)
    saved = {f"module.{k}": v for k, v in state.items()} if how.startswith("ddp") else state
    if how == "ddp-training":  # EquiCaps main.py: model.pth
        saved = {"epoch": 2000, "model": saved, "optimizer": {"state": {}, "param_groups": []}}
    elif how == "training":  # seq-JEPA main_transformed_views.py
        saved = {"model": saved, "optimizer": {}, "min_loss": 0.1, "epoch": 1000, "run_id": "r"}
    torch.save(saved, path)
    return state


@pytest.fixture(scope="module")
def releases(tmp_path_factory) -> dict[str, tuple[Path, dict]]:
    folder = tmp_path_factory.mktemp("releases")
    saved = {}
    for name, (shapes, read, how) in RELEASES.items():
        path = folder / name.replace(".py", ".pth")
        saved[name] = (path, save_release(path, shapes(), read, how))
    return saved


def test_the_layouts_are_the_releases():
    """torchvision's resnet18().state_dict() has 122 entries, 120 without fc; SIE's reference
    ResNet-18 adds a shortcut to layer1.0 (6 more)."""
    assert len(resnet18_shapes("", shortcut_everywhere=False)) == 120
    assert len(resnet18_shapes("", shortcut_everywhere=True)) == 126
    assert equicaps_shapes()["projector.fc.W1"] == (2048, 288, 9)
    assert seq_jepa_shapes()["predictor.0.weight"] == (1024, 768)
    assert contextssl_shapes()["predictor._read_in.weight"] == (2048, 518)


@pytest.mark.parametrize("name", RELEASES)
def test_each_release_loads_its_weights(releases, name):
    path, state = releases[name]
    submission = load_submission(BASELINES / name, checkpoint=path)
    prefix = RELEASES[name][1][0]
    backbone = getattr(submission.encoder, "backbone", submission.encoder)
    loaded = backbone.state_dict()
    assert len(loaded) == len([k for k in state if k.startswith(prefix)])
    for key, value in loaded.items():
        torch.testing.assert_close(value, state[prefix + key], rtol=0, atol=0)
    if name == "equicaps-capsules.py":
        for key, value in submission.encoder.projector.state_dict().items():
            torch.testing.assert_close(value, state[f"projector.{key}"], rtol=0, atol=0)


def sie_checkpoint(path: Path) -> None:
    """An official SIE model.pth: backbone under ``module.backbone.*`` too, but no capsules."""
    shapes = resnet18_shapes("backbone.", shortcut_everywhere=True)
    shapes |= linear("predictor.hypernet.net.0", 4, 1024 * 1024, bias=False)
    state = random_state(shapes, ("backbone.",))
    torch.save({"epoch": 1, "model": {f"module.{k}": v for k, v in state.items()}}, path)


WRONG = {
    "an SIE checkpoint": (
        "equicaps.py",
        sie_checkpoint,
        r"not a EquiCaps checkpoint \(no projector\.conv_pose\.weight, projector\.fc\.W1;",
    ),
    "seq-JEPA's weights": (
        "contextssl.py",
        lambda p: torch.save(random_state(seq_jepa_shapes(), ("encoder.",)), p),
        r"not a ContextSSL checkpoint \(no predictor\._read_in\.weight, enc\.conv1\.weight;",
    ),
    "ContextSSL's weights": (
        "seq-jepa.py",
        lambda p: torch.save(random_state(contextssl_shapes(), ("enc.",)), p),
        r"not a seq-JEPA checkpoint \(no agg_token, encoder\.conv1\.weight;",
    ),
    "EquiCaps_4x4 (4x4 poses)": (
        "equicaps-capsules.py",
        lambda p: torch.save(random_state(equicaps_shapes(pose=16), ("backbone.",)), p),
        r"the capsule projector does not fit: shape \(checkpoint vs model\) "
        r"projector\.conv_pose\.weight \(512, 512, 3, 3\) vs \(288, 512, 3, 3\)",
    ),
    "a backbone key missing": (
        "equicaps.py",
        lambda p: torch.save(
            {
                k: v
                for k, v in random_state(equicaps_shapes(), ()).items()
                if "layer4.1.bn2" not in k
            },
            p,
        ),
        r"the backbone does not fit: missing backbone\.layer4\.1\.bn2\.weight",
    ),
    "not a checkpoint": (
        "seq-jepa.py",
        lambda p: p.write_text("<html>403 Forbidden</html>"),
        r"not a readable torch checkpoint",
    ),
}


@pytest.mark.parametrize("case", WRONG)
def test_a_checkpoint_of_another_layout_is_one_line_naming_the_file(tmp_path, case):
    name, write, message = WRONG[case]
    path = tmp_path / "downloaded.pth"
    write(path)
    with pytest.raises(IebenchError, match=message) as error:
        load_submission(BASELINES / name, checkpoint=path)
    assert str(error.value).startswith(f"{BASELINES / name}: build_encoder: {path}: ")
    assert "\n" not in str(error.value)


def test_quaternion_matrix_is_scipys_and_pinned():
    half = math.sqrt(0.5)
    quarter_turn_z = torch.tensor([[0.0, 0.0, half, half]])
    expected = torch.tensor([[[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]])
    torch.testing.assert_close(quaternion_matrix(quarter_turn_z), expected)
    torch.testing.assert_close(quaternion_matrix(-quarter_turn_z), expected)  # q and -q
    half_turn_x = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    torch.testing.assert_close(
        quaternion_matrix(half_turn_x), torch.diag(torch.tensor([1.0, -1, -1]))[None]
    )
    quaternions = np.random.default_rng(0).normal(size=(16, 4))
    quaternions /= np.linalg.norm(quaternions, axis=1, keepdims=True)
    torch.testing.assert_close(
        quaternion_matrix(torch.from_numpy(quaternions)),
        torch.from_numpy(quaternion_to_matrix(quaternions)),
    )


def test_pose_rotation_rotates_every_capsule_pose_on_the_right():
    """EquiCaps's equivariance: the source poses times R_src^-1 R_target, each normalised."""
    generator = torch.Generator().manual_seed(3)
    features = torch.randn(5, 320, generator=generator)
    q = torch.nn.functional.normalize(torch.randn(5, 4, generator=generator), dim=1)
    rotation = PoseRotation()
    predicted = rotation.predict(rotation.project(features), q)
    poses = features[:, 32:].reshape(5, 32, 3, 3)
    by_hand = torch.einsum("bkij,bjl->bkil", poses, quaternion_matrix(q))
    by_hand = by_hand / by_hand.norm(dim=(-2, -1), keepdim=True)
    torch.testing.assert_close(predicted, by_hand.reshape(5, -1))
    # A target whose poses are exactly the rotated source's is predicted exactly.
    target = torch.cat(
        [features[:, :32], (poses @ quaternion_matrix(q)[:, None]).reshape(5, -1)], dim=1
    )
    torch.testing.assert_close(predicted, rotation.project(target))
    identity = torch.tensor([[0.0, 0.0, 0.0, 1.0]]).expand(5, 4)
    torch.testing.assert_close(
        rotation.predict(rotation.project(features), identity), rotation.project(features)
    )


def test_capsule_routing_matches_the_self_routing_equations(releases):
    """SR-CapsNet's routing written out per vote v = (position p, input capsule i):
    vote_vj = W1_v pose_v, r_v = softmax_j(W2_v pose_v + b2_v), a_j = sum_v a_v r_vj / sum_v a_v,
    pose_j = sum_v a_v r_vj vote_vj / sum_v a_v r_vj; pose_v is channels i*9..i*9+8 at p."""
    path, _ = releases["equicaps-capsules.py"]
    encoder = load_submission(BASELINES / "equicaps-capsules.py", checkpoint=path).encoder
    projector = encoder.projector.double()
    with torch.no_grad():
        projector.fc.W2.normal_(0, 0.1, generator=torch.Generator().manual_seed(1))
        feature_map = torch.rand(2, 512, 8, 8, dtype=torch.float64)
        activations, poses = projector(feature_map)
        a = torch.sigmoid(projector.bn_a(projector.conv_a(feature_map))).flatten(2)  # (b, i, p)
        u = projector.bn_pose(projector.conv_pose(feature_map)).reshape(2, 32, 9, 64)  # b i c p
        w1 = projector.fc.W1.reshape(64, 32, 32, 9, 9)  # p i j d c
        w2 = projector.fc.W2.reshape(64, 32, 32, 9)  # p i j c
        votes = torch.einsum("pijdc,bicp->bpijd", w1, u)
        logits = torch.einsum("pijc,bicp->bpij", w2, u) + projector.fc.b2.reshape(64, 32, 32)
        weights = a.permute(0, 2, 1)[..., None] * torch.softmax(logits, dim=-1)  # b p i j
        expected_a = weights.sum((1, 2)) / a.sum((1, 2))[:, None]
        expected_pose = (
            torch.einsum("bpij,bpijd->bjd", weights, votes) / weights.sum((1, 2))[..., None]
        )
    torch.testing.assert_close(activations, expected_a)
    torch.testing.assert_close(poses, expected_pose.reshape(2, -1))


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return build_tree(tmp_path_factory.mktemp("tree") / "3DIEBench", views=4)


@pytest.mark.parametrize("name", RELEASES)
def test_evaluate_runs_end_to_end_on_each_release(releases, tree, tmp_path, name):
    path, _ = releases[name]
    out = tmp_path / "results.json"
    result = CliRunner().invoke(
        cli,
        [
            "evaluate",
            str(BASELINES / name),
            "--checkpoint",
            str(path),
            "--data",
            str(tree),
            "--protocol",
            "quick",
            "--workers",
            "0",
            "--cache",
            str(tmp_path / "cache"),
            "--out",
            str(out),
            "--allow-resolution-mismatch",  # 128 / 256 px releases on the 32 px tree
        ],  # fmt: skip
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    results = json.loads(out.read_text())
    assert results["encoder"]["name"] == name.removesuffix(".py")
    expected = {"classification", "rotation", "colour"}
    if name == "equicaps-capsules.py":
        expected.add("equivariance")
        assert set(results["scores"]["equivariance"]["predictor"]) >= {"mrr", "h@1", "pre"}
    assert set(results["scores"]) == expected
