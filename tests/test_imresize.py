"""MATLAB-bicubic imresize: bit-exact against the official LR files, weights, shapes, batching and dtypes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srzoo.errors import InputError
from srzoo.imaging.resize import degrade_bicubic, imresize, imresize_uint8, modcrop, resize_matrix


def load_chw(path: Path) -> torch.Tensor:
    """PNG -> uint8 (C, H, W); greyscale files (Set14 bridge.png) stay 1-channel."""
    arr = np.array(Image.open(path))
    arr = arr[:, :, None] if arr.ndim == 2 else arr
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("name", ["Set5", "Set14"])
def test_official_lr_bit_exact(shared_data: Path, name: str, scale: int) -> None:
    hr_files = sorted((shared_data / name / "HR").glob("*.png"))
    assert len(hr_files) == {"Set5": 5, "Set14": 14}[name]
    for hr_path in hr_files:
        lr_official = load_chw(
            shared_data / name / "LR_bicubic" / f"X{scale}" / f"{hr_path.stem}x{scale}.png"
        )
        lr = degrade_bicubic(load_chw(hr_path), scale)
        assert lr.dtype == torch.uint8
        assert lr.shape == lr_official.shape, hr_path.name
        mismatched = int((lr != lr_official).sum())
        assert mismatched == 0, f"{name}/{hr_path.name} x{scale}: {mismatched} values differ"


def test_div2k_lr_bit_exact(shared_data: Path) -> None:
    root = shared_data / "DIV2K"
    hr = load_chw(root / "DIV2K_train_HR" / "0004.png")
    lr_official = load_chw(root / "DIV2K_train_LR_bicubic" / "X4" / "0004x4.png")
    assert torch.equal(degrade_bicubic(hr, 4), lr_official)


def test_per_pass_rounding_is_what_makes_it_exact(shared_data: Path) -> None:
    # The rule matters: one float pass rounded once at the end does not reproduce the files.
    hr = modcrop(load_chw(shared_data / "Set5" / "HR" / "baby.png"), 4)
    official = load_chw(shared_data / "Set5" / "LR_bicubic" / "X4" / "babyx4.png")
    once = imresize(hr.double(), scale=0.25).add(0.5).floor().clamp(0, 255).to(torch.uint8)
    assert torch.equal(imresize_uint8(hr, scale=0.25), official)
    assert not torch.equal(once, official)


def test_upscale_weights_match_hand_computed_kernel() -> None:
    # x2 up: output pixel 5 (1-based) maps to u = 5/2 + 0.25 = 2.75; taps at input 1..4 are
    # cubic(1.75), cubic(0.75), cubic(0.25), cubic(1.25) with a = -0.5.
    m = resize_matrix(8, 16, 2.0)
    assert m.shape == (16, 8)
    expected = torch.tensor([-0.0234375, 0.2265625, 0.8671875, -0.0703125], dtype=torch.float64)
    assert torch.equal(m[4, :4], expected)
    assert torch.equal(m[4, 4:], torch.zeros(4, dtype=torch.float64))
    # first output pixel: u = 0.75, taps at 0 and -1 mirror onto pixels 1 and 2 (MATLAB's symmetric rule)
    assert m[0, 0].item() == pytest.approx(0.8671875 + 0.2265625)
    assert m[0, 1].item() == pytest.approx(-0.0234375 - 0.0703125)


@pytest.mark.parametrize(
    ("n", "out", "scale", "antialias"), [(8, 16, 2.0, True), (40, 10, 0.25, True), (30, 10, 1 / 3, False)]
)
def test_rows_sum_to_one(n: int, out: int, scale: float, antialias: bool) -> None:
    m = resize_matrix(n, out, scale, antialias=antialias)
    torch.testing.assert_close(m.sum(1), torch.ones(out, dtype=torch.float64), rtol=0, atol=1e-12)


def test_antialias_widens_the_downscale_kernel() -> None:
    taps_aa = int((resize_matrix(64, 16, 0.25) != 0).sum(1).max())
    taps_plain = int((resize_matrix(64, 16, 0.25, antialias=False) != 0).sum(1).max())
    assert taps_aa == 16 and taps_plain == 4


def test_shapes_and_layouts() -> None:
    x = torch.rand(2, 3, 13, 17, dtype=torch.float64)
    assert imresize(x, scale=4).shape == (2, 3, 52, 68)
    assert imresize(x, scale=0.5).shape == (2, 3, 7, 9)  # MATLAB: ceil(scale * size)
    assert imresize(x, size=(20, 5)).shape == (2, 3, 20, 5)
    assert imresize(x[0], scale=2).shape == (3, 26, 34)
    assert imresize(x[0, 0], scale=2).shape == (26, 34)
    assert imresize(torch.rand(1, 1, 255, 258), scale=1 / 3).shape == (
        1,
        1,
        85,
        86,
    )  # no float ceil off-by-one
    # BLAS may sum a batch in another order: equal to rounding error, not bit-for-bit, in float.
    torch.testing.assert_close(imresize(x[0], scale=3), imresize(x, scale=3)[0], rtol=0, atol=1e-12)
    with pytest.raises(InputError):
        imresize(x, scale=2, size=(4, 4))
    with pytest.raises(InputError):
        imresize(x)
    with pytest.raises(InputError):
        imresize(x.to(torch.uint8), scale=2)
    with pytest.raises(InputError):
        imresize(torch.rand(1, 1, 1, 4, 4), scale=2)


def test_batched_equals_per_image(shared_data: Path) -> None:
    names = ["baby", "bird", "head"]
    crops = [modcrop(load_chw(shared_data / "Set5" / "HR" / f"{n}.png"), 4)[:, :240, :240] for n in names]
    batch = torch.stack(crops)
    lr_batch = imresize_uint8(batch, scale=0.25)
    up_batch = imresize(batch.double(), scale=4)
    for i, crop in enumerate(crops):
        assert torch.equal(lr_batch[i], imresize_uint8(crop, scale=0.25))
        torch.testing.assert_close(up_batch[i], imresize(crop.double(), scale=4), rtol=0, atol=1e-9)


def test_upscale_constant_and_linear_ramp() -> None:
    const = torch.full((1, 3, 9, 11), 0.7, dtype=torch.float64)
    torch.testing.assert_close(imresize(const, scale=4), torch.full((1, 3, 36, 44), 0.7, dtype=torch.float64))
    torch.testing.assert_close(imresize(const, scale=0.5), torch.full((1, 3, 5, 6), 0.7, dtype=torch.float64))
    # Keys' cubic reproduces linear signals exactly away from the mirrored border: out(y) = in(u(y)).
    ramp = torch.arange(20, dtype=torch.float64).view(1, 1, 20, 1).expand(1, 1, 20, 3)
    up = imresize(ramp, scale=4)[0, 0, :, 1]
    u = torch.arange(1, 81, dtype=torch.float64) / 4 + 0.5 * (1 - 1 / 4) - 1  # 0-based input coordinate
    torch.testing.assert_close(up[8:-8], u[8:-8], rtol=0, atol=1e-12)


def test_up_then_down_roughly_recovers(shared_data: Path) -> None:
    lr = load_chw(shared_data / "Set5" / "LR_bicubic" / "X4" / "birdx4.png").double()
    back = imresize(imresize(lr, scale=4), scale=0.25)
    assert back.shape == lr.shape
    assert (back - lr).abs().mean().item() < 3.0  # a low-pass round trip: close, not identical
    assert (back - lr).abs().max().item() > 0.5


def test_float32_matches_float64() -> None:
    x = torch.rand(1, 3, 31, 29, dtype=torch.float64) * 255
    for scale in (4, 0.25, 1 / 3):
        y64 = imresize(x, scale=scale)
        y32 = imresize(x.float(), scale=scale)
        assert y32.dtype == torch.float32 and y64.dtype == torch.float64
        torch.testing.assert_close(y32.double(), y64, rtol=0, atol=1e-3)
    assert imresize(x.half(), scale=2).dtype == torch.float16


def test_uint8_accepts_integer_floats_and_greyscale() -> None:
    g = torch.randint(0, 256, (1, 20, 24), dtype=torch.uint8)
    assert torch.equal(imresize_uint8(g.double(), scale=0.5), imresize_uint8(g, scale=0.5))
    assert imresize_uint8(g[0], scale=0.5).shape == (10, 12)
    assert degrade_bicubic(torch.zeros(3, 23, 26, dtype=torch.uint8), 4).shape == (3, 5, 6)


def test_modcrop_numpy_and_torch() -> None:
    assert modcrop(np.zeros((10, 13, 3)), 4).shape == (8, 12, 3)
    assert modcrop(np.zeros((10, 13)), 3).shape == (9, 12)
    assert modcrop(torch.zeros(2, 3, 10, 13), 4).shape == (2, 3, 8, 12)
    with pytest.raises(InputError):
        modcrop(torch.zeros(4, 4), 0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu() -> None:
    x = torch.randint(0, 256, (2, 3, 48, 40), dtype=torch.uint8)
    assert torch.equal(imresize_uint8(x.cuda(), scale=0.25).cpu(), imresize_uint8(x, scale=0.25))
    y = imresize(x.cuda().float(), scale=4)
    assert y.is_cuda
    torch.testing.assert_close(y.cpu(), imresize(x.float(), scale=4), rtol=0, atol=1e-3)
