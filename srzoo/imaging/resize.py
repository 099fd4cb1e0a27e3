"""MATLAB-exact bicubic `imresize` (antialiased down, and up) as batched torch tap sums, plus LR helpers."""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from torch import Tensor

from srzoo.errors import InputError

__all__ = [
    "degrade_bicubic",
    "imresize",
    "imresize_levels",
    "imresize_uint8",
    "imresize_uint8_np",
    "modcrop",
    "resize_matrix",
]

_KERNEL_WIDTH = 4.0  # support of MATLAB's cubic kernel (a = -0.5): |x| < 2


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5, exactly as MATLAB's `cubic` writes it."""
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    near = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return near + far


@functools.lru_cache(maxsize=256)
def _taps_np(in_len: int, out_len: int, scale: float, antialias: bool) -> tuple[np.ndarray, np.ndarray]:
    """MATLAB's `contributions`: (out_len, P) 0-based input indices and float64 weights, in MATLAB's tap order.

    The weights follow imresize.m's formulas and operation order (kernel, sequential row sum, divide), so
    the per-tap sums in `_pass` add up the same terms as MATLAB's loop.
    """
    aa = antialias and scale < 1
    width = _KERNEL_WIDTH / scale if aa else _KERNEL_WIDTH
    x = np.arange(1, out_len + 1, dtype=np.float64)
    # 1-based input coordinate of each output pixel centre (MATLAB's mapping keeps pixel areas aligned).
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    taps = math.ceil(width) + 2  # MATLAB's P: one spare tap each side
    idx = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]
    dist = u[:, None] - idx
    # Antialiasing stretches the kernel by 1/scale (and scales it down so it still integrates to 1).
    weights = scale * _cubic(dist * scale) if aa else _cubic(dist)
    total = weights[:, 0].copy()
    for k in range(1, taps):  # left to right, one add at a time (numpy's sum would pair terms up)
        total += weights[:, k]
    weights = weights / total[:, None]
    # MATLAB mirrors out-of-range indices: aux = [1..n, n..1], index = aux(mod(i-1, 2n)+1).
    zero_based = np.mod(idx.astype(np.int64) - 1, 2 * in_len)
    mirrored = np.where(zero_based < in_len, zero_based, 2 * in_len - 1 - zero_based)
    # MATLAB drops the tap columns that are zero for every output pixel; mirrored taps stay separate terms.
    keep = np.any(weights != 0, axis=0)
    idx_out, w_out = np.ascontiguousarray(mirrored[:, keep]), np.ascontiguousarray(weights[:, keep])
    idx_out.setflags(write=False)
    w_out.setflags(write=False)
    return idx_out, w_out


@functools.lru_cache(maxsize=64)
def _matrix_np(in_len: int, out_len: int, scale: float, antialias: bool) -> np.ndarray:
    idx, weights = _taps_np(in_len, out_len, scale, antialias)
    mat = np.zeros((out_len, in_len), dtype=np.float64)
    rows = np.repeat(np.arange(out_len), idx.shape[1])
    np.add.at(mat, (rows, idx.reshape(-1)), weights.reshape(-1))  # mirrored taps on one pixel add up
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
    """(out_len, in_len) matrix M with `resized ≈ M @ signal` for one dimension, MATLAB bicubic weights.

    Equal to `imresize` up to rounding (it sums the terms in another order); the resizers use the taps.
    """
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


def _order(scales: tuple[float, float]) -> list[int]:
    # MATLAB's dimensionOrder: [~, order] = sort(scale), the smaller scale first; sort is stable, so on ties
    # (every plain `imresize(x, s)`) height first. The official LR files are exact only in this order.
    return sorted((0, 1), key=lambda d: scales[d])


def _as_nchw(x: Tensor, what: str) -> tuple[Tensor, tuple[int, ...]]:
    if not isinstance(x, Tensor):
        raise InputError(
            f"{what}: expected a torch.Tensor (N,C,H,W), (C,H,W) or (H,W), got {type(x).__name__}"
        )
    if x.ndim not in (2, 3, 4):
        raise InputError(f"{what}: expected (N,C,H,W), (C,H,W) or (H,W), got shape {tuple(x.shape)}")
    shape = tuple(x.shape)
    return x.reshape((1,) * (4 - x.ndim) + shape), shape


def _pass(x: Tensor, dim: int, out_len: int, scale: float, antialias: bool) -> Tensor:
    """One 1-D resize along `dim` (2: height, 3: width) of an NCHW tensor, in x's dtype."""
    if dim == 3:  # resize width as height on the transpose: whole rows are then gathered, not single values
        return _pass(x.transpose(2, 3).contiguous(), 2, out_len, scale, antialias).transpose(2, 3)
    idx_np, w_np = _taps_np(x.shape[2], out_len, scale, antialias)
    idx = torch.from_numpy(idx_np.T.copy()).to(x.device)  # (P, out): one row per tap
    w = torch.tensor(w_np.T[:, :, None], dtype=x.dtype, device=x.device)  # (P, out, 1)
    # MATLAB's resize loop sums w1*x1 + w2*x2 + ... tap by tap, left to right, in double. So does this, with
    # separate multiply and add kernels (no fused multiply-add): the same terms in the same order, and the same
    # bits on every device and batch size. Work grows with the taps (4 up, 4*s down), not the image side.
    acc = x.index_select(2, idx[0]).mul_(w[0])
    for k in range(1, idx.shape[0]):
        acc.add_(x.index_select(2, idx[k]).mul_(w[k]))
    return acc


