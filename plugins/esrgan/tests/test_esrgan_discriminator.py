"""VGG discriminator: BasicSR VGGStyleDiscriminator keys at 128/256, (N, 1) logits at 128/192/256, norms."""

from __future__ import annotations

import pytest
import torch
from srzoo_esrgan.discriminator import VGGDiscriminator, default_channels

from srzoo import ConfigError, InputError
from srzoo.testing import check_discriminator


def basicsr_shapes(nf: int, in_ch: int, input_size: int) -> dict[str, tuple[int, ...]]:
    """BasicSR VGGStyleDiscriminator's state-dict shapes, written out from its source."""
    widths = [nf, nf * 2, nf * 4, nf * 8, nf * 8] + ([nf * 8] if input_size == 256 else [])
    shapes: dict[str, tuple[int, ...]] = {"conv0_0.weight": (nf, in_ch, 3, 3), "conv0_0.bias": (nf,)}
    prev = nf
    for i, w in enumerate(widths):
        if i > 0:
            shapes[f"conv{i}_0.weight"] = (w, prev, 3, 3)
        shapes[f"conv{i}_1.weight"] = (w, w, 4, 4)
        for k in (0, 1) if i > 0 else (1,):
            for p in ("weight", "bias", "running_mean", "running_var"):
                shapes[f"bn{i}_{k}.{p}"] = (w,)
            shapes[f"bn{i}_{k}.num_batches_tracked"] = ()
        prev = w
    shapes |= {"linear1.weight": (100, nf * 8 * 4 * 4), "linear1.bias": (100,)}
    shapes |= {"linear2.weight": (1, 100), "linear2.bias": (1,)}
    return shapes


@pytest.mark.parametrize("input_size", [128, 256])
def test_state_dict_matches_basicsr(input_size: int) -> None:
    model = VGGDiscriminator(num_feat=64, input_size=input_size)
    got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert got == basicsr_shapes(64, 3, input_size)


@pytest.mark.parametrize(("input_size", "side"), [(128, 4), (192, 6), (256, 4), (32, 1), (100, 3)])
def test_logits_shape_and_computed_flatten(input_size: int, side: int) -> None:
    torch.manual_seed(0)
    model = VGGDiscriminator(num_feat=4, input_size=input_size)
    assert model.final_side == side
    assert model.linear1.in_features == model.conv4_1.out_channels * side * side
    y = model(torch.rand(3, 3, input_size, input_size))
    assert y.shape == (3, 1) and torch.isfinite(y).all()


def test_default_channels() -> None:
    assert default_channels(64, 128) == (64, 128, 256, 512, 512)
    assert default_channels(64, 256) == (64, 128, 256, 512, 512, 512)
    assert default_channels(8, 192) == (8, 16, 32, 64, 64)


@pytest.mark.parametrize("norm", ["spectral", "none"])
def test_other_norms_have_no_batchnorm(norm: str) -> None:
    torch.manual_seed(0)
    model = VGGDiscriminator(num_feat=4, input_size=64, norm=norm, fc_features=(16, 8))
    keys = model.state_dict().keys()
    assert not any(k.startswith("bn") for k in keys)
    assert "linear3.bias" in keys and "linear4.bias" not in keys
    assert model.conv1_1.bias is not None  # no BN to absorb it
    x = torch.rand(2, 3, 64, 64, requires_grad=True)
    model(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    if norm == "spectral":
        assert any("parametrizations.weight.original" in k for k in keys)


def test_custom_channels_and_errors() -> None:
    model = VGGDiscriminator(input_size=64, channels=(4, 8, 8))
    assert model.final_side == 8 and model.linear1.in_features == 8 * 8 * 8 and not hasattr(model, "conv3_0")
    with pytest.raises(ConfigError, match="input_size"):
        VGGDiscriminator(input_size=16)
    with pytest.raises(ConfigError, match="levels"):
        VGGDiscriminator(input_size=32, channels=(4,) * 6)
    with pytest.raises(ConfigError, match="norm"):
        VGGDiscriminator(norm="layer")
    with pytest.raises(InputError, match="input_size"):
        VGGDiscriminator(num_feat=4)(torch.rand(1, 3, 96, 96))


def test_srzoo_discriminator_contract() -> None:
    check_discriminator("vgg_discriminator", input_sizes=(128, 192, 256))
