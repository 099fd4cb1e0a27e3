"""The whole second-order pipeline: official defaults, shapes, 8-bit LR, determinism, pool state, bad options."""

from __future__ import annotations

import math

import pytest
import torch
from srzoo_realesrgan.degradation import RealESRGANDegradation

from srzoo import ConfigError


def _hr(n: int = 4, size: int = 64, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    smooth = torch.nn.functional.interpolate(
        torch.rand(n, 3, size // 8, size // 8, generator=g), size=size, mode="bicubic"
    )
    return (smooth + 0.1 * torch.rand(n, 3, size, size, generator=g)).clamp(0, 1)


def test_defaults_are_the_official_option_file() -> None:
    d = RealESRGANDegradation()
    assert d.blur[0]["kernel_prob"] == (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
    assert d.blur[0]["sigma"] == (0.2, 3.0) and d.blur[1]["sigma"] == (0.2, 1.5)
    assert d.blur[0]["betag"] == (0.5, 4.0) and d.blur[0]["betap"] == (1.0, 2.0)
    assert d.blur[0]["sinc_prob"] == d.blur[1]["sinc_prob"] == 0.1
    assert d.final_sinc_prob == 0.8 and d.second_blur_prob == 0.8
    assert d.stages[0]["resize_range"] == (0.15, 1.5) and d.stages[1]["resize_range"] == (0.3, 1.2)
    assert d.stages[0]["gray_noise_prob"] == 0.4 and d.stages[0]["jpeg_range"] == (30.0, 95.0)
    assert d.kernel_sizes == (7, 9, 11, 13, 15, 17, 19, 21)


def test_pipeline_output_shapes_range_and_quantisation() -> None:
    hr = _hr()
    out = RealESRGANDegradation(scale=4)({"hr": hr}, torch.Generator().manual_seed(3))
    assert out["lr"].shape == (4, 3, 16, 16) and torch.equal(out["hr"], hr)
    assert out["hr_usm"].shape == hr.shape and not torch.equal(out["hr_usm"], hr)
    lr = out["lr"]
    assert lr.min() >= 0 and lr.max() <= 1
    assert torch.allclose(lr * 255, (lr * 255).round(), atol=1e-4)  # on the 8-bit grid, like a saved LR file
    # degraded, not a plain downscale: far from the area-averaged HR
    plain = torch.nn.functional.avg_pool2d(hr, 4)
    assert ((lr - plain) ** 2).mean().sqrt() > 0.01


def test_same_seed_same_batch_other_seed_other_batch() -> None:
    hr = _hr()
    d = RealESRGANDegradation(scale=4)
    a = d({"hr": hr}, torch.Generator().manual_seed(11))
    b = RealESRGANDegradation(scale=4)({"hr": hr}, torch.Generator().manual_seed(11))
    c = d({"hr": hr}, torch.Generator().manual_seed(12))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["lr"], c["lr"])


def test_pool_mixes_batches_and_its_state_resumes_exactly() -> None:
    def run(d: RealESRGANDegradation, steps: range) -> list[torch.Tensor]:
        return [d({"hr": _hr(2, 32, s)}, torch.Generator().manual_seed(100 + s))["lr"] for s in steps]

    full = RealESRGANDegradation(scale=4, queue_size=4)
    first = run(full, range(6))
    # while the pool fills (2 batches of 2), batches pass through unchanged
    plain = RealESRGANDegradation(scale=4)
    assert torch.equal(first[0], plain({"hr": _hr(2, 32, 0)}, torch.Generator().manual_seed(100))["lr"])
    assert any(
        not torch.equal(first[s], plain({"hr": _hr(2, 32, s)}, torch.Generator().manual_seed(100 + s))["lr"])
        for s in range(2, 6)
    )
    # resume after step 3 from the saved pool: steps 3..5 repeat exactly
    head = RealESRGANDegradation(scale=4, queue_size=4)
    run(head, range(3))
    state = {k: v.clone() for k, v in head.state_dict().items()}
    resumed = RealESRGANDegradation(scale=4, queue_size=4)
    resumed.load_state_dict(state)
    assert all(torch.equal(x, y) for x, y in zip(run(resumed, range(3, 6)), first[3:]))


def test_gt_size_crops_hr_and_lr_together() -> None:
    hr = _hr(2, 64)
    out = RealESRGANDegradation(scale=4, gt_size=32)({"hr": hr}, torch.Generator().manual_seed(0))
    assert out["hr"].shape == (2, 3, 32, 32) and out["lr"].shape == (2, 3, 8, 8)
    # the HR crop is a window of the input at a multiple of the scale
    hits = [
        (t, s)
        for t in range(0, 33, 4)
        for s in range(0, 33, 4)
        if torch.equal(hr[..., t : t + 32, s : s + 32], out["hr"])
    ]
    assert len(hits) == 1


def test_tiny_images_survive_big_kernels() -> None:
    out = RealESRGANDegradation(scale=4)({"hr": _hr(2, 16)}, torch.Generator().manual_seed(5))
    assert out["lr"].shape == (2, 3, 4, 4) and torch.isfinite(out["lr"]).all()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"blur_sigma": [3, 0.2]}, "blur_sigma"),
        ({"kernel_list": ["iso", "box"], "kernel_prob": [1, 1]}, "box"),
        ({"kernel_prob": [1, 1]}, "kernel_prob"),
        ({"resize_range": [0.5, 0.9]}, "contain 1"),
        ({"jpeg_range": [30, 120]}, "jpeg_range"),
        ({"final_sinc_prob": 1.5}, "final_sinc_prob"),
        ({"kernel_range": [7, 8]}, "odd"),
        ({"gt_size": 30}, "multiple"),
    ],
)
def test_bad_options_are_one_clear_config_error(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RealESRGANDegradation(scale=4, **kwargs)


def test_queue_must_hold_whole_batches() -> None:
    with pytest.raises(ConfigError, match="multiple of the micro-batch"):
        RealESRGANDegradation(scale=4, queue_size=5)({"hr": _hr(2, 32)}, torch.Generator())


def test_runs_on_every_available_device() -> None:
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for dev in devices:
        out = RealESRGANDegradation(scale=2)({"hr": _hr(2, 32).to(dev)}, torch.Generator().manual_seed(0))
        assert out["lr"].device.type == dev and out["lr"].shape == (2, 3, 16, 16)
        assert math.isfinite(float(out["lr"].sum()))
