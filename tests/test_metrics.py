"""PSNR/SSIM/NIQE: the field's golden bicubic numbers, hand-checked values, conventions, NIQE download."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.ndimage import gaussian_filter

from srzoo.errors import DataError, InputError
from srzoo.eval.metrics import NIQE_PARAMS_SHA256, niqe, niqe_params_path, psnr, rgb_to_y, ssim
from srzoo.framework.files import sha256_file
from srzoo.imaging.resize import imresize, imresize_uint8, modcrop

# x4 bicubic baseline (official LR, MATLAB bicubic up, Y, border 4), from ../shared/README.md.
GOLDEN = {"Set5": (28.43, 0.8111, 5), "Set14": (26.09, 0.7048, 14), "BSD100": (25.96, 0.6681, 100)}


def _rgb(path: Path) -> np.ndarray:
    return np.array(Image.open(path))  # HWC uint8, or HW for greyscale files


@pytest.mark.parametrize("name", list(GOLDEN))
def test_golden_bicubic_x4(shared_data: Path, name: str) -> None:
    want_psnr, want_ssim, count = GOLDEN[name]
    float_up: list[tuple[float, float]] = []  # float bicubic, rounded once (the benchmark's bicubic arch)
    uint8_up: list[tuple[float, float]] = []  # MATLAB imresize on uint8 LR (rounds after each pass)
    hr_files = sorted((shared_data / name / "HR").glob("*.png"))
    assert len(hr_files) == count
    for hr_path in hr_files:
        hr = modcrop(_rgb(hr_path), 4)
        lr = _rgb(shared_data / name / "LR_bicubic" / "X4" / f"{hr_path.stem}x4.png")
        lr_t = torch.from_numpy(lr[None] if lr.ndim == 2 else lr.transpose(2, 0, 1).copy())
        sr = imresize(lr_t.double(), scale=4).add(0.5).floor().clamp(0, 255).to(torch.uint8)
        sr8 = imresize_uint8(lr_t, scale=4)
        for out, up in ((float_up, sr), (uint8_up, sr8)):
            out.append((psnr(up, hr, crop_border=4), ssim(up, hr, crop_border=4)))
    for results in (float_up, uint8_up):
        got_psnr, got_ssim = np.mean(results, axis=0)
        assert got_psnr == pytest.approx(want_psnr, abs=0.005)
        assert got_ssim == pytest.approx(want_ssim, abs=0.0005)
    # MATLAB's own uint8 path is the one the reference numbers were printed from: it matches to 4 decimals.
    assert np.mean(uint8_up, axis=0)[1] == pytest.approx(want_ssim, abs=0.00005)


def test_rgb_to_y_known_pixels() -> None:
    px = np.array([[0, 0, 0], [255, 255, 255], [255, 0, 0], [10, 20, 30]], dtype=np.uint8)
    y = rgb_to_y(px)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y[:3], [16.0, 235.0, 16 + 65.481])
    assert y[3] == pytest.approx(16 + (654.81 + 2571.06 + 748.98) / 255)  # not rounded


def test_psnr_identical_and_hand_computed() -> None:
    hr = np.zeros((2, 2, 3), dtype=np.uint8)
    assert psnr(hr, hr, crop_border=0) == math.inf
    sr = hr.copy()
    sr[0, 0, 0] = 10  # one error of 10 among 12 values
    assert psnr(sr, hr, crop_border=0, channel="rgb") == pytest.approx(10 * math.log10(255**2 / (100 / 12)))
    # On Y the red error is scaled by 65.481/255, spread over 4 pixels.
    assert psnr(sr, hr, crop_border=0) == pytest.approx(
        10 * math.log10(255**2 / ((10 * 65.481 / 255) ** 2 / 4))
    )


def test_crop_border_removes_the_edges() -> None:
    rng = np.random.default_rng(0)
    hr = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    sr = hr.copy()
    sr[:6] = 0
    sr[:, -6:] = 255
    assert psnr(sr, hr, crop_border=6) == math.inf
    assert psnr(sr, hr, crop_border=5) < 20
    assert ssim(sr, hr, crop_border=6) == pytest.approx(1.0, abs=1e-12)
    assert ssim(sr, hr, crop_border=0) < 0.9


def test_ssim_identical_noise_and_range() -> None:
    rng = np.random.default_rng(1)
    hr = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
    assert ssim(hr, hr, crop_border=4) == pytest.approx(1.0, abs=1e-12)
    assert ssim(hr, hr, crop_border=4, channel="rgb") == pytest.approx(1.0, abs=1e-12)
    noisy = np.clip(hr.astype(int) + rng.integers(-20, 21, hr.shape), 0, 255).astype(np.uint8)
    value = ssim(noisy, hr, crop_border=4)
    assert 0.5 < value < 0.99
    assert ssim(255 - hr, hr, crop_border=4) < 0  # an inverted image is anti-correlated
    with pytest.raises(InputError):
        ssim(hr[:14, :14], hr[:14, :14], crop_border=2)


def test_layouts_agree() -> None:
    rng = np.random.default_rng(2)
    hr = rng.integers(0, 256, (24, 20, 3), dtype=np.uint8)
    sr = rng.integers(0, 256, (24, 20, 3), dtype=np.uint8)
    ref = psnr(sr, hr, crop_border=2)
    assert (
        psnr(torch.from_numpy(sr).permute(2, 0, 1), torch.from_numpy(hr).permute(2, 0, 1), crop_border=2)
        == ref
    )
    assert psnr(torch.from_numpy(sr), hr, crop_border=2) == ref  # torch HWC is recognised too
    assert psnr(sr.astype(np.float32), hr.astype(np.float64), crop_border=2) == ref  # integer-valued floats
    assert ssim(torch.from_numpy(sr).permute(2, 0, 1), hr, crop_border=2) == ssim(sr, hr, crop_border=2)


def test_greyscale_counts_as_equal_rgb() -> None:
    rng = np.random.default_rng(3)
    hr = rng.integers(0, 256, (30, 30), dtype=np.uint8)
    sr = rng.integers(0, 256, (30, 30), dtype=np.uint8)
    as_rgb = (np.repeat(sr[:, :, None], 3, 2), np.repeat(hr[:, :, None], 3, 2))
    assert psnr(sr, hr, crop_border=3) == pytest.approx(psnr(*as_rgb, crop_border=3))
    assert ssim(sr, hr, crop_border=3) == pytest.approx(ssim(*as_rgb, crop_border=3))
    # Y of a grey pixel is 16 + 219/255 * g, so the Y error is the grey error scaled by 219/255.
    gain = 20 * math.log10(255 / 219)
    assert psnr(sr, hr, crop_border=3) == pytest.approx(psnr(sr, hr, crop_border=3, channel="rgb") + gain)
    grey_chw = torch.from_numpy(sr)[None]  # (1, H, W) torch grey output against an RGB reference
    assert psnr(grey_chw, as_rgb[1], crop_border=3) == pytest.approx(psnr(sr, hr, crop_border=3))


def test_bad_inputs_fail_clearly() -> None:
    img = np.zeros((16, 16, 3), dtype=np.uint8)
    with pytest.raises(InputError, match=r"0\.\.255 integers"):
        psnr(img / 255.0 + 0.001, img, crop_border=0)
    with pytest.raises(InputError, match="differ in shape"):
        psnr(img, img[:8], crop_border=0)
    with pytest.raises(InputError, match="channel"):
        psnr(img, img, crop_border=0, channel="ycbcr")
    with pytest.raises(InputError):
        psnr(np.zeros((16, 16, 4), dtype=np.uint8), np.zeros((16, 16, 4), dtype=np.uint8), crop_border=0)


def test_niqe_set5_and_blur(shared_data: Path, niqe_params_file: Path) -> None:
    values: dict[str, float] = {}
    blurred_values: dict[str, float] = {}
    for path in sorted((shared_data / "Set5" / "HR").glob("*.png")):
        img = _rgb(path)
        values[path.stem] = niqe(img, params=niqe_params_file)
        blurred = np.stack([gaussian_filter(img[..., c].astype(float), 2.0) for c in range(3)], -1)
        blurred_values[path.stem] = niqe(blurred.round().astype(np.uint8), params=niqe_params_file)
    assert all(2 < v < 10 for v in values.values())
    # Blur makes every image less natural-looking; on average by several points (head, already soft, least).
    assert all(blurred_values[k] > values[k] + 0.5 for k in values)
    assert np.mean(list(blurred_values.values())) > np.mean(list(values.values())) + 2.0
    # Regression pins (this implementation, float64).
    assert values["baby"] == pytest.approx(3.26555, abs=1e-4)
    assert values["butterfly"] == pytest.approx(5.15485, abs=1e-4)
    img = _rgb(shared_data / "Set5" / "HR" / "bird.png")
    cropped = niqe(img, crop_border=4, params=niqe_params_file)
    assert cropped == niqe(img[4:-4, 4:-4], params=niqe_params_file)
    assert cropped != pytest.approx(values["bird"], abs=0.1)  # 288 -> 280 px: 2x2 instead of 3x3 blocks


def test_niqe_matches_basicsr_reference(shared_data: Path, niqe_params_file: Path) -> None:
    # BasicSR documents 5.7296 (MATLAB R2021a: 5.72957) for its baboon.png; Set14's copy agrees to 1e-3
    # (5.72996 here; the copies or float32-vs-float64 may differ slightly).
    baboon = _rgb(shared_data / "Set14" / "HR" / "baboon.png")
    assert niqe(baboon, params=niqe_params_file) == pytest.approx(5.7296, abs=1e-3)


def test_niqe_rejects_small_images(niqe_params_file: Path) -> None:
    with pytest.raises(InputError, match="96x96"):
        niqe(np.zeros((64, 200, 3), dtype=np.uint8), params=niqe_params_file)
    with pytest.raises(InputError, match="two"):  # one block has no covariance
        niqe(np.zeros((100, 100, 3), dtype=np.uint8), params=niqe_params_file)


def test_niqe_params_download_cache_and_override(
    niqe_params_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert sha256_file(niqe_params_file) == NIQE_PARAMS_SHA256
    source = tmp_path / "mirror" / "niqe_pris_params.npz"
    source.parent.mkdir()
    shutil.copy(niqe_params_file, source)
    monkeypatch.delenv("SRZOO_NIQE_PARAMS", raising=False)
    monkeypatch.setenv("SRZOO_CACHE", str(tmp_path / "cache"))
    got = niqe_params_path(url=source.as_uri())
    assert got == tmp_path / "cache" / "niqe_pris_params.npz"
    assert sha256_file(got) == NIQE_PARAMS_SHA256
    source.unlink()  # cached now: no second download
    assert niqe_params_path(url=source.as_uri()) == got
    img = np.random.default_rng(4).integers(0, 256, (100, 200, 3), dtype=np.uint8)
    assert niqe(img) == pytest.approx(
        niqe(img, params=niqe_params_file)
    )  # default params come from the cache

    monkeypatch.setenv("SRZOO_NIQE_PARAMS", str(niqe_params_file))
    assert niqe_params_path(url="file:///nonexistent") == niqe_params_file
    monkeypatch.setenv("SRZOO_NIQE_PARAMS", str(tmp_path / "missing.npz"))
    with pytest.raises(DataError, match="SRZOO_NIQE_PARAMS"):
        niqe_params_path()


def test_niqe_params_download_rejects_wrong_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SRZOO_NIQE_PARAMS", raising=False)
    monkeypatch.setenv("SRZOO_CACHE", str(tmp_path / "cache"))
    fake = tmp_path / "fake.npz"
    np.savez(fake, mu_pris_param=np.zeros((1, 36)))
    with pytest.raises(DataError, match="sha256"):
        niqe_params_path(url=fake.as_uri())
    assert not (tmp_path / "cache" / "niqe_pris_params.npz").exists()
    with pytest.raises(DataError, match="cannot download"):
        niqe_params_path(url=(tmp_path / "absent.npz").as_uri())
