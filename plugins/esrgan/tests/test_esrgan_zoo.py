"""The `esrgan` zoo entry: paper config, pretrained metadata, loading real and legacy weights via srzoo."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from srzoo_esrgan import layouts, zoo
from srzoo_esrgan.rrdbnet import RRDBNet

from srzoo import ARCHS, WeightsError, arch_info, build_arch, load_model


def test_factory_is_the_paper_network() -> None:
    model = build_arch("esrgan", scale=4)
    assert isinstance(model, RRDBNet) and model.scale == 4 and model.upsampler == "nearest"
    assert layouts.infer_kwargs(model.state_dict()) == zoo.PAPER_CONFIG
    assert zoo.infer_kwargs(model.state_dict()) == {"scale": 4}
    with pytest.raises(WeightsError, match="num_blocks=1"):
        zoo.infer_kwargs(RRDBNet(num_blocks=1).state_dict())


def test_pretrained_metadata() -> None:
    info = arch_info(ARCHS.get("esrgan"))
    assert [p.tag for p in info.pretrained] == ["official", "psnr", "realesrgan_x4plus"]
    for entry in info.pretrained:
        assert entry.url.startswith("https://") and entry.scale == 4 and not entry.kwargs
        assert entry.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", entry.sha256)
        assert entry.cache_name.endswith(".pth")
    assert len({p.cache_name for p in info.pretrained}) == 3  # no two tags share a cache file


def test_load_model_reads_real_and_legacy_weights(shared_weights: Path, tmp_path: Path) -> None:
    sd = torch.load(shared_weights, map_location="cpu", weights_only=True)["params"]
    ref = RRDBNet().eval()
    ref.load_state_dict(sd)
    legacy = tmp_path / "RRDB_2019_layout.pth"
    torch.save(layouts.to_legacy_2019(sd), legacy)  # what the official ESRGAN / KAIR files look like
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        expected = ref(x).clamp(0, 1)
    # auto-detected (the paper config → `esrgan`, legacy keys converted) and explicitly named `rrdbnet`
    for source, arch in ((legacy, None), (shared_weights, "rrdbnet")):
        model = load_model(source, arch, fast=False)
        assert model.card.arch == (arch or "esrgan") and model.scale == 4
        assert torch.equal(model(x), expected), (source.name, arch)
