"""The reference ResNet-18: shape, initialisation, padding semantics, official checkpoints."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from iebench.core.errors import IebenchError
from iebench.models.resnet import BasicBlock, load_backbone_weights, resnet18


def _randomised(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Non-trivial weights and BN statistics, so that outputs depend on every tensor."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                noise = torch.rand(tensor.shape, generator=generator)
                tensor.copy_(noise + 0.5 if "running_var" in name else noise - 0.5)
    return model.eval()


def test_reference_shape_and_parameter_count():
    model = resnet18().eval()
    assert model.out_dim == 512
    with torch.no_grad():
        assert model(torch.randn(2, 3, 256, 256)).shape == (2, 512)
    # torchvision's ResNet-18 without fc (11,176,512) + stage 1's 1x1 conv + BN shortcut.
    assert sum(p.numel() for p in model.parameters()) == 11_176_512 + 64 * 64 + 2 * 64


def test_small_variant_keeps_the_interface():
    model = resnet18(width=8, layers=(1, 1, 1, 1)).eval()
    assert model.out_dim == 64
    with torch.no_grad():
        assert model(torch.randn(3, 3, 64, 64)).shape == (3, 64)


def test_last_bn_of_every_block_is_zero_initialised():
    model = resnet18(width=8)
    blocks = [m for m in model.modules() if isinstance(m, BasicBlock)]
    assert len(blocks) == 8
    for block in blocks:
        assert torch.all(block.bn2.weight == 0)
        assert torch.all(block.bn1.weight == 1)
    # Official key layout: a 1x1 shortcut on the first block of every stage, stage 1 included.
    keys = model.state_dict().keys()
    assert {f"layer{i}.0.downsample.0.weight" for i in range(1, 5)} <= keys
    assert not any(k.startswith(f"layer{i}.1.downsample") for i in range(1, 5) for k in keys)


def _bn(x, state, prefix):
    return F.batch_norm(
        x,
        state[prefix + "running_mean"],
        state[prefix + "running_var"],
        state[prefix + "weight"],
        state[prefix + "bias"],
        training=False,
    )


def _official_forward(state: dict, x: torch.Tensor) -> torch.Tensor:
    """The official SIE forward written out op by op from its published description."""
    x = F.conv2d(F.pad(x, (2, 3, 2, 3)), state["conv1.weight"], stride=2)
    x = F.relu(_bn(x, state, "bn1."))
    x = F.max_pool2d(F.pad(x, (0, 1, 0, 1), value=-1e4), 3, stride=2)
    for stage in range(1, 5):
        for block in range(2):
            p = f"layer{stage}.{block}."
            stride = 2 if stage > 1 and block == 0 else 1
            out = F.relu(_bn(F.conv2d(x, state[p + "conv1.weight"], padding=1), state, p + "bn1."))
            if stride == 2:
                out = F.conv2d(F.pad(out, (0, 1, 0, 1)), state[p + "conv2.weight"], stride=2)
            else:
                out = F.conv2d(out, state[p + "conv2.weight"], padding=1)
            out = _bn(out, state, p + "bn2.")
            if block == 0:
                shortcut = F.conv2d(x, state[p + "downsample.0.weight"], stride=stride)
                x = _bn(shortcut, state, p + "downsample.1.")
            x = F.relu(out + x)
    return x.mean(dim=(2, 3))


def test_forward_matches_the_official_padding_semantics():
    model = _randomised(resnet18(width=8), seed=1)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = _official_forward(model.state_dict(), x)
        torch.testing.assert_close(model(x), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("layout", ["training-checkpoint", "full-state-dict", "backbone-only"])
def test_official_checkpoint_layouts_load_with_identical_outputs(tmp_path, layout):
    trained = _randomised(resnet18(width=8), seed=2)
    backbone = trained.state_dict()
    full = {f"module.backbone.{k}": v for k, v in backbone.items()}
    full["module.projector.0.weight"] = torch.zeros(4, 64)
    saved = {
        "training-checkpoint": {"epoch": 3, "model": full, "optimizer": {}},
        "full-state-dict": full,
        "backbone-only": backbone,
    }[layout]
    path = tmp_path / "model.pth"
    torch.save(saved, path)

    fresh = resnet18(width=8).eval()
    load_backbone_weights(fresh, path)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(fresh(x), trained(x))


def test_checkpoint_that_does_not_fit_names_file_and_keys(tmp_path):
    path = tmp_path / "wide.pth"
    torch.save(resnet18(width=16).state_dict(), path)
    with pytest.raises(IebenchError, match=r"wide\.pth: checkpoint does not fit.*conv1\.weight"):
        load_backbone_weights(resnet18(width=8), path)

    state = resnet18(width=8).state_dict()
    del state["layer4.1.bn2.weight"]
    state["fc.weight"] = torch.zeros(1)
    torch.save(state, path)
    with pytest.raises(
        IebenchError, match=r"missing keys layer4\.1\.bn2\.weight.*unexpected keys fc"
    ):
        load_backbone_weights(resnet18(width=8), path)


def test_unreadable_checkpoint_is_one_clear_error(tmp_path):
    path = tmp_path / "junk.pth"
    path.write_text("not a checkpoint")
    with pytest.raises(IebenchError, match=r"junk\.pth: not a readable torch checkpoint"):
        load_backbone_weights(resnet18(width=8), path)
    with pytest.raises(IebenchError, match=r"absent\.pth: checkpoint file not found"):
        load_backbone_weights(resnet18(width=8), tmp_path / "absent.pth")
