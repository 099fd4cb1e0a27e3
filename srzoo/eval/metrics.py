"""PSNR, SSIM and NIQE as pure functions, with the SR field's conventions (BT.601 Y, border crop, float64)."""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import convolve, correlate1d
from scipy.special import gamma

from srzoo.errors import DataError, InputError
from srzoo.imaging.resize import imresize

__all__ = [
    "NIQE_PARAMS_SHA256",
    "NIQE_PARAMS_URL",
    "niqe",
    "niqe_params_path",
    "psnr",
    "rgb_to_y",
    "ssim",
    "to_hwc_float64",
]

NIQE_PARAMS_URL = (
    "https://raw.githubusercontent.com/XPixelGroup/BasicSR/master/basicsr/metrics/niqe_pris_params.npz"
)
NIQE_PARAMS_SHA256 = "2a7c182a68c9e7f1b2e2e5ec723279d6f65d912b6fcaf37eb2bf03d7367c4296"
_NIQE_KEYS = ("mu_pris_param", "cov_pris_param", "gaussian_window")

ImageLike = np.ndarray | torch.Tensor  # see to_hwc_float64 for the accepted layouts


def to_hwc_float64(img: ImageLike, what: str = "image") -> np.ndarray:
    """Image -> float64 numpy (H, W, C) holding 0..255 integers.

    numpy input is (H, W) or (H, W, C); torch input is (C, H, W) (the torch layout), (H, W, C) when the last
    dim is 1 or 3 and the first is not, or (H, W). Values must already be quantised to 0..255 integers
    (uint8, or floats holding integers): metrics on unrounded [0, 1] floats would silently be wrong.
    """
    if isinstance(img, torch.Tensor):
        arr = img.detach().cpu().numpy()
        if arr.ndim == 3 and not (arr.shape[-1] in (1, 3) and arr.shape[0] not in (1, 3)):
            arr = arr.transpose(1, 2, 0)
    elif isinstance(img, np.ndarray):
        arr = img
    else:
        raise InputError(f"{what}: expected a numpy array or torch tensor, got {type(img).__name__}")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3):
        raise InputError(f"{what}: expected an (H,W), (H,W,1|3) or (1|3,H,W) image, got shape {img.shape}")
    out = arr.astype(np.float64)
    if arr.dtype != np.uint8 and (np.any(out != np.round(out)) or out.min() < 0 or out.max() > 255):
        raise InputError(
            f"{what}: values must be 0..255 integers (got {arr.dtype} in [{out.min():g}, {out.max():g}]); "
            "quantise first, e.g. (x * 255).round().clamp(0, 255).to(torch.uint8)"
        )
    return out


def _as_rgb(arr: np.ndarray) -> np.ndarray:
    """Greyscale (H, W, 1) -> (H, W, 3) with R = G = B; RGB passes through.

    A grey image is scored as the RGB image the pipeline feeds the model (so Y = 16 + 219/255 * grey), which
    also lets a grey HR be compared with an RGB output. This reproduces the reference Set14 numbers
    (bridge.png is grey); BasicSR's "grey plane is its own Y" gives 0.09 dB less on Set14.
    """
    return np.repeat(arr, 3, axis=2) if arr.shape[2] == 1 else arr


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """BT.601 luma of an (..., 3) RGB array in 0..255: 16 + (65.481 R + 128.553 G + 24.966 B) / 255, float64.

    Not rounded (rounding Y is what makes older published tables differ in the second decimal).
    """
    img = np.asarray(img, dtype=np.float64)
    return 16.0 + (img[..., 0] * 65.481 + img[..., 1] * 128.553 + img[..., 2] * 24.966) / 255.0


def _prepare(img: ImageLike, crop_border: int, channel: str, what: str) -> np.ndarray:
    """(H, W, C') float64 planes the metric runs on: Y (C'=1) or RGB, border removed."""
    if channel not in ("y", "rgb"):
        raise InputError(f"{what}: channel must be 'y' or 'rgb', got {channel!r}")
    arr = _as_rgb(to_hwc_float64(img, what))
    if channel == "y":
        arr = rgb_to_y(arr)[:, :, None]
    if crop_border < 0:
        raise InputError(f"{what}: crop_border must be >= 0, got {crop_border}")
    if crop_border:
        arr = arr[crop_border:-crop_border, crop_border:-crop_border]
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise InputError(f"{what}: nothing left after removing a border of {crop_border} pixels")
    return arr


