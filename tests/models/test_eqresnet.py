import pytest
import torch
from torch import nn

from iebench.core.errors import IebenchError
from iebench.models.backbones import BACKBONES, build_backbone
from iebench.models.eqresnet import GROUP_ORDER, EqResNet, GroupConv, LiftingConv, eqresnet18


def rotate(x: torch.Tensor, times: int = 1) -> torch.Tensor:
    return torch.rot90(x, times, (-2, -1))


def act_on_group_maps(features: torch.Tensor) -> torch.Tensor:
    """What a 90-degree input rotation should do to p4 maps: rotate each, shift the group axis."""
    return torch.roll(rotate(features), shifts=1, dims=2)


def randomise_batch_norm(model: nn.Module, generator: torch.Generator) -> None:
    # Non-trivial statistics and affine parameters, so the check covers BN (zero-init hides it).
    for module in model.modules():
        if isinstance(module, nn.BatchNorm3d):
            size = module.num_features
            module.running_mean.copy_(torch.randn(size, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(size, generator=generator) + 0.5)
            module.weight.data.copy_(torch.randn(size, generator=generator))
            module.bias.data.copy_(torch.randn(size, generator=generator) * 0.1)


def test_lifting_conv_rotates_maps_and_shifts_group_axis():
    generator = torch.Generator().manual_seed(0)
    conv = LiftingConv(3, 5, 3)
    x = torch.randn(2, 3, 11, 11, generator=generator)
    y = conv(x)
    assert y.shape == (2, 5, GROUP_ORDER, 11, 11)
    torch.testing.assert_close(conv(rotate(x)), act_on_group_maps(y), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("kernel_size", "stride"), [(3, 1), (3, 2), (1, 2)])
def test_group_conv_is_equivariant(kernel_size, stride):
    generator = torch.Generator().manual_seed(1)
    conv = GroupConv(4, 6, kernel_size, stride)
    x = torch.randn(2, 4, GROUP_ORDER, 9, 9, generator=generator)
    y = conv(x)
    torch.testing.assert_close(
        conv(act_on_group_maps(x)), act_on_group_maps(y), rtol=1e-5, atol=1e-5
    )


def test_group_conv_is_not_trivially_invariant():
    # A genuine group conv mixes rotations: the output is not the same under every shift.
    generator = torch.Generator().manual_seed(2)
    conv = GroupConv(2, 3, 3)
    x = torch.randn(1, 2, GROUP_ORDER, 7, 7, generator=generator)
    y = conv(x)
    assert not torch.allclose(y, torch.roll(y, 1, dims=2), atol=1e-3)


@pytest.mark.parametrize(("cifar_stem", "size"), [(True, 33), (False, 65)])
def test_every_layer_is_equivariant_and_output_invariant(cifar_stem, size):
    generator = torch.Generator().manual_seed(3)
    model = EqResNet(widths=(4, 6, 8, 10), cifar_stem=cifar_stem)
    randomise_batch_norm(model, generator)
    model.eval()
    layers = [model.stem, *model.stages]
    captured: dict[int, list[torch.Tensor]] = {index: [] for index in range(len(layers))}
    for index, layer in enumerate(layers):
        layer.register_forward_hook(lambda _m, _i, out, index=index: captured[index].append(out))
    x = torch.randn(2, 3, size, size, generator=generator)
    with torch.no_grad():
        pooled = model(x)
        pooled_rotated = model(rotate(x))
    for index, (plain, rotated) in captured.items():
        assert plain.shape[-1] % 2 == 1, "sizes must stay odd for stride 2 to commute with rot90"
        torch.testing.assert_close(
            rotated, act_on_group_maps(plain), rtol=1e-4, atol=1e-4, msg=f"layer {index}"
        )
    assert pooled.shape == (2, model.out_dim) == (2, 10)
    torch.testing.assert_close(pooled_rotated, pooled, rtol=1e-4, atol=1e-4)
    for times in (2, 3):
        with torch.no_grad():
            torch.testing.assert_close(model(rotate(x, times)), pooled, rtol=1e-4, atol=1e-4)


def test_even_sizes_break_exactness_of_stride_two():
    # Documents why the test uses 2^k + 1 sides: at 32 px stride 2 samples one border only.
    generator = torch.Generator().manual_seed(4)
    conv = GroupConv(2, 2, 3, stride=2)
    x = torch.randn(1, 2, GROUP_ORDER, 8, 8, generator=generator)
    assert not torch.allclose(conv(act_on_group_maps(x)), act_on_group_maps(conv(x)), atol=1e-3)


def test_eqresnet18_default_widths_and_training_step():
    model = eqresnet18(cifar_stem=True)
    assert model.widths == (32, 64, 128, 256) and model.out_dim == 256
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(5))
    model(x).sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_without_the_rotation_max_the_output_permutes_cyclically():
    generator = torch.Generator().manual_seed(6)
    model = EqResNet(widths=(4, 4, 6, 6), cifar_stem=True, pool_rotations=False)
    randomise_batch_norm(model, generator)
    model.eval()
    x = torch.randn(2, 3, 33, 33, generator=generator)
    with torch.no_grad():
        plain = model(x).view(2, 6, GROUP_ORDER)
        rotated = model(rotate(x)).view(2, 6, GROUP_ORDER)
    assert model.out_dim == 24
    torch.testing.assert_close(rotated, torch.roll(plain, 1, dims=2), rtol=1e-4, atol=1e-4)
    assert not torch.allclose(rotated, plain, atol=1e-3)  # so a head can read the rotation


def test_every_registered_backbone_declares_its_output_size():
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(7))
    for name, info in BACKBONES.items():
        model = build_backbone(name, width=4, layers=(1, 1, 1, 1)).eval()
        with torch.no_grad():
            out = model(x)
        assert out.shape == (2, info.out_dim(4, (1, 1, 1, 1))) == (2, model.out_dim), name
    with pytest.raises(IebenchError, match="unknown backbone 'vgg'"):
        build_backbone("vgg")
    with pytest.raises(IebenchError, match="width must be even"):
        build_backbone("eqresnet18", width=5)