def _resize(
    x: Tensor, scales: tuple[float, float], out_hw: tuple[int, int], antialias: bool, peak: int | None
) -> Tensor:
    for d in _order(scales):
        x = _pass(x, 2 + d, out_hw[d], scales[d], antialias)
        if peak is not None:
            # The integer class after each pass, as MATLAB: round half away from zero (here floor(v + 0.5):
            # equal once saturated, since v < -0.5 clamps to 0 either way), then saturate.
            x = torch.floor(x.add_(0.5)).clamp_(0, peak)
    return x


def imresize(
    x: Tensor, scale: float | None = None, size: tuple[int, int] | None = None, *, antialias: bool = True
) -> Tensor:
    """MATLAB `imresize(x, scale, 'bicubic')` (or to `size`=(H, W)) on float tensors in any value range.

    Accepts (N,C,H,W), (C,H,W) or (H,W); returns the same layout and dtype on the same device. Computes in
    float64 for float64 input and in float32 otherwise. No rounding or clipping (bicubic overshoots): this is
    MATLAB on a double image. For MATLAB on uint8 images use `imresize_uint8`.
    """
    x4, shape = _as_nchw(x, "imresize")
    if not torch.is_floating_point(x4):
        raise InputError(
            f"imresize: expected a float tensor, got {x4.dtype}; use imresize_uint8 for uint8 images"
        )
    scales, out_hw = _plan(x4.shape[-2], x4.shape[-1], scale, size)
    work = torch.float64 if x4.dtype == torch.float64 else torch.float32
    y = _resize(x4.to(work), scales, out_hw, antialias, peak=None).to(x.dtype).contiguous()
    return y.reshape(shape[:-2] + out_hw)


def imresize_levels(
    img: Tensor, scale: float | None = None, size: tuple[int, int] | None = None, *, peak: int = 255
) -> Tensor:
    """MATLAB `imresize` on an integer image class 0..peak (255: uint8, 65535: uint16), as float64 integers.

    `img` holds integers 0..peak in any dtype, shaped (N,C,H,W), (C,H,W) or (H,W). Bicubic, antialiased when
    shrinking, rounded and saturated to the class after EACH 1-D pass (height first), as MATLAB does.
    """
    x4, shape = _as_nchw(img, "imresize_levels")
    if peak < 1:
        raise InputError(f"imresize_levels: peak must be a positive integer (255 for uint8), got {peak}")
    scales, out_hw = _plan(x4.shape[-2], x4.shape[-1], scale, size)
    # float64 keeps each sum exact enough that ties (k + 0.5, common with the dyadic x2/x4 weights) are real
    # ties, and the sums are MATLAB's own (it computes in double).
    y = _resize(x4.to(torch.float64), scales, out_hw, True, peak=int(peak)).contiguous()
    return y.reshape(shape[:-2] + out_hw)


def imresize_uint8(img: Tensor, scale: float | None = None, size: tuple[int, int] | None = None) -> Tensor:
    """MATLAB `imresize` on a uint8 image: bicubic, antialiased, rounded+saturated to uint8 after EACH pass.

    `img` is uint8 (or float holding 0..255 integers), shaped (N,C,H,W), (C,H,W) or (H,W); returns uint8.
    This is the rule the official benchmark LR files were made with (bit-exact).
    """
    return imresize_levels(img, scale, size, peak=255).to(torch.uint8)


def imresize_uint8_np(img: np.ndarray, scale: float) -> np.ndarray:
    """`imresize_uint8` in numpy for small (C, H, W) or (H, W) arrays: the same taps, sums and rounding.

    numpy stays single-threaded and cheap inside DataLoader workers, where many tiny torch ops cost more.
    """
    x = img.astype(np.float64)
    h, w = x.shape[-2:]
    scales = (float(scale), float(scale))
    out_hw = (_output_len(h, scale), _output_len(w, scale))
    for d in _order(scales):
        axis = x.ndim - 2 + d
        idx, wts = _taps_np(x.shape[axis], out_hw[d], scales[d], True)
        wts = wts[:, :, None] if d == 0 else wts
        acc = np.take(x, idx[:, 0], axis=axis) * wts[:, 0]
        for k in range(1, idx.shape[1]):
            acc += np.take(x, idx[:, k], axis=axis) * wts[:, k]
        x = np.clip(np.floor(acc + 0.5), 0, 255)
    return x.astype(np.uint8)


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
