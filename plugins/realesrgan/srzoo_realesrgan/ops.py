"""Batched degradation operators on (N, C, H, W) tensors in [0, 1]: per-sample blur, resize, noise, JPEG, USM.

Random draws come from an explicit CPU `torch.Generator`; bulk noise is drawn on the batch's device from a
seed taken out of that generator, so the result depends only on the generator's state (and the device type).
"""

from __future__ import annotations

import functools
import io

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

RESIZE_MODES = ("area", "bilinear", "bicubic")
# ITU-R BT.601 luma weights (the ones torchvision's rgb_to_grayscale uses)
GREY_WEIGHTS = (0.299, 0.587, 0.114)


def device_generator(gen: torch.Generator, device: torch.device) -> torch.Generator:
    """A generator on `device` seeded from `gen` (CPU): noise is drawn where the batch lives."""
    seed = int(torch.randint(0, 2**62, (), generator=gen))
    try:
        return torch.Generator(device=device).manual_seed(seed)
    except RuntimeError:  # a backend without device generators: draw on the CPU and move
        return torch.Generator().manual_seed(seed)


def _randn(shape: tuple[int, ...], gen: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    out = torch.randn(shape, generator=gen, device=gen.device, dtype=like.dtype)
    return out.to(like.device)


def filter2d(img: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Convolve each sample with its own odd k x k kernel (`kernel` (N, k, k) or (k, k)), same size out.

    Borders are reflected (BasicSR's filter2D); an image smaller than the kernel's half-width cannot be
    reflected, so it is edge-replicated instead.
    """
    n, c, h, w = img.shape
    k = kernel.shape[-1]
    pad = k // 2
    mode = "reflect" if pad < h and pad < w else "replicate"
    padded = F.pad(img, (pad, pad, pad, pad), mode=mode)
    weight = kernel.to(img.device, img.dtype).reshape(-1, 1, k, k)
    if weight.shape[0] == 1:
        out = F.conv2d(padded.reshape(n * c, 1, h + 2 * pad, w + 2 * pad), weight)
    else:
        weight = weight.repeat_interleave(c, dim=0)  # (N*C, 1, k, k): sample i's kernel on its C channels
        out = F.conv2d(padded.reshape(1, n * c, h + 2 * pad, w + 2 * pad), weight, groups=n * c)
    return out.reshape(n, c, h, w)


def filter_separable(img: torch.Tensor, k1: torch.Tensor) -> torch.Tensor:
    """filter2d with the separable kernel outer(k1, k1): `B_h @ img @ B_w.T`, where B_n is the n x n matrix of
    the padded 1-D convolution (borders as filter2d's). USM's 101-tap blur as a direct convolution (one
    channel, a long kernel) is slow on a CPU; two small matrix products do the same sums, in another order,
    much faster (it was the dearest part of a degraded training batch)."""
    h, w = img.shape[-2:]
    k = k1.shape[-1]
    reflect = k // 2 < h and k // 2 < w
    key = tuple(float(v) for v in k1.tolist())
    rows = _band_matrix(h, key, reflect).to(img.device, img.dtype)
    cols = _band_matrix(w, key, reflect).to(img.device, img.dtype)
    return rows @ img @ cols.T


@functools.lru_cache(maxsize=8)  # a 2K-pixel side is a 33 MB matrix
def _band_matrix(n: int, k1: tuple[float, ...], reflect: bool) -> torch.Tensor:
    """B with (B @ x)[i] = sum_j k1[j] * x[border(i + j - k // 2)]: reflect (without the edge sample, as
    F.pad's reflect) or replicate."""
    k, pad = len(k1), len(k1) // 2
    index = torch.arange(-pad, n + pad)
    if reflect:
        index = index.abs()
        index = torch.where(index > n - 1, 2 * (n - 1) - index, index)
    else:
        index = index.clamp(0, n - 1)
    windows = index.unfold(0, k, 1)  # (n, k): the source sample of each tap of each output
    out = torch.zeros(n, n, dtype=torch.float64)
    out.scatter_add_(1, windows, torch.tensor(k1, dtype=torch.float64).expand(n, k).contiguous())
    return out


def resize(img: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    """F.interpolate to `size` (at least 1x1) with one of area / bilinear / bicubic (no antialias)."""
    size = (max(1, int(size[0])), max(1, int(size[1])))
    if mode == "area":
        return F.interpolate(img, size=size, mode="area")
    return F.interpolate(img, size=size, mode=mode, align_corners=False)


def gaussian_noise(
    img: torch.Tensor, sigma: torch.Tensor, grey: torch.Tensor, gen: torch.Generator
) -> torch.Tensor:
    """Additive white Gaussian noise, std `sigma`/255 per sample; samples with `grey` share it across channels."""
    n, c, h, w = img.shape
    dev = device_generator(gen, img.device)
    colour = _randn((n, c, h, w), dev, img)
    mono = _randn((n, 1, h, w), dev, img)
    g = grey.to(img).view(n, 1, 1, 1)
    noise = colour * (1 - g) + mono * g
    return noise * (sigma.to(img).view(n, 1, 1, 1) / 255.0)


def _levels(img: torch.Tensor) -> torch.Tensor:
    """Per-sample 2^ceil(log2(#distinct 8-bit values)): the photon-count scale of Poisson noise."""
    codes = (img * 255.0).round().long().flatten(1)  # img is already on the 8-bit grid
    offsets = torch.arange(img.shape[0], device=img.device).unsqueeze(1) * 256
    present = torch.bincount((codes + offsets).flatten(), minlength=256 * img.shape[0]).view(-1, 256) > 0
    counts = present.sum(1).clamp(min=1).double()
    return torch.exp2(torch.ceil(torch.log2(counts))).to(img.dtype).view(-1, 1, 1, 1)


def _poisson(img: torch.Tensor, dev: torch.Generator) -> torch.Tensor:
    """Poisson(img * levels) / levels - img on the 8-bit-quantised image: shot noise with var = img / levels."""
    q = (img * 255.0).round().clamp(0, 255) / 255.0
    vals = _levels(q)
    rate = (q * vals).to(dev.device)
    counts = torch.poisson(rate, generator=dev).to(img.device)
    return counts / vals - q


def poisson_noise(
    img: torch.Tensor, scale: torch.Tensor, grey: torch.Tensor, gen: torch.Generator
) -> torch.Tensor:
    """Signal-dependent Poisson noise times `scale` per sample; `grey` samples use the luma's noise on all channels."""
    n = img.shape[0]
    dev = device_generator(gen, img.device)
    colour = _poisson(img, dev)
    luma = (img * img.new_tensor(GREY_WEIGHTS).view(1, 3, 1, 1)).sum(1, keepdim=True)
    mono = _poisson(luma, dev).expand_as(img)
    g = grey.to(img).view(n, 1, 1, 1)
    return (colour * (1 - g) + mono * g) * scale.to(img).view(n, 1, 1, 1)


def jpeg(img: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
    """Real JPEG round trip per sample at integer `quality` (libjpeg via Pillow, 4:2:0; deterministic).

    The image is clamped and rounded to 8 bits first, as an encoder sees it; the decoded result comes back
    as float on the input's device. (Real-ESRGAN uses a differentiable JPEG approximation; the LR is not
    differentiated through, so the real codec is used here.)
    """
    data = (img.detach().clamp(0, 1) * 255.0).round().to("cpu", torch.uint8).permute(0, 2, 3, 1).numpy()
    out = []
    for sample, q in zip(data, quality.tolist()):
        mode = "L" if sample.shape[-1] == 1 else "RGB"
        buffer = io.BytesIO()
        Image.fromarray(sample.squeeze(-1) if mode == "L" else sample, mode).save(
            buffer, format="JPEG", quality=round(q)
        )
        decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert(mode))
        out.append(torch.from_numpy(decoded.reshape(sample.shape).copy()))
    return torch.stack(out).permute(0, 3, 1, 2).to(img.device, img.dtype) / 255.0


def gaussian_kernel_1d(size: int, sigma: float) -> torch.Tensor:
    """Normalised 1-D Gaussian; sigma <= 0 means OpenCV's default 0.3 * ((size - 1) / 2 - 1) + 0.8."""
    if sigma <= 0:
        sigma = 0.3 * ((size - 1) * 0.5 - 1) + 0.8
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    k = torch.exp(-(x**2) / (2 * sigma**2))
    return k / k.sum()


def usm_sharpen(
    img: torch.Tensor, *, radius: int = 50, sigma: float = 0.0, weight: float = 0.5, threshold: float = 10.0
) -> torch.Tensor:
    """Unsharp masking as Real-ESRGAN sharpens its targets (BasicSR USMSharp, radius 50, weight 0.5, threshold 10).

    residual = img - blur(img); sharp = clip(img + weight * residual); pixels whose |residual| exceeds
    threshold/255 form a mask, blurred into a soft mask that blends sharp over img.
    """
    size = 2 * radius + 1
    k1 = gaussian_kernel_1d(size, sigma)
    blur = filter_separable(img, k1)
    residual = img - blur
    mask = ((residual.abs() * 255.0) > threshold).to(img.dtype)
    soft = filter_separable(mask, k1)
    sharp = (img + weight * residual).clamp(0, 1)
    return soft * sharp + (1 - soft) * img
