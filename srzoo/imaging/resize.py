"""MATLAB-exact bicubic `imresize` (antialiased down, and up) as batched torch matmuls, plus LR helpers."""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from torch import Tensor

from srzoo.errors import InputError

__all__ = ["degrade_bicubic", "imresize", "imresize_uint8", "modcrop", "resize_matrix"]

_KERNEL_WIDTH = 4.0  # support of MATLAB's cubic kernel (a = -0.5): |x| < 2


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5, exactly as MATLAB's `cubic` writes it."""
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    near = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return near + far


@functools.lru_cache(maxsize=256)
def _matrix_np(in_len: int, out_len: int, scale: float, antialias: bool) -> np.ndarray:
    # float64 numpy so the weights are identical on every device and for every input dtype.
    aa = antialias and scale < 1
    width = _KERNEL_WIDTH / scale if aa else _KERNEL_WIDTH
    x = np.arange(1, out_len + 1, dtype=np.float64)
    # 1-based input coordinate of each output pixel centre (MATLAB's mapping keeps pixel areas aligned).
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    taps = math.ceil(width) + 2  # one spare tap each side; spare taps get weight 0
    idx = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]
    dist = u[:, None] - idx
    # Antialiasing stretches the kernel by 1/scale (and scales it down so it still integrates to 1).
    weights = scale * _cubic(dist * scale) if aa else _cubic(dist)
    weights = weights / weights.sum(axis=1, keepdims=True)
    # MATLAB mirrors out-of-range indices: aux = [1..n, n..1], index = aux(mod(i-1, 2n)+1).
    zero_based = np.mod(idx.astype(np.int64) - 1, 2 * in_len)
    mirrored = np.where(zero_based < in_len, zero_based, 2 * in_len - 1 - zero_based)
    mat = np.zeros((out_len, in_len), dtype=np.float64)
    rows = np.repeat(np.arange(out_len), taps)
    # Mirrored taps can land on the same input pixel; their weights add, as MATLAB's sum does.
    np.add.at(mat, (rows, mirrored.reshape(-1)), weights.reshape(-1))
    mat.setflags(write=False)
    return mat


