"""Which kernel runs fp32 3x3 convolutions at CPU inference: oneDNN (direct, default) or NNPACK (Winograd).

NNPACK's Winograd F(6x6,3x3) kernels do ~4x fewer multiplications than a direct 3x3 convolution. Measured
on a 2-core AVX-512 EPYC with one thread, the 23-block RRDBNet ran 1.4-1.8x faster than with oneDNN's fused
direct convolutions, but its outputs moved by up to ~4e-5 on real images (oneDNN's: ~1e-5), past the 1e-5
that "the same output" means here, and with two threads NNPACK was slower than oneDNN. So it is opt-in:
`SRZOO_CPU_CONV=nnpack`, `--cpu-conv nnpack` or `load_model(..., cpu_conv="nnpack")`; `auto` times both on a
small dense block once per thread count and keeps the faster (srzoo.inference.kernel_choice).
"""

from __future__ import annotations

import functools
import os
from typing import Literal

import torch

from srzoo.errors import ConfigError, did_you_mean

CpuConv = Literal["auto", "onednn", "nnpack"]
CHOICES: tuple[str, ...] = ("onednn", "nnpack", "auto")
DEFAULT = "onednn"
ENV = "SRZOO_CPU_CONV"


def check_choice(value: str, where: str = "cpu_conv") -> str:
    """`value` when it names a backend, else a ConfigError with the choices."""
    if value not in CHOICES:
        raise ConfigError(f"{where}: {value!r} is not a CPU conv backend{did_you_mean(value, CHOICES)}")
    return value


@functools.cache
def nnpack_usable() -> bool:
    """True when this torch build has NNPACK and it initialised on this CPU.

    The check also initialises NNPACK, which its conv op does not do itself (it fails until then).
    """
    try:
        return bool(torch.backends.nnpack.is_available())
    except RuntimeError:
        return False


def requested() -> str:
    """The backend asked for by SRZOO_CPU_CONV (default onednn)."""
    return check_choice(os.environ.get(ENV) or DEFAULT, where=ENV)


def conv3x3(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, padding: list[int]
) -> torch.Tensor:
    """NNPACK convolution of an NCHW fp32 batch, one image at a time.

    NNPACK's single-image path is its Winograd inference kernel; batches go through its training-oriented
    path, which measured slower here.
    """
    pad = [padding[0], padding[0], padding[1], padding[1]]
    if x.shape[0] == 1:
        return torch._nnpack_spatial_convolution(x, weight, bias, pad, [1, 1])
    return torch.cat(
        [
            torch._nnpack_spatial_convolution(x[i : i + 1], weight, bias, pad, [1, 1])
            for i in range(x.shape[0])
        ]
    )


def nnpack_fits(
    x: torch.Tensor, weight: torch.Tensor, stride: list[int], dilation: list[int], groups: int
) -> bool:
    """True when NNPACK computes this convolution: fp32 NCHW on CPU, 3x3, stride 1, no dilation or groups."""
    return (
        x.device.type == "cpu"
        and x.dtype == torch.float32
        and weight.dtype == torch.float32
        and x.dim() == 4
        and x.is_contiguous()
        and x.shape[1] == weight.shape[1]
        and tuple(weight.shape[-2:]) == (3, 3)
        and list(stride) == [1, 1]
        and list(dilation) == [1, 1]
        and groups == 1
    )
