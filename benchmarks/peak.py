"""The machine's own fp32 / bf16 (fp16 on GPU) peak, from matmul and convolution microbenchmarks.

Run from the repository root:  .venv/bin/python benchmarks/peak.py [--device cpu|cuda] [--quick]
Writes benchmarks/results/peak_<device>.json and .md. The peak of a dtype is the best of several kernels
(MKL/cuBLAS matmul, oneDNN/cuDNN 1x1 and 3x3 convolutions in channels_last): the fastest thing this
torch build does on this machine, so "% of peak" is measured, not taken from a spec sheet.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import common
import torch
import torch.nn.functional as F


def _kernels(device: str, dtype: torch.dtype, quick: bool) -> dict[str, tuple[Any, int]]:
    """name -> (zero-argument callable, FLOPs per call)."""
    cuda = device == "cuda"
    n = (8192 if not quick else 2048) if cuda else (2048 if not quick else 512)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    kernels: dict[str, tuple[Any, int]] = {f"matmul {n}^3": (lambda: torch.mm(a, b), 2 * n**3)}
    cl = torch.channels_last
    side, ch = (128, 256) if cuda else (64, 128)
    if quick:
        side, ch = side // 4, ch // 2
    x3 = torch.randn(8 if cuda else 1, ch, side, side, device=device, dtype=dtype).contiguous(
        memory_format=cl
    )
    w3 = torch.randn(ch, ch, 3, 3, device=device, dtype=dtype).contiguous(memory_format=cl)
    kernels[f"conv3x3 {ch}ch {side}^2"] = (
        lambda: F.conv2d(x3, w3, padding=1),
        2 * 9 * ch * ch * side * side * x3.shape[0],
    )
    c1 = 4 * ch
    x1 = torch.randn(x3.shape[0], c1, side // 2, side // 2, device=device, dtype=dtype).contiguous(
        memory_format=cl
    )
    w1 = torch.randn(c1, c1, 1, 1, device=device, dtype=dtype).contiguous(memory_format=cl)
    kernels[f"conv1x1 {c1}ch {side // 2}^2"] = (
        lambda: F.conv2d(x1, w1),
        2 * c1 * c1 * (side // 2) ** 2 * x1.shape[0],
    )
    return kernels


def measure(
    device: str = "cpu",
    dtypes: tuple[str, ...] | None = None,
    *,
    quick: bool = False,
    seconds: float = 2.0,
    clock: Any = time.perf_counter,
) -> dict[str, Any]:
    """{dtype: {"peak_gflops": best, "kernels": {name: GFLOP/s}}} — best of each kernel's timed calls."""
    names = dtypes or (("fp32", "bf16", "fp16") if device == "cuda" else ("fp32", "bf16"))
    dtype_of = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
    out: dict[str, Any] = {}
    cuda = device == "cuda"
    prev = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) if cuda else None
    if cuda:  # fp32 peak means real fp32: cuBLAS and cuDNN would otherwise use TF32 tensor cores
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        with torch.inference_mode():
            for name in names:
                kernels = _kernels(device, dtype_of[name], quick)
                rates = {}
                for label, (fn, flops) in kernels.items():
                    fn()  # warm-up: oneDNN/cuBLAS pick and JIT their kernels on the first call
                    times = common.alternate(
                        {label: fn}, reps=1000, warmup=1, device=device, budget_s=seconds, clock=clock
                    )
                    # best, not median: a peak is what the hardware can do when nothing else interferes
                    rates[label] = flops / min(times[label]) / 1e9
                out[name] = {"peak_gflops": max(rates.values()), "kernels": rates}
    finally:
        if prev is not None:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = prev
    return out


def markdown(report: dict[str, Any]) -> str:
    rows = []
    for dtype, entry in report["peak"].items():
        for label, rate in entry["kernels"].items():
            rows.append((dtype, label, rate, "**peak**" if rate == entry["peak_gflops"] else ""))
    parts = [f"# Peak throughput ({report['device']})", common.machine_line(report["machine"])]
    parts.append(f"Best timed call per kernel ({report.get('clock', 'wall')} clock).")
    if report["device"] == "cpu" and report["machine"].get("cpu_bf16_native") is False:
        parts.append(
            "This CPU has no oneDNN bf16 kernels: the bf16 rows time PyTorch's generic fallback loops "
            "(what srzoo refuses to run; srzoo.inference.precision)."
        )
    parts.append(common.markdown_table(("dtype", "kernel", "GFLOP/s", ""), rows))
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--threads", type=int, help="torch threads (default: physical cores)")
    p.add_argument("--seconds", type=float, default=3.0, help="time budget per kernel")
    p.add_argument("--quick", action="store_true", help="tiny sizes (tests)")
    p.add_argument("--out", help="output folder (default benchmarks/results)")
    p.add_argument("--name", help="output file name without extension (default peak_<device>)")
    p.add_argument(
        "--clock",
        default="wall",
        choices=("wall", "cpu"),
        help="cpu: process CPU seconds (use with --threads 1 on a busy machine)",
    )
    args = p.parse_args(argv)
    common.set_threads(args.threads)
    t0 = time.perf_counter()
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    peak = measure(args.device, quick=args.quick, seconds=args.seconds, clock=clock)
    report = {"device": args.device, "machine": common.machine_info(), "clock": args.clock, "peak": peak}
    report["seconds"] = round(time.perf_counter() - t0, 1)
    path = common.write_results(args.name or f"peak_{args.device}", report, markdown(report), args.out)
    for dtype, entry in peak.items():
        common.log(f"{dtype} peak {entry['peak_gflops']:.1f} GFLOP/s")
    common.log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