def resize_matrix(
    in_len: int,
    out_len: int,
    scale: float,
    *,
    antialias: bool = True,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> Tensor:
    """(out_len, in_len) matrix M with `resized = M @ signal` for one dimension, MATLAB bicubic rules."""
    # torch.tensor copies: the cached numpy matrix is read-only and must stay shared.
    return torch.tensor(_matrix_np(in_len, out_len, float(scale), antialias), dtype=dtype, device=device)


def _output_len(in_len: int, scale: float) -> int:
    # MATLAB uses ceil(scale * n); the tolerance stops 1/3 * 255 = 85.00000000000001 becoming 86.
    exact = in_len * scale
    return max(1, math.ceil(exact - 1e-9 * max(1.0, abs(exact))))


def _plan(
    h: int, w: int, scale: float | None, size: tuple[int, int] | None
) -> tuple[tuple[float, float], tuple[int, int]]:
    if (scale is None) == (size is None):
        raise InputError("imresize: give exactly one of scale= or size=; e.g. imresize(x, scale=0.25)")
    if scale is not None:
        if not scale > 0:
            raise InputError(f"imresize: scale must be > 0, got {scale}")
        return (float(scale), float(scale)), (_output_len(h, scale), _output_len(w, scale))
    out_h, out_w = (int(s) for s in size)
    if out_h < 1 or out_w < 1:
        raise InputError(f"imresize: size must be positive (height, width), got {size}")
    return (out_h / h, out_w / w), (out_h, out_w)


def _as_nchw(x: Tensor, what: str) -> tuple[Tensor, tuple[int, ...]]:
    if not isinstance(x, Tensor):
        raise InputError(
            f"{what}: expected a torch.Tensor (N,C,H,W), (C,H,W) or (H,W), got {type(x).__name__}"
        )
    if x.ndim not in (2, 3, 4):
        raise InputError(f"{what}: expected (N,C,H,W), (C,H,W) or (H,W), got shape {tuple(x.shape)}")
    shape = tuple(x.shape)
    return x.reshape((1,) * (4 - x.ndim) + shape), shape


def _resize_passes(
    x: Tensor, scales: tuple[float, float], out_hw: tuple[int, int], antialias: bool, quantize: bool
) -> Tensor:
    h, w = x.shape[-2:]
    mats = {
        0: resize_matrix(h, out_hw[0], scales[0], antialias=antialias, dtype=x.dtype, device=x.device),
        1: resize_matrix(w, out_hw[1], scales[1], antialias=antialias, dtype=x.dtype, device=x.device),
    }
    # MATLAB resizes the dimension with the smaller scale first; on ties (the usual case) height first.
    # Python's sort is stable, so equal scales keep (height, width).
    for dim in sorted((0, 1), key=lambda d: scales[d]):
        x = mats[0] @ x if dim == 0 else x @ mats[1].T
        if quantize:
            # uint8 after each pass as MATLAB: round half away from zero (values >= -0.5 here), saturate.
            x = torch.floor(x + 0.5).clamp_(0, 255)
    return x


def imresize(
    x: Tensor, scale: float | None = None, size: tuple[int, int] | None = None, *, antialias: bool = True
) -> Tensor:
    """MATLAB `imresize(x, scale, 'bicubic')` (or to `size`=(H, W)) on float tensors in any value range.

    Accepts (N,C,H,W), (C,H,W) or (H,W); returns the same layout and dtype on the same device. Computes in
    float64 for float64 input and in float32 otherwise. No rounding or clipping (bicubic overshoots).
    """
    x4, shape = _as_nchw(x, "imresize")
    if not torch.is_floating_point(x4):
        raise InputError(
            f"imresize: expected a float tensor, got {x4.dtype}; use imresize_uint8 for uint8 images"
        )
    scales, out_hw = _plan(x4.shape[-2], x4.shape[-1], scale, size)
    work = torch.float64 if x4.dtype == torch.float64 else torch.float32
    y = _resize_passes(x4.to(work), scales, out_hw, antialias, quantize=False).to(x.dtype)
    return y.reshape(shape[:-2] + out_hw)


def imresize_uint8(img: Tensor, scale: float | None = None, size: tuple[int, int] | None = None) -> Tensor:
    """MATLAB `imresize` on a uint8 image: bicubic, antialiased, rounded+saturated to uint8 after EACH pass.

    `img` is uint8 (or float holding 0..255 integers), shaped (N,C,H,W), (C,H,W) or (H,W); returns uint8.
    This is the rule the official benchmark LR files were made with (bit-exact).
    """
    x4, shape = _as_nchw(img, "imresize_uint8")
    scales, out_hw = _plan(x4.shape[-2], x4.shape[-1], scale, size)
    # float64 keeps sums exact enough that ties (k + 0.5, common with the dyadic x2/x4 weights) are real ties.
    y = _resize_passes(x4.to(torch.float64), scales, out_hw, True, quantize=True).to(torch.uint8)
    return y.reshape(shape[:-2] + out_hw)


def modcrop(img: Tensor | np.ndarray, scale: int) -> Tensor | np.ndarray:
    """Crop height and width down to multiples of `scale` (bottom/right rows and columns are dropped).

    torch tensors are (..., H, W); numpy arrays are (H, W) or (H, W, C), the PIL/numpy image layout.
    """
    scale = int(scale)
    if scale < 1:
        raise InputError(f"modcrop: scale must be a positive integer, got {scale}")
    if isinstance(img, np.ndarray) and img.ndim == 3:
        h, w = img.shape[:2]
        return img[: h - h % scale, : w - w % scale]
    if img.ndim < 2:
        raise InputError(
            f"modcrop: expected an image with at least 2 dimensions, got shape {tuple(img.shape)}"
        )
    h, w = img.shape[-2:]
    return img[..., : h - h % scale, : w - w % scale]


def degrade_bicubic(hr: Tensor, scale: int) -> Tensor:
    """The field's bicubic LR: MATLAB imresize(modcrop(HR, s), 1/s, 'bicubic') on uint8, rounding per pass."""
    return imresize_uint8(modcrop(hr, scale), scale=1.0 / int(scale))
