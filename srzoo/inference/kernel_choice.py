"""Which fp32 CPU conv kernel runs: an explicit choice, $SRZOO_CPU_CONV, or `auto` (timed once per thread count)."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from srzoo.inference import cpu_kernels
from srzoo.inference.fastpath import FusedConv2d

_chosen: dict[int, str] = {}  # thread count -> the backend `auto` measured faster


def resolve(choice: str | None = None) -> str:
    """The kernel to run (onednn or nnpack): `choice`, else $SRZOO_CPU_CONV, else onednn.

    `auto` times both once per thread count and keeps the faster.
    """
    choice = cpu_kernels.check_choice(choice) if choice else cpu_kernels.requested()
    if choice == "onednn" or not cpu_kernels.nnpack_usable():
        return "onednn"
    if choice == "nnpack":
        return "nnpack"
    threads = torch.get_num_threads()
    if threads not in _chosen:
        _chosen[threads] = _calibrate()
    return _chosen[threads]


def _dense_block(channels_last: bool) -> Callable[[], torch.Tensor]:
    """A 4-conv RRDB-like dense block at 64x64 (fused conv + leaky ReLU, concat), in the given layout."""
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
