"""Which fp32 CPU conv kernel runs: an explicit choice, $SRZOO_CPU_CONV, or `auto` (timed once per thread count)."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from srzoo.inference import cpu_kernels
from srzoo.inference.fastpath import FusedConv2d

_chosen: dict[int, str] = {}  # thread count -> the backend `auto` measured faster
NNPACK_MARGIN = 0.9  # `auto` picks NNPACK only when it takes under 90% of oneDNN's time


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
    """One RRDB dense block at 64x64 (five fused convs, growth 32, concat), in the given layout.

    All five convs: the fifth (192 -> 64 channels) is where Winograd gains most, and leaving it out made the
    block ~1.0x on an AVX2 core where the whole 23-block net ran 1.3-1.6x faster through NNPACK.
    """
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(1, 64, 64, 64, generator=gen).contiguous(memory_format=fmt)
    convs = []
    for k in range(5):
        conv = torch.nn.Conv2d(64 + 32 * k, 64 if k == 4 else 32, 3, 1, 1).requires_grad_(False)
        act = "none" if k == 4 else "leaky_relu"
        convs.append(FusedConv2d(conv.to(memory_format=fmt), act=act, slope=0.2))

    def run() -> torch.Tensor:
        feats = [x]
        for conv in convs:
            feats.append(conv(torch.cat(feats, 1)))
        return feats[-1]

    return run


def _best_time(fn: Callable[[], torch.Tensor], reps: int = 5) -> float:
    # One torch thread runs every kernel in this thread: its CPU time is what the kernel costs, whatever else
    # the machine is doing (a wall clock on a busy 2-core VM flipped the choice from run to run). With more
    # threads only the wall clock sees the parallel work.
    clock = time.thread_time if torch.get_num_threads() == 1 else time.perf_counter
    fn()  # warm-up: first-call allocations, weight packing
    best = float("inf")
    for _ in range(reps):
        start = clock()
        fn()
        best = min(best, clock() - start)
    return best


def _calibrate() -> str:
    """Time the same dense block through NNPACK and through oneDNN's fused kernels; NNPACK must win clearly."""
    with torch.inference_mode():
        nnpack = _best_time(_dense_block(channels_last=False))
        onednn = _best_time(_dense_block(channels_last=True))
    # NNPACK's Winograd rounding moves outputs more than oneDNN's direct kernels: a gain within timing noise
    # is not worth it
    return "nnpack" if nnpack < NNPACK_MARGIN * onednn else "onednn"