def _pair(
    sr: ImageLike, hr: ImageLike, crop_border: int, channel: str, what: str
) -> tuple[np.ndarray, np.ndarray]:
    a = _prepare(sr, crop_border, channel, f"{what} (sr)")
    b = _prepare(hr, crop_border, channel, f"{what} (hr)")
    if a.shape != b.shape:
        raise InputError(f"{what}: sr and hr differ in shape after conversion: {a.shape} vs {b.shape}")
    return a, b


def psnr(sr: ImageLike, hr: ImageLike, *, crop_border: int, channel: str = "y") -> float:
    """PSNR in dB (peak 255) of uint8-quantised images; `inf` for identical inputs.

    channel="y": on the BT.601 Y plane; "rgb": one MSE over all channels (BasicSR's convention).
    Greyscale input counts as R = G = B (see `_as_rgb`).
    """
    a, b = _pair(sr, hr, crop_border, channel, "psnr")
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


@functools.lru_cache(maxsize=1)
def _gauss_1d() -> np.ndarray:
    # 11 taps, sigma 1.5, normalised (cv2.getGaussianKernel(11, 1.5)); the 2-D window is its outer product.
    k = np.exp(-((np.arange(11) - 5.0) ** 2) / (2 * 1.5**2))
    return k / k.sum()


def _blur_valid(x: np.ndarray) -> np.ndarray:
    k = _gauss_1d()
    # Separable Gaussian; cropping 5 px keeps only the 'valid' region, so the padding mode never matters.
    y = correlate1d(correlate1d(x, k, axis=0, mode="reflect"), k, axis=1, mode="reflect")
    return y[5:-5, 5:-5]


def _ssim_plane(a: np.ndarray, b: np.ndarray) -> float:
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = _blur_valid(a), _blur_valid(b)
    var_a = _blur_valid(a * a) - mu_a**2
    var_b = _blur_valid(b * b) - mu_b**2
    cov = _blur_valid(a * b) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    return float(np.mean(num / den))


def ssim(sr: ImageLike, hr: ImageLike, *, crop_border: int, channel: str = "y") -> float:
    """SSIM (Wang et al.; 11x11 Gaussian, sigma 1.5, valid region, C1=(0.01*255)^2, C2=(0.03*255)^2).

    channel="y": on the BT.601 Y plane; "rgb": mean of the per-channel SSIMs. Needs >= 11x11 after cropping.
    """
    a, b = _pair(sr, hr, crop_border, channel, "ssim")
    if a.shape[0] < 11 or a.shape[1] < 11:
        raise InputError(
            f"ssim: image is {a.shape[0]}x{a.shape[1]} after cropping; SSIM needs at least 11x11"
        )
    return float(np.mean([_ssim_plane(a[:, :, c], b[:, :, c]) for c in range(a.shape[2])]))


# ----------------------------------------------------------------------------------------------- NIQE


def niqe_params_path(*, url: str = NIQE_PARAMS_URL) -> Path:
    """Path of NIQE's pristine-model npz: $SRZOO_NIQE_PARAMS, else $SRZOO_CACHE/niqe_pris_params.npz.

    When the cached file is missing it is downloaded from `url` (BasicSR's copy) and verified by sha256.
    """
    override = os.environ.get("SRZOO_NIQE_PARAMS")
    if override:
        path = Path(override).expanduser()
        if not path.is_file():
            raise DataError(f"SRZOO_NIQE_PARAMS points to {path}, which is not a file; fix or unset it")
        return path
    from srzoo.framework.download import download  # imported lazily: only NIQE ever needs the network
    from srzoo.framework.files import cache_dir

    return download(
        url,
        cache_dir() / "niqe_pris_params.npz",
        sha256=NIQE_PARAMS_SHA256,
        what="NIQE parameters",
        hint="set SRZOO_NIQE_PARAMS to a local copy of niqe_pris_params.npz",
    )


@functools.lru_cache(maxsize=4)
def _load_params(path: str) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        missing = [k for k in _NIQE_KEYS if k not in data]
        if missing:
            raise DataError(f"NIQE parameter file {path} lacks {missing}; use BasicSR's niqe_pris_params.npz")
        return {k: np.asarray(data[k], dtype=np.float64) for k in _NIQE_KEYS}


@functools.lru_cache(maxsize=1)
def _aggd_table() -> tuple[np.ndarray, np.ndarray]:
    shapes = np.arange(0.2, 10.001, 0.001)
    r = 1.0 / shapes
    return shapes, gamma(2 * r) ** 2 / (gamma(r) * gamma(3 * r))


