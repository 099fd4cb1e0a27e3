"""Each degradation operator against an independent formula (numpy / scipy / OpenCV), not against itself."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.ndimage
import scipy.special
import torch
from PIL import Image
from srzoo_realesrgan import kernels, ops


def _np_quadratic(size: int, sx: float, sy: float, theta: float) -> np.ndarray:
    ax = np.arange(size) - (size - 1) / 2
    x, y = np.meshgrid(ax, ax)  # x varies along columns
    u = x * math.cos(theta) + y * math.sin(theta)  # coordinates in the rotated (principal) frame
    v = -x * math.sin(theta) + y * math.cos(theta)
    return u**2 / sx**2 + v**2 / sy**2


@pytest.mark.parametrize("size", kernels.KERNEL_SIZES)
def test_every_kernel_type_sums_to_one(size: int) -> None:
    gen = torch.Generator().manual_seed(size)
    for kind in kernels.KERNEL_TYPES:
        k = kernels.random_mixed_kernel(
            gen, size, kernel_types=(kind,), kernel_prob=(1.0,), sigma=(0.2, 3.0), betag=(0.5, 4.0),
            betap=(1.0, 2.0),
        )  # fmt: skip
        assert k.shape == (size, size)
        assert abs(float(k.sum()) - 1.0) < 1e-12 and float(k.min()) >= 0
    assert abs(float(kernels.sinc_kernel(size, 1.2).sum()) - 1.0) < 1e-12


@pytest.mark.parametrize("sx, sy, theta", [(1.5, 1.5, 0.0), (2.5, 0.7, 0.6), (0.9, 2.0, -2.1)])
def test_gaussian_family_matches_closed_forms(sx: float, sy: float, theta: float) -> None:
    q = _np_quadratic(15, sx, sy, theta)
    for ours, ref in (
        (kernels.gaussian_kernel(15, sx, sy, theta), np.exp(-0.5 * q)),
        (kernels.generalized_gaussian_kernel(15, sx, sy, theta, 2.5), np.exp(-0.5 * q**2.5)),
        (kernels.plateau_kernel(15, sx, sy, theta, 1.3), 1 / (1 + q**1.3)),
    ):
        np.testing.assert_allclose(ours.numpy(), ref / ref.sum(), rtol=1e-9, atol=1e-14)


def test_sinc_kernel_values_and_cutoff() -> None:
    size, cutoff = 21, math.pi / 2
    k = kernels.sinc_kernel(size, cutoff).numpy()
    ax = np.arange(size) - (size - 1) / 2
    r = np.hypot(*np.meshgrid(ax, ax))
    with np.errstate(invalid="ignore", divide="ignore"):
        ref = cutoff * scipy.special.j1(cutoff * r) / (2 * np.pi * r)
    ref[size // 2, size // 2] = cutoff**2 / (4 * np.pi)
    # torch's bessel_j1 is a rational approximation good to ~1e-8 absolute, not float64 exact
    np.testing.assert_allclose(k, ref / ref.sum(), rtol=0, atol=1e-7)
    # frequency response: passes below the cut-off, stops above it (truncation ripple stays under 0.15)
    spectrum = np.abs(np.fft.fftshift(np.fft.fft2(k, s=(256, 256))))
    w = np.fft.fftshift(np.fft.fftfreq(256)) * 2 * np.pi
    radius = np.hypot(*np.meshgrid(w, w))
    assert np.abs(spectrum[radius < 0.6 * cutoff] - 1).max() < 0.15
    assert spectrum[(radius > 1.5 * cutoff) & (radius < math.pi)].max() < 0.15


def test_pad_and_pulse() -> None:
    k = kernels.pad_kernel(kernels.gaussian_kernel(7, 1, 1, 0), 21)
    assert k.shape == (21, 21) and abs(float(k.sum()) - 1) < 1e-12 and float(k[:7].abs().sum()) == 0
    img = torch.rand(2, 3, 16, 16)
    assert torch.equal(ops.filter2d(img, kernels.pulse_kernel(21)), img)


def test_filter2d_is_per_sample_reflect_correlation() -> None:
    gen = torch.Generator().manual_seed(0)
    img = torch.rand(3, 2, 24, 20, dtype=torch.float64, generator=gen)
    ks = torch.stack([kernels.gaussian_kernel(9, 1 + i, 0.5, 0.3 * i) for i in range(3)])
    out = ops.filter2d(img, ks)
    for i in range(3):
        for c in range(2):  # scipy's "mirror" is torch's "reflect" (edge pixel not repeated)
            ref = scipy.ndimage.correlate(img[i, c].numpy(), ks[i].numpy(), mode="mirror")
            np.testing.assert_allclose(out[i, c].numpy(), ref, atol=1e-12)


@pytest.mark.parametrize(("h", "w"), [(24, 20), (64, 64), (5, 40)])
def test_filter_separable_is_the_outer_product_kernel(h: int, w: int) -> None:
    # the band-matrix form against scipy's correlation with outer(k1, k1): reflect ("mirror") borders
    # while the half-width fits the image, edge replication ("nearest") when it does not
    gen = torch.Generator().manual_seed(1)
    for taps in (9, 101):
        k1 = ops.gaussian_kernel_1d(taps, 0.0)
        img = torch.rand(2, 3, h, w, dtype=torch.float64, generator=gen)
        out = ops.filter_separable(img, k1)
        mode = "mirror" if taps // 2 < min(h, w) else "nearest"
        ref = scipy.ndimage.correlate(img.numpy(), np.outer(k1, k1)[None, None], mode=mode)
        np.testing.assert_allclose(out.numpy(), ref, atol=1e-12, err_msg=f"{taps} taps on {h}x{w}")


def test_gaussian_noise_std_and_grey() -> None:
    img = torch.full((2, 3, 256, 256), 0.5)
    noise = ops.gaussian_noise(
        img, torch.tensor([10.0, 25.0]), torch.tensor([0.0, 1.0]), torch.Generator().manual_seed(1)
    )
    assert abs(noise[0].std().item() * 255 / 10 - 1) < 0.02
    assert abs(noise[1].std().item() * 255 / 25 - 1) < 0.02
    assert torch.equal(noise[1, 0], noise[1, 2]) and not torch.equal(noise[0, 0], noise[0, 2])


def test_poisson_noise_variance_is_signal_over_levels() -> None:
    # every 8-bit level present: levels = 256, so Var = scale² * v / 256 at pixel value v
    values = torch.arange(256).repeat_interleave(1024).float() / 255
    img = values[torch.randperm(values.numel(), generator=torch.Generator().manual_seed(0))].view(
        1, 1, 512, 512
    )
    img = img.expand(1, 3, 512, 512).contiguous()
    scale = 2.0
    noise = ops.poisson_noise(
        img, torch.tensor([scale]), torch.tensor([0.0]), torch.Generator().manual_seed(2)
    )
    for lo, hi in ((0.1, 0.3), (0.4, 0.6), (0.8, 1.0)):
        sel = (img >= lo) & (img < hi)
        expected = scale**2 * img[sel].mean().item() / 256
        assert abs(noise[sel].var().item() / expected - 1) < 0.05, (lo, hi)
    assert abs(noise.mean().item()) < 1e-3


def _natural(shared_data: Path) -> torch.Tensor:
    img = np.array(Image.open(shared_data / "Set5" / "HR" / "baby.png").convert("RGB"))[128:256, 128:256]
    return torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255


def test_jpeg_error_falls_with_quality_and_is_deterministic(shared_data: Path) -> None:
    img = _natural(shared_data)
    errors = [((ops.jpeg(img, torch.tensor([q])) - img) ** 2).mean().item() for q in (20, 40, 60, 80, 95)]
    assert all(a > b for a, b in itertools.pairwise(errors)), errors
    assert torch.equal(ops.jpeg(img, torch.tensor([37.0])), ops.jpeg(img, torch.tensor([37.0])))


def test_usm_matches_opencv_unsharp_mask(shared_data: Path) -> None:
    img = _natural(shared_data)
    ours = ops.usm_sharpen(img)[0].permute(1, 2, 0).numpy()
    x = img[0].permute(1, 2, 0).numpy().astype(np.float64)
    blur = cv2.GaussianBlur(x, (101, 101), 0)  # OpenCV's default border is reflect-101
    residual = x - blur
    mask = (np.abs(residual) * 255 > 10).astype(np.float64)
    soft = cv2.GaussianBlur(mask, (101, 101), 0)
    ref = soft * np.clip(x + 0.5 * residual, 0, 1) + (1 - soft) * x
    np.testing.assert_allclose(ours, ref, atol=2e-5)
    assert ((ours - x) ** 2).mean() > 1e-6  # it sharpened something
