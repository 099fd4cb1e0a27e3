"""srzoo's CPU fast path on RRDBNet's dense blocks: every activation, residual conv and concat is fused or pooled.

Core tests the fast path on its test-only toy arch; these pin what it does to the real RRDBNet structure
(2 RRDBs of 3 dense blocks of 5 convs), so a change to either side that stops the fusion shows up here.
"""

from __future__ import annotations

import copy

import pytest
import torch
from srzoo_esrgan.rrdbnet import RRDBNet
from torch import nn

from srzoo.inference import cpu_kernels
from srzoo.inference.fastpath import FusedConv2d, fuse_for_inference, pooled_cat

CL = torch.channels_last


def _rrdbnet(**kwargs: int) -> nn.Module:
    torch.manual_seed(0)
    return RRDBNet(num_feat=16, num_grow=8, num_blocks=2, **kwargs).eval()


def _fused(net: nn.Module) -> nn.Module:
    return fuse_for_inference(copy.deepcopy(net).to(memory_format=CL))


def test_rrdbnet_fuses_every_activation_and_residual_conv() -> None:
    fused = _fused(_rrdbnet())
    kinds = [(m.act, m.residual) for m in fused.modules() if isinstance(m, FusedConv2d)]
    # per RDB 4 conv+lrelu and conv5 + scaled residual; then conv_body + trunk skip, 2 upsampling + conv_hr
    assert kinds.count(("leaky_relu", False)) == 2 * 3 * 4 + 3
    assert kinds.count(("none", True)) == 2 * 3 + 1
    # conv_first, conv_last: nothing to fuse, wrapped for packed weights / NNPACK all the same
    assert kinds.count(("none", False)) == 2
    assert not any(type(m) is nn.Conv2d for m in fused.modules())
    x = torch.rand(2, 3, 20, 28)
    with torch.inference_mode():
        assert (fused(x.contiguous(memory_format=CL)) - _rrdbnet()(x)).abs().max() <= 1e-5


def test_every_dense_block_concat_shares_per_call_buffers() -> None:
    pooled = [n for n in _fused(_rrdbnet()).graph.nodes if n.target is pooled_cat]
    assert len(pooled) == 2 * 3 * 4  # every dense-block concat of the 2 RRDBs


@pytest.mark.skipif(not cpu_kernels.nnpack_usable(), reason="this torch build has no usable NNPACK")
def test_nchw_fp32_input_runs_every_rrdbnet_conv_through_nnpack(monkeypatch: pytest.MonkeyPatch) -> None:
    net = _rrdbnet()
    fused = fuse_for_inference(copy.deepcopy(net).to(memory_format=CL))
    calls: list[int] = []
    real = cpu_kernels.conv3x3

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(cpu_kernels, "conv3x3", spy)
    x = torch.rand(3, 3, 21, 18, generator=torch.Generator().manual_seed(1))  # odd sides, a batch
    with torch.inference_mode():
        ref = net(x)
        got = fused(x.contiguous())
    assert len(calls) == sum(isinstance(m, FusedConv2d) for m in fused.modules()) == 2 * 3 * 5 + 6
    assert 0 < (got - ref).abs().max() <= 1e-5  # Winograd rounds differently, within the fp32 bound