def _aggd(v: np.ndarray) -> tuple[float, float, float]:
    """Fit an asymmetric generalised Gaussian (moment matching on a grid): shape alpha, left/right scales."""
    v = v.ravel()
    shapes, r_gam = _aggd_table()
    left = np.sqrt(np.mean(v[v < 0] ** 2))
    right = np.sqrt(np.mean(v[v > 0] ** 2))
    g = left / right
    rhat = np.mean(np.abs(v)) ** 2 / np.mean(v**2)
    rnorm = rhat * (g**3 + 1) * (g + 1) / (g**2 + 1) ** 2
    alpha = shapes[np.argmin((r_gam - rnorm) ** 2)]
    k = np.sqrt(gamma(1 / alpha) / gamma(3 / alpha))
    return alpha, left * k, right * k


def _block_features(block: np.ndarray) -> list[float]:
    alpha, bl, br = _aggd(block)
    feats = [alpha, (bl + br) / 2]
    # Products of neighbours (horizontal, vertical, two diagonals) capture the structure distortions break.
    for shift in ((0, 1), (1, 0), (1, 1), (1, -1)):
        alpha, bl, br = _aggd(block * np.roll(block, shift, axis=(0, 1)))
        feats += [alpha, (br - bl) * gamma(2 / alpha) / gamma(1 / alpha), bl, br]
    return feats


def _niqe_y(img: np.ndarray, p: Mapping[str, np.ndarray], block: int = 96) -> float:
    nh, nw = img.shape[0] // block, img.shape[1] // block
    if nh < 1 or nw < 1 or nh * nw < 2:
        # Features are fitted per block and their covariance needs at least two blocks.
        raise InputError(
            f"niqe: image is {img.shape[0]}x{img.shape[1]}; NIQE needs two {block}x{block} blocks "
            f"(at least {block}x{2 * block} or {2 * block}x{block} after cropping)"
        )
    img = img[: nh * block, : nw * block]
    window = p["gaussian_window"]
    feats = []
    for level in (1, 2):
        mu = convolve(img, window, mode="nearest")
        sigma = np.sqrt(np.abs(convolve(img * img, window, mode="nearest") - mu * mu))
        norm = (img - mu) / (sigma + 1)
        b = block // level
        # Column-major block order as BasicSR/MATLAB; the order does not change mean or covariance.
        feats.append(
            np.array(
                [
                    _block_features(norm[i * b : (i + 1) * b, j * b : (j + 1) * b])
                    for j in range(nw)
                    for i in range(nh)
                ]
            )
        )
        if level == 1:
            # MATLAB-style antialiased bicubic halving (BasicSR runs it on img/255; linear, so same result).
            img = imresize(torch.from_numpy(img), scale=0.5).numpy()
    dist = np.concatenate(feats, axis=1)
    mu_d = np.nanmean(dist, axis=0)
    cov_d = np.cov(dist[~np.isnan(dist).any(axis=1)], rowvar=False)
    diff = p["mu_pris_param"].ravel() - mu_d
    inv = np.linalg.pinv((p["cov_pris_param"] + cov_d) / 2)
    return float(np.sqrt(diff @ inv @ diff))


def niqe(
    img: ImageLike,
    *,
    crop_border: int = 0,
    params: Mapping[str, np.ndarray] | str | os.PathLike | None = None,
) -> float:
    """NIQE (Mittal et al. 2012; lower is better) of a uint8-quantised image, as BasicSR's calculate_niqe.

    Scored on the BT.601 Y plane rounded to integers (as MATLAB); greyscale counts as R = G = B.
    `params`: a mapping with mu_pris_param, cov_pris_param, gaussian_window, an npz path, or None for
    `niqe_params_path()`. Needs two 96x96 blocks (e.g. 96x192) after cropping.
    """
    # Y rounded to integers as MATLAB's uint8 rgb2ycbcr (BasicSR rounds too); grey counts as R = G = B.
    y = np.round(rgb_to_y(_as_rgb(to_hwc_float64(img, "niqe"))))
    if crop_border:
        y = y[crop_border:-crop_border, crop_border:-crop_border]
    if params is None or isinstance(params, (str, os.PathLike)):
        params = _load_params(str(params if params is not None else niqe_params_path()))
    return _niqe_y(np.ascontiguousarray(y), params)
