"""RRDBNet: shapes at every scale, BasicSR key names, residual scaling, init, input checks, channels_last."""

from __future__ import annotations

import math

import pytest
import torch
from srzoo_esrgan.rrdbnet import RRDBNet

from srzoo import ConfigError, InputError
from srzoo.testing import check_sr_arch

TINY = {"num_feat": 8, "num_grow": 4, "num_blocks": 1}


def basicsr_keys(num_blocks: int, n_up: int) -> set[str]:
    """The state-dict keys BasicSR's RRDBNet has (conv_up3 only for x8), written out independently."""
    names = ["conv_first", "conv_body", "conv_hr", "conv_last"] + [f"conv_up{i}" for i in range(1, n_up + 1)]
    names += [f"body.{n}.rdb{k}.conv{m}" for n in range(num_blocks) for k in (1, 2, 3) for m in range(1, 6)]
    return {f"{name}.{kind}" for name in names for kind in ("weight", "bias")}


@pytest.mark.parametrize("upsampler", ["nearest", "pixelshuffle"])
@pytest.mark.parametrize("scale", [1, 2, 3, 4, 8])
def test_forward_shape_every_scale(scale: int, upsampler: str) -> None:
    torch.manual_seed(0)
    model = RRDBNet(scale=scale, upsampler=upsampler, **TINY)
    y = model(torch.rand(2, 3, 8, 12))
    assert tuple(y.shape) == (2, 3, 8 * scale, 12 * scale)
    assert torch.isfinite(y).all()


@pytest.mark.parametrize(
    ("scale", "n_up", "first_in"), [(1, 2, 48), (2, 2, 12), (3, 1, 3), (4, 2, 3), (8, 3, 3)]
)
def test_keys_are_basicsr_names(scale: int, n_up: int, first_in: int) -> None:
    model = RRDBNet(scale=scale, num_feat=8, num_grow=4, num_blocks=2)
    sd = model.state_dict()
    assert set(sd) == basicsr_keys(2, n_up)
    assert sd["conv_first.weight"].shape[1] == first_in  # x1/x2 pixel-unshuffle by 4/2 first
    assert sd["body.1.rdb3.conv5.weight"].shape == (8, 8 + 4 * 4, 3, 3)


def test_default_model_matches_basicsr_size() -> None:
    model = RRDBNet()
    assert set(model.state_dict()) == basicsr_keys(23, 2)
    assert sum(p.numel() for p in model.parameters()) == 16_697_987  # BasicSR / Real-ESRGAN x4plus


def test_pixelshuffle_up_convs_widen_by_r_squared() -> None:
    assert RRDBNet(scale=3, upsampler="pixelshuffle", **TINY).conv_up1.out_channels == 8 * 9
    model = RRDBNet(scale=8, upsampler="pixelshuffle", **TINY)
    assert [getattr(model, f"conv_up{i}").out_channels for i in (1, 2, 3)] == [32, 32, 32]
    assert not hasattr(model, "conv_up4")


def test_res_scale_is_a_constant_that_scales_residuals() -> None:
    model = RRDBNet(res_scale=0.0, **TINY)
    assert not any("scale" in k for k in model.state_dict())
    assert len(list(model.parameters())) == len(model.state_dict())
    feat = torch.randn(1, 8, 5, 5)
    # with a zero residual scale every RDB and RRDB is the identity, so the trunk passes features through
    assert torch.equal(model.body(feat), feat)
    torch.manual_seed(0)
    a = RRDBNet(res_scale=0.2, **TINY)
    torch.manual_seed(0)
    b = RRDBNet(res_scale=0.5, **TINY)
    assert not torch.allclose(a.body(feat), b.body(feat))


def test_dense_convs_use_scaled_kaiming_init() -> None:
    torch.manual_seed(0)
    model = RRDBNet(num_blocks=2)
    for m in (1, 5):
        conv = getattr(model.body[1].rdb2, f"conv{m}")
        fan_in = conv.weight[0].numel()
        expected = 0.1 * math.sqrt(2.0 / fan_in)
        assert conv.weight.std().item() == pytest.approx(expected, rel=0.03)
        assert torch.count_nonzero(conv.bias) == 0
    # convs outside the dense blocks keep PyTorch's default init (std = 1/sqrt(3 fan_in)), 10x larger
    first_std = model.conv_body.weight.std().item()
    assert first_std == pytest.approx(1 / math.sqrt(3 * 64 * 9), rel=0.03)


def test_invalid_config_and_input() -> None:
    with pytest.raises(ConfigError, match="scale 5"):
        RRDBNet(scale=5)
    with pytest.raises(ConfigError, match="upsampler"):
        RRDBNet(upsampler="bilinear")
    with pytest.raises(TypeError):
        RRDBNet(num_block=3)  # typo of num_blocks must fail, not be swallowed
    with pytest.raises(InputError, match="multiple of 4"):
        RRDBNet(scale=1, **TINY)(torch.rand(1, 3, 10, 12))


def test_channels_last_matches_contiguous() -> None:
    torch.manual_seed(0)
    model = RRDBNet(scale=2, num_feat=16, num_grow=8, num_blocks=2).eval()
    x = torch.rand(1, 3, 12, 16)
    with torch.no_grad():
        ref = model(x)
        model = model.to(memory_format=torch.channels_last)
        out = model(x.contiguous(memory_format=torch.channels_last))
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert (out - ref).abs().max().item() < 1e-5


def test_gradients_with_channels_last_training() -> None:
    torch.manual_seed(0)
    model = RRDBNet(upsampler="pixelshuffle", **TINY).to(memory_format=torch.channels_last)
    x = torch.rand(2, 3, 6, 6).contiguous(memory_format=torch.channels_last).requires_grad_()
    model(x).square().mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_srzoo_arch_contract() -> None:
    check_sr_arch("rrdbnet")  # every declared scale via the registry, with the declared test kwargs
