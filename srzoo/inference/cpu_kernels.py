"""Which kernel runs fp32 3x3 convolutions at CPU inference: oneDNN (direct, default) or NNPACK (Winograd).

NNPACK's Winograd F(6x6,3x3) kernels do ~4x fewer multiplications than a direct 3x3 convolution. Measured
on a 2-core AVX-512 EPYC with one thread, the 23-block RRDBNet ran 1.4-1.8x faster than with oneDNN's fused
direct convolutions, but its outputs moved by up to ~4e-5 on real images (oneDNN's: ~1e-5), past the 1e-5
that "the same output" means here, and with two threads NNPACK was slower than oneDNN. So it is opt-in:
`SRZOO_CPU_CONV=nnpack`, `--cpu-conv nnpack` or `load_model(..., cpu_conv="nnpack")`; `auto` times both on a
small dense block once per thread count and keeps the faster.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from typing import Literal

import torch

from srzoo.errors import ConfigError, did_you_mean

CpuConv = Literal["auto", "onednn", "nnpack"]
CHOICES: tuple[str, ...] = ("onednn", "nnpack", "auto")
DEFAULT = "onednn"
ENV = "SRZOO_CPU_CONV"
_chosen: dict[int, str] = {}  # thread count -> the backend `auto` measured faster


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


def resolve(choice: str | None = None) -> str:
    """The kernel to run (onednn or nnpack): `choice`, else $SRZOO_CPU_CONV, else onednn.

    `auto` times both once per thread count and keeps the faster.
    """
    choice = check_choice(choice) if choice else requested()
    if choice == "onednn" or not nnpack_usable():
        return "onednn"
    if choice == "nnpack":
        return "nnpack"
    threads = torch.get_num_threads()
    if threads not in _chosen:
        _chosen[threads] = _calibrate()
    return _chosen[threads]


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


def _dense_block(channels_last: bool) -> Callable[[], torch.Tensor]:
    """A 4-conv RRDB-like dense block at 64x64 (fused conv + leaky ReLU, concat), in the given layout."""
    from srzoo.inference.fastpath import FusedConv2d  # fastpath imports this module

    fmt = torch.channels_last if channels_last else torch.contiguous_format
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(1, 64, 64, 64, generator=gen).contiguous(memory_format=fmt)
    convs = []
    for k in range(4):
        conv = torch.nn.Conv2d(64 + 32 * k, 32, 3, 1, 1).requires_grad_(False)
        convs.append(FusedConv2d(conv.to(memory_format=fmt), act="leaky_relu", slope=0.2))

    def run() -> torch.Tensor:
        feats = [x]
        for conv in convs:
            feats.append(conv(torch.cat(feats, 1)))
        return feats[-1]

    return run


def _best_time(fn: Callable[[], torch.Tensor], reps: int = 3) -> float:
    fn()  # warm-up: first-call allocations, weight packing
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _calibrate() -> str:
    """Time the same dense block through NNPACK and through oneDNN's fused kernels; the faster wins."""
    with torch.inference_mode():
        nnpack = _best_time(_dense_block(channels_last=False))
        onednn = _best_time(_dense_block(channels_last=True))
    return "nnpack" if nnpack < onednn else "onednn"
