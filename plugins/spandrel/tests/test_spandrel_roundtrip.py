"""Weights srzoo exports for every spandrel arch load back in spandrel (ModelLoader) and give the same image."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from srzoo_spandrel._specs import SPECS

from srzoo import ARCHS, ModelCard, SRModel, arch_info, build_arch
from srzoo.inference.export import export_model  # what `srzoo export` runs

TOLERANCE = (
    1e-5  # CPU fp32, stated before measuring: same kernels on both sides except srzoo's fused fast path
)

# generated from the registry: what this distribution registers, not the plugin's own table
NAMES = [e.name for e in ARCHS.entries() if e.dist == "srzoo-spandrel"]


def _export_scale(name: str) -> int:
    scales = SPECS[name].scales
    return 4 if 4 in scales else scales[-1]  # x4: the other end from the contract test's x2


@pytest.mark.parametrize("name", NAMES)
def test_export_loads_in_spandrel_with_same_output(name: str, tmp_path: Path) -> None:
    from spandrel import ModelLoader

    spec, info = SPECS[name], arch_info(ARCHS.get(name))
    scale = _export_scale(name)
    torch.manual_seed(0)
    net = build_arch(name, scale=scale, **info.test_kwargs)
    card = ModelCard(name, dict(info.test_kwargs), scale, info.capabilities, source="test")
    out = tmp_path / f"{name}.safetensors"
    export_model(SRModel(net, card, fast=False), out, "safetensors")  # as `srzoo export` does
    model = SRModel(
        build_arch(name, scale=scale, **info.test_kwargs), card
    )  # channels_last, fused convs, clamp
    model.net.load_state_dict(net.state_dict(), strict=False)

    desc = ModelLoader(device="cpu").load_from_file(out)
    assert desc.architecture.id == spec.module
    assert desc.scale == scale
    side = spec.lr_side()
    x = torch.rand(1, 3, side, side + spec.multiple, generator=torch.Generator().manual_seed(1))
    desc.model.eval()
    with torch.inference_mode():
        ours = model(x)
        theirs = desc(x)  # spandrel's own call: its call_fn, padding and clamp
        # unclamped too: random tiny nets leave [0, 1] often, and clamping would hide differences there
        raw_ours = net.float().to(memory_format=torch.contiguous_format)(x)
        raw_theirs = type(net).forward(desc.model, x)
    assert ours.shape == theirs.shape == (1, 3, side * scale, (side + spec.multiple) * scale)
    assert float((ours - theirs).abs().max()) <= TOLERANCE
    assert float((raw_ours - raw_theirs).abs().max()) <= TOLERANCE
