"""The CPU fast path: fused conv kernels give the unfused outputs, keep autograd, dtype moves and exports."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import srzoo
from srzoo.inference.fastpath import FusedConv2d, fuse_for_inference

CL = torch.channels_last


def _net(**kwargs: int) -> nn.Module:
    """The test-only toy_sr (tests/toyplugin): dense blocks of conv + leaky ReLU, concat, scaled residual conv."""
    torch.manual_seed(0)
    return srzoo.build_arch("toy_sr", num_feat=16, num_grow=8, num_blocks=2, **kwargs).eval()


def _fused(net: nn.Module) -> nn.Module:
    return fuse_for_inference(copy.deepcopy(net).to(memory_format=CL))


def test_fuses_every_activation_and_residual_conv() -> None:
    fused = _fused(_net())
    kinds = [(m.act, m.residual) for m in fused.modules() if isinstance(m, FusedConv2d)]
    # per dense block conv1+lrelu and conv2 + scaled residual; then conv_body + trunk skip
    assert kinds.count(("leaky_relu", False)) == 2
    assert kinds.count(("none", True)) == 2 + 1
    # conv_first, conv_up (a pixel shuffle sits before its activation), conv_last: nothing to fuse, wrapped for
    # packed weights / NNPACK all the same
    assert kinds.count(("none", False)) == 3
    assert not any(type(m) is nn.Conv2d for m in fused.modules())


@pytest.mark.parametrize("scale", [4, 2])
def test_fused_output_matches_unfused(scale: int) -> None:
    net = _net(scale=scale)
    fused = _fused(net)
    # x2 checks its input size in Python first, which torch.fx cannot trace: it runs unfused (channels_last)
    assert any(isinstance(m, FusedConv2d) for m in fused.modules()) == (scale == 4)
    x = torch.rand(2, 3, 20, 28)
    with torch.inference_mode():
        ref = net(x)
        got = fused(x.contiguous(memory_format=CL))
    assert got.shape == ref.shape
    assert (got - ref).abs().max() <= 1e-5


def test_fused_net_still_trains_through_the_reference_ops() -> None:
    net = _net()
    fused = _fused(net)
    x = torch.rand(1, 3, 12, 12)
    fused(x.contiguous(memory_format=CL)).mean().backward()
    net(x).mean().backward()
    w = dict(net.named_parameters())["body.0.conv1.weight"]
    w_fused = dict(fused.named_parameters())["body.0.conv1.weight"]
    assert w_fused.grad is not None and torch.allclose(w_fused.grad, w.grad, atol=1e-6)


def test_dtype_moves_repack_and_deepcopy_works() -> None:
    net = _net()
    fused = _fused(net)
    x = torch.rand(1, 3, 16, 16).contiguous(memory_format=CL)
    with torch.inference_mode():
        ref = net(x)
        fused(x)  # packs fp32 weights
        low = copy.deepcopy(fused).to(torch.bfloat16)
        y16 = low(x.to(torch.bfloat16)).float()
        back = copy.deepcopy(low).float()  # bf16-rounded weights, run in fp32 again
        y32 = back(x)
    assert (y16 - ref).abs().max() < 0.05
    assert (y32 - ref).abs().max() < 0.02 and y32.dtype == torch.float32


def test_dense_block_concats_share_per_call_buffers_only_when_safe() -> None:
    from srzoo.inference.fastpath import pooled_cat

    fused = _fused(_net())
    pooled = [n for n in fused.graph.nodes if n.target is pooled_cat]
    assert len(pooled) == 2  # every dense-block concat of the 2 blocks

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Conv2d(4, 4, 3, 1, 1), nn.Conv2d(8, 4, 3, 1, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = F.relu(self.a(x))
            c1 = torch.cat([x, y], 1)  # read again after the next concat: must keep its own memory
            c2 = torch.cat([y, x], 1)
            return self.b(c2) + c1[:, :4]

    net = Net().eval()
    fused = fuse_for_inference(copy.deepcopy(net).to(memory_format=CL))
    assert not any(n.target is pooled_cat for n in fused.graph.nodes)
    x = torch.rand(1, 4, 8, 8).contiguous(memory_format=CL)
    with torch.inference_mode():
        assert torch.allclose(fused(x), net(x), atol=1e-6)


def test_residual_fusion_refuses_broadcasting_and_in_place_writes_into_the_other_operand() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Conv2d(4, 4, 3, 1, 1), nn.Conv2d(4, 4, 3, 1, 1)

        def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
            y = self.a(x) * 0.5 + bias  # bias broadcasts: fused module must fall back at run time
            other = x.clone()
            other.add_(self.b(x))  # in place into `other`: not a fusable residual
            return y + other

    torch.manual_seed(0)
    net = Net().eval()
    fused = fuse_for_inference(copy.deepcopy(net).to(memory_format=CL))
    assert (fused.b.act, fused.b.residual) == ("none", False) and fused.a.residual
    x, bias = torch.rand(1, 4, 8, 8).contiguous(memory_format=CL), torch.rand(1, 4, 1, 1)
    with torch.inference_mode():
        assert torch.allclose(fused(x, bias), net(x, bias), atol=1e-6)


def test_untraceable_or_conv_free_nets_come_back_unchanged() -> None:
    class Dynamic(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 3, 1, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.relu(self.conv(x)) if x.sum() > 0 else x  # data-dependent: fx cannot trace it

    dyn, plain = Dynamic(), nn.Sequential(nn.Upsample(scale_factor=2))
    assert fuse_for_inference(dyn) is dyn and fuse_for_inference(plain) is plain
