"""Real-ESRGAN blur kernels: (an)isotropic / generalized / plateau Gaussians and the 2-D sinc, sampled from a Generator.

All formulas follow Wang et al. 2021 ("Real-ESRGAN", section 3.1) and BasicSR's degradation module: for a
2x2 covariance Σ = R(θ) diag(σx², σy²) R(θ)ᵀ and pixel offset x from the kernel centre,

    gaussian     k(x) ∝ exp(-½ xᵀΣ⁻¹x)
    generalized  k(x) ∝ exp(-½ (xᵀΣ⁻¹x)^β)
    plateau      k(x) ∝ 1 / (1 + (xᵀΣ⁻¹x)^β)
    sinc         k(x) ∝ ωc J1(ωc |x|) / (2π |x|)      (ideal circular low-pass, cut-off ωc rad/pixel)

Every kernel is normalised to sum 1 and computed in float64 on the CPU (they are at most 21x21).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

KERNEL_TYPES = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso")
KERNEL_SIZES = tuple(range(7, 22, 2))  # 7, 9, …, 21 as in the paper


def uniform(gen: torch.Generator, lo: float, hi: float) -> float:
    """One float uniform in [lo, hi) drawn from `gen` (never the global RNG)."""
    return lo + (hi - lo) * float(torch.rand((), generator=gen, dtype=torch.float64))


def choice(gen: torch.Generator, options: Sequence, probs: Sequence[float] | None = None):
    """One item of `options`, with `probs` as weights (uniform when None)."""
    if probs is None:
        return options[int(torch.randint(len(options), (), generator=gen))]
    weights = torch.tensor([float(p) for p in probs], dtype=torch.float64)
    return options[int(torch.multinomial(weights, 1, generator=gen))]


def _grid(size: int) -> torch.Tensor:
    """(size, size, 2) pixel offsets (x, y) from the centre of an odd-sized kernel."""
    ax = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    yy, xx = torch.meshgrid(ax, ax, indexing="ij")
    return torch.stack((xx, yy), dim=-1)


def quadratic_form(size: int, sigma_x: float, sigma_y: float, theta: float) -> torch.Tensor:
    """xᵀΣ⁻¹x on the kernel grid for Σ = R(θ) diag(σx², σy²) R(θ)ᵀ."""
    c, s = math.cos(theta), math.sin(theta)
    rot = torch.tensor([[c, -s], [s, c]], dtype=torch.float64)
    cov = rot @ torch.diag(torch.tensor([sigma_x**2, sigma_y**2], dtype=torch.float64)) @ rot.T
    grid = _grid(size)
    return torch.einsum("hwi,ij,hwj->hw", grid, torch.linalg.inv(cov), grid)


def _normalise(kernel: torch.Tensor) -> torch.Tensor:
    return kernel / kernel.sum()


def gaussian_kernel(size: int, sigma_x: float, sigma_y: float, theta: float) -> torch.Tensor:
    return _normalise(torch.exp(-0.5 * quadratic_form(size, sigma_x, sigma_y, theta)))


def generalized_gaussian_kernel(
    size: int, sigma_x: float, sigma_y: float, theta: float, beta: float
) -> torch.Tensor:
    return _normalise(torch.exp(-0.5 * quadratic_form(size, sigma_x, sigma_y, theta).pow(beta)))


def plateau_kernel(size: int, sigma_x: float, sigma_y: float, theta: float, beta: float) -> torch.Tensor:
    return _normalise(1.0 / (quadratic_form(size, sigma_x, sigma_y, theta).pow(beta) + 1.0))


def sinc_kernel(size: int, cutoff: float, pad_to: int = 0) -> torch.Tensor:
    """Circular low-pass (2-D sinc) kernel with cut-off `cutoff` rad/pixel, zero-padded to `pad_to`."""
    r = _grid(size).norm(dim=-1)
    safe = torch.where(r > 0, r, torch.ones_like(r))
    kernel = cutoff * torch.special.bessel_j1(cutoff * safe) / (2 * math.pi * safe)
    kernel = torch.where(r > 0, kernel, torch.full_like(r, cutoff**2 / (4 * math.pi)))  # limit at r = 0
    return pad_kernel(_normalise(kernel), pad_to)


def pad_kernel(kernel: torch.Tensor, size: int) -> torch.Tensor:
    """Zero-pad an odd square kernel to `size` (kernels of one batch share a size)."""
    pad = (size - kernel.shape[-1]) // 2
    return torch.nn.functional.pad(kernel, (pad, pad, pad, pad)) if pad > 0 else kernel


def pulse_kernel(size: int) -> torch.Tensor:
    """The identity filter: 1 at the centre."""
    kernel = torch.zeros(size, size, dtype=torch.float64)
    kernel[size // 2, size // 2] = 1.0
    return kernel


def _beta(gen: torch.Generator, lo: float, hi: float) -> float:
    # Half the draws below 1 and half above, as BasicSR does: shapes sharper and flatter than a Gaussian
    # are equally likely whatever the range's length on either side.
    return uniform(gen, lo, 1.0) if uniform(gen, 0.0, 1.0) < 0.5 else uniform(gen, 1.0, hi)


def random_mixed_kernel(
    gen: torch.Generator,
    size: int,
    *,
    kernel_types: Sequence[str],
    kernel_prob: Sequence[float],
    sigma: tuple[float, float],
    betag: tuple[float, float],
    betap: tuple[float, float],
) -> torch.Tensor:
    """One kernel of a type drawn with `kernel_prob`; σ, θ and β drawn uniformly from their ranges."""
    kind = choice(gen, kernel_types, kernel_prob)
    sx = uniform(gen, *sigma)
    if kind.endswith("aniso"):
        sy, theta = uniform(gen, *sigma), uniform(gen, -math.pi, math.pi)
    else:
        sy, theta = sx, 0.0
    if kind.startswith("generalized"):
        return generalized_gaussian_kernel(size, sx, sy, theta, _beta(gen, *betag))
    if kind.startswith("plateau"):
        return plateau_kernel(size, sx, sy, theta, _beta(gen, *betap))
    return gaussian_kernel(size, sx, sy, theta)


def random_blur_kernel(
    gen: torch.Generator,
    *,
    kernel_sizes: Sequence[int],
    kernel_types: Sequence[str],
    kernel_prob: Sequence[float],
    sigma: tuple[float, float],
    betag: tuple[float, float],
    betap: tuple[float, float],
    sinc_prob: float,
    pad_to: int,
) -> torch.Tensor:
    """A first/second-order blur kernel: a sinc with probability `sinc_prob`, else a mixed Gaussian-family one."""
    size = int(choice(gen, kernel_sizes))
    if uniform(gen, 0.0, 1.0) < sinc_prob:
        # small kernels cannot hold a low cut-off: the paper's lower bound is π/3 below 13 px, π/5 from 13
        cutoff = uniform(gen, math.pi / 3 if size < 13 else math.pi / 5, math.pi)
        return sinc_kernel(size, cutoff, pad_to)
    kernel = random_mixed_kernel(
        gen, size, kernel_types=kernel_types, kernel_prob=kernel_prob, sigma=sigma, betag=betag, betap=betap
    )
    return pad_kernel(kernel, pad_to)


def random_final_sinc(
    gen: torch.Generator, *, kernel_sizes: Sequence[int], prob: float, pad_to: int
) -> torch.Tensor:
    """The last-stage filter: a sinc (cut-off U[π/3, π]) with probability `prob`, else the identity."""
    if uniform(gen, 0.0, 1.0) < prob:
        size = int(choice(gen, kernel_sizes))
        return sinc_kernel(size, uniform(gen, math.pi / 3, math.pi), pad_to)
    return pulse_kernel(pad_to)
