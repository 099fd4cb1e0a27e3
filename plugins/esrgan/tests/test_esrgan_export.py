"""srzoo's exports of an RRDBNet load in spandrel (ESRGAN) and in Real-ESRGAN's RRDBNet, with the same outputs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from esrgan_tiny import tiny_rrdbnet_file

from srzoo import load_model
from srzoo.inference.export import export_model

# spandrel infers RRDBNet's growth channels as 32, so the spandrel checks use that growth.
SPANDREL_TINY = {"num_grow": 32}


def test_basicsr_pth_loads_in_spandrel_and_realesrgan_style(tmp_path: Path) -> None:
    spandrel = pytest.importorskip("spandrel")
    from srzoo_esrgan.rrdbnet import RRDBNet

    model = load_model(tiny_rrdbnet_file(tmp_path, 4, **SPANDREL_TINY), fast=False)
    export_model(model, pth := tmp_path / "net.pth", "basicsr")
    export_model(model, st := tmp_path / "net.safetensors", "safetensors")
    x = torch.rand(1, 3, 12, 14)
    want = model(x)
    for path in (pth, st):
        desc = spandrel.ModelLoader().load_from_file(str(path))
        assert desc.architecture.id == "ESRGAN" and desc.scale == 4
        with torch.no_grad():
            got = desc.model.eval()(x).clamp(0, 1)
        assert float((got - want).abs().max()) < 1e-6, path
    # Real-ESRGAN: torch.load(...)['params'] into its RRDBNet(num_feat, num_block, num_grow_ch), strict
    params = torch.load(pth, map_location="cpu", weights_only=True)["params"]
    net = RRDBNet(scale=4, num_feat=8, num_blocks=1, num_grow=32)
    net.load_state_dict(params, strict=True)
    with torch.no_grad():
        assert float((net.eval()(x).clamp(0, 1) - want).abs().max()) < 1e-6
