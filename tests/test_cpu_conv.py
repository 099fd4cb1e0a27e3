"""The fp32 CPU conv kernel choice: NNPACK's Winograd convs match the direct ones, the choice is explicit or timed."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import srzoo
from srzoo.errors import ConfigError
from srzoo.inference import cpu_kernels as cpu_conv
from srzoo.inference import kernel_choice
from srzoo.inference.fastpath import FusedConv2d, fuse_for_inference

needs_nnpack = pytest.mark.skipif(
    not cpu_conv.nnpack_usable(), reason="this torch build has no usable NNPACK"
)


def _net() -> nn.Module:
    """The test-only toy_sr (tests/toyplugin): 2 dense blocks of 2 convs, plus 4 trunk/upsampling convs."""
    torch.manual_seed(0)
    return srzoo.build_arch("toy_sr", num_feat=16, num_grow=8, num_blocks=2).eval()


def _count_nnpack_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = cpu_conv.conv3x3

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(cpu_conv, "conv3x3", spy)
    return calls


@needs_nnpack
def test_nchw_fp32_input_runs_every_conv_through_nnpack_and_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    net = _net()
    fused = fuse_for_inference(copy.deepcopy(net).to(memory_format=torch.channels_last))
    convs = sum(isinstance(m, FusedConv2d) for m in fused.modules())
    calls = _count_nnpack_calls(monkeypatch)
    x = torch.rand(3, 3, 21, 18, generator=torch.Generator().manual_seed(1))  # odd sides, a batch
    with torch.inference_mode():
        ref = net(x)
        got = fused(x.contiguous())
    assert len(calls) == convs == 2 * 2 + 4
    assert got.is_contiguous() and got.shape == ref.shape
    assert 0 < (got - ref).abs().max() <= 1e-5  # Winograd rounds differently, within the fp32 bound


@needs_nnpack
def test_channels_last_bf16_and_autograd_never_reach_nnpack(monkeypatch: pytest.MonkeyPatch) -> None:
    fused = fuse_for_inference(_net())
    calls = _count_nnpack_calls(monkeypatch)
    x = torch.rand(1, 3, 12, 12)
    with torch.inference_mode():
        fused(x.contiguous(memory_format=torch.channels_last))
        copy.deepcopy(fused).to(torch.bfloat16)(x.to(torch.bfloat16))
    fused.requires_grad_(True)(x).mean().backward()  # training goes through the reference ops
    assert calls == []


def test_explicit_choices_env_and_typos(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cpu_conv.ENV, raising=False)
    assert kernel_choice.resolve() == "onednn"  # the default keeps outputs within 1e-5 of the plain ops
    assert kernel_choice.resolve("onednn") == "onednn"
    assert kernel_choice.resolve("nnpack") == ("nnpack" if cpu_conv.nnpack_usable() else "onednn")
    monkeypatch.setenv(cpu_conv.ENV, "nnpack")
    assert kernel_choice.resolve() == ("nnpack" if cpu_conv.nnpack_usable() else "onednn")
    assert kernel_choice.resolve("onednn") == "onednn"  # an explicit choice beats the environment
    monkeypatch.setenv(cpu_conv.ENV, "nnpak")
    with pytest.raises(ConfigError, match="SRZOO_CPU_CONV.*did you mean 'nnpack'"):
        kernel_choice.resolve()
    with pytest.raises(ConfigError, match="'winograd' is not a CPU conv backend"):
        kernel_choice.resolve("winograd")


@needs_nnpack
def test_auto_times_both_kernels_once_per_thread_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cpu_conv.ENV, raising=False)
    monkeypatch.setattr(kernel_choice, "_chosen", {})
    timed: list[int] = []
    real = kernel_choice._calibrate

    def counting() -> str:
        timed.append(torch.get_num_threads())
        return real()

    monkeypatch.setattr(kernel_choice, "_calibrate", counting)
    first = kernel_choice.resolve("auto")
    assert first in ("onednn", "nnpack")
    monkeypatch.setenv(cpu_conv.ENV, "auto")
    assert kernel_choice.resolve("auto") == first and kernel_choice.resolve() == first
    assert timed == [torch.get_num_threads()]


def test_srmodel_layout_follows_its_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    from srzoo.framework.registries import ARCHS, arch_info
    from srzoo.inference.model import ModelCard, SRModel

    card = ModelCard("toy_sr", {}, 4, arch_info(ARCHS.get("toy_sr")).capabilities)
    x = torch.rand(1, 3, 8, 8)
    onednn = SRModel(_net(), card, cpu_conv="onednn")
    assert onednn.conv_kernel() == "onednn"
    assert onednn.prepare(x).is_contiguous(memory_format=torch.channels_last)
    plain = SRModel(_net(), card, fast=False)
    assert plain.conv_kernel() == "onednn (unfused)" and plain.prepare(x).is_contiguous()
    bf16 = SRModel(_net(), card, precision="bf16", cpu_conv="nnpack")
    assert bf16.conv_kernel() == "onednn"  # NNPACK is fp32 only
    if cpu_conv.nnpack_usable():
        winograd = SRModel(_net(), card, cpu_conv="nnpack")
        assert winograd.conv_kernel() == "nnpack" and winograd.prepare(x).is_contiguous()
        assert (winograd(x) - plain(x)).abs().max() <= 1e-5
        assert winograd.conv_kernel("cuda") == "cuda"
