"""MATLAB-bicubic imresize: bit-exact against the official LR files, the bicubic baseline's MATLAB PSNR,
per-pass rounding, weights, shapes, batching and dtypes."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import srzoo.imaging.resize as resize_module
from srzoo.archs.bicubic import Bicubic, grid_peak
from srzoo.errors import ConfigError, InputError
from srzoo.eval.bench import run_bench
from srzoo.eval.metrics import psnr
from srzoo.imaging.resize import (
    degrade_bicubic,
    imresize,
    imresize_levels,
    imresize_uint8,
    imresize_uint8_np,
    modcrop,
    resize_matrix,
)

SET_SIZES = {"Set5": 5, "Set14": 14, "BSD100": 100}
# MATLAB imresize on the official uint8 LR (rounded to uint8 after each pass), Y, border = scale: stated by
# the project (issue 13) from MATLAB before srzoo was measured; the tolerance is half the last printed digit.
MATLAB_X4 = {"set5": 28.4290, "bsd100": 25.9613}
MATLAB_BABY_X4 = 31.7842
TOL = 0.00005


def load_chw(path: Path) -> torch.Tensor:
    """PNG -> uint8 (C, H, W); greyscale files (Set14 bridge.png) stay 1-channel."""
    arr = np.array(Image.open(path))
    arr = arr[:, :, None] if arr.ndim == 2 else arr
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("name", list(SET_SIZES))
def test_official_lr_bit_exact(shared_data: Path, name: str, scale: int) -> None:
    # Every image of every set: BSD100 (100 images x 3 scales) is the bulk of this file's runtime.
    hr_files = sorted((shared_data / name / "HR").glob("*.png"))
    assert len(hr_files) == SET_SIZES[name]
    for hr_path in hr_files:
        lr_official = load_chw(
            shared_data / name / "LR_bicubic" / f"X{scale}" / f"{hr_path.stem}x{scale}.png"
        )
        lr = degrade_bicubic(load_chw(hr_path), scale)
        assert lr.dtype == torch.uint8
        assert lr.shape == lr_official.shape, hr_path.name
        mismatched = int((lr != lr_official).sum())
        assert mismatched == 0, f"{name}/{hr_path.name} x{scale}: {mismatched} values differ"


def test_height_is_resized_first(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # MATLAB sorts the dimensions by scale (stable): equal scales resize height (rows) first. The files agree,
    # and the other order does not reproduce them.
    hr = load_chw(shared_data / "Set5" / "HR" / "baby.png")
    official = load_chw(shared_data / "Set5" / "LR_bicubic" / "X3" / "babyx3.png")
    assert resize_module._order((1 / 3, 1 / 3)) == [0, 1]
    assert resize_module._order((0.5, 0.25)) == [1, 0]  # the smaller scale first
    assert torch.equal(degrade_bicubic(hr, 3), official)
    monkeypatch.setattr(resize_module, "_order", lambda scales: [1, 0])
    assert int((degrade_bicubic(hr, 3) != official).sum()) > 0


@pytest.mark.parametrize("name", list(MATLAB_X4))
def test_bicubic_baseline_psnr_is_matlabs(shared_data: Path, name: str) -> None:
    # bench's own path: official LR -> `bicubic` arch on [0, 1] floats -> uint8 -> PSNR-Y, border 4.
    report = run_bench(None, [name], scale=4, root=shared_data, metrics=("psnr",))
    (row,) = report.results
    assert row.model == "bicubic" and len(row.images) == SET_SIZES[row.set]
    mean = float(np.mean([image.scores["psnr"] for image in row.images]))
    assert abs(mean - MATLAB_X4[name]) <= TOL, f"{name} x4 bicubic: {mean:.5f} dB"
    if name == "set5":
        baby = next(image for image in row.images if image.name == "baby")
        assert abs(baby.scores["psnr"] - MATLAB_BABY_X4) <= TOL, baby.scores


def test_on_the_fly_lr_scores_as_the_official_files(shared_data: Path, tmp_path: Path) -> None:
    # A folder of HR images only: srzoo.data.sets makes the LR on the fly, and bench scores it identically.
    for hr_path in (shared_data / "Set5" / "HR").glob("*.png"):
        shutil.copy(hr_path, tmp_path / hr_path.name)
    official, made = (
        run_bench(None, [s], scale=3, root=shared_data, metrics=("psnr",)) for s in ("set5", str(tmp_path))
    )
    sets = made.convention["sets"]
    assert [v["lr_source"] for v in sets.values()] == ["bicubic-on-the-fly"]
    scores = [{i.name: i.scores["psnr"] for i in r.results[0].images} for r in (official, made)]
    assert len(scores[0]) == 5 and scores[0] == scores[1]


def test_arch_is_imresize_uint8_on_8bit_input(shared_data: Path) -> None:
    lr = load_chw(shared_data / "Set5" / "LR_bicubic" / "X4" / "birdx4.png")
    x = lr.float()[None] / 255
    y = Bicubic(4)(x)
    assert y.dtype == torch.float32
    assert torch.equal((y * 255).round().to(torch.uint8)[0], imresize_uint8(lr, scale=4))
    assert torch.equal(Bicubic(4, rounding="uint8")(x), y)
    # The rule matters: one float resize rounded once at the end is another image (the old 28.4305 dB path).
    once = (Bicubic(4, rounding="none")(x) * 255).round().clamp(0, 255).to(torch.uint8)[0]
    assert int((once != imresize_uint8(lr, scale=4)).sum()) > 100
    hr = modcrop(load_chw(shared_data / "Set5" / "HR" / "bird.png"), 4).numpy().transpose(1, 2, 0)
    exact = psnr(imresize_uint8(lr, scale=4).numpy().transpose(1, 2, 0), hr, crop_border=4)
    assert abs(psnr(once.numpy().transpose(1, 2, 0), hr, crop_border=4) - exact) > 1e-4


def test_arch_rounding_follows_the_input_grid() -> None:
    torch.manual_seed(0)
    k8 = torch.randint(0, 256, (1, 3, 9, 11))
    k8[0, 0, 0, 0] = 255
    k16 = torch.randint(0, 65536, (1, 3, 9, 11))
    assert grid_peak(k8.float() / 255) == 255
    assert grid_peak(k8.half() / 255) == 255  # fp16 keeps k/255 within 0.07 of a level
    assert grid_peak(k16.float() / 65535) == 65535
    assert grid_peak(torch.rand(1, 3, 9, 11)) is None
    assert grid_peak(torch.full((1, 3, 5, 7), 0.25)) is None  # 63.75 of 255: not an 8-bit image
    assert grid_peak((k8.float() / 255).requires_grad_()) is None
    assert grid_peak(k8.float() / 255 + 1 / 255) is None  # 256/255 is past the top level
    up16 = (Bicubic(3)(k16.double() / 65535) * 65535).round()
    assert torch.equal(up16, imresize_levels(k16, scale=3, peak=65535))
    x = torch.rand(1, 3, 9, 11, dtype=torch.float64)
    assert torch.equal(Bicubic(3)(x), imresize(x, scale=3))
    assert torch.equal(
        (Bicubic(3, rounding="uint8")(x) * 255).round(), imresize_levels((x * 255).round(), scale=3)
    )
    with pytest.raises(ConfigError, match="did you mean 'uint8'"):
        Bicubic(4, rounding="unit8")


@pytest.mark.parametrize("scale", [0.5, 1 / 3, 0.25, 2, 3])
def test_numpy_twin_is_bit_identical(scale: float) -> None:
    rng = np.random.default_rng(int(scale * 100))
    img = rng.integers(0, 256, (3, 37, 29), dtype=np.uint8)
    want = imresize_uint8(torch.from_numpy(img), scale=scale).numpy()
    assert np.array_equal(imresize_uint8_np(img, scale), want)
    assert np.array_equal(imresize_uint8_np(img[0], scale), want[0])


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
