"""Real Real-ESRGAN x4plus weights: RRDBNet reproduces spandrel's ESRGAN on Set5 LR images (fp32)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import spandrel
import torch
from PIL import Image
from srzoo_esrgan import layouts
from srzoo_esrgan.rrdbnet import RRDBNet


@pytest.fixture(scope="module")
def models(shared_weights: Path) -> tuple[RRDBNet, torch.nn.Module]:
    sd = torch.load(shared_weights, map_location="cpu", weights_only=True)["params"]
    ours = RRDBNet(**layouts.infer_kwargs(sd)).eval()
    ours.load_state_dict(sd)
    ref = spandrel.ModelLoader().load_from_state_dict(sd).model.eval()
    return ours, ref


@pytest.mark.slow
@pytest.mark.parametrize("name", ["butterfly", "head"])  # the two smallest Set5 LR images, in full
def test_matches_spandrel_on_set5(models: tuple, shared_data: Path, name: str) -> None:
    ours, ref = models
    img = np.array(Image.open(shared_data / "Set5" / "LR_bicubic" / "X4" / f"{name}x4.png").convert("RGB"))
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        a, b = ours(x), ref(x)
    assert a.shape == (1, 3, 4 * img.shape[0], 4 * img.shape[1])
    assert (a - b).abs().max().item() <= 1e-5
    assert a.std().item() > 0.05  # a real picture came out, not a constant
