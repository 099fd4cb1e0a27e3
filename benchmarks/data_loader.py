"""Training-loader throughput (patches/s) by num_workers, with and without the decoded-array cache.

Run from the repository root:  .venv/bin/python benchmarks/data_loader.py [--quick] [--data-root DIR]
Writes benchmarks/results/data_loader.json and .md (machine info included). The default run takes ~1-2 min.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run as a script from a checkout without installing


@dataclass(frozen=True)
class Case:
    label: str
    dataset: str
    notes: str


CASES = (
    Case("DIV2K sample", "div2k", "2 DIV2K 2K PNGs, official X4 LR files"),
    Case("T91", "t91", "91 small images, LR made on the fly (MATLAB bicubic on the crop's margin)"),
)


def machine() -> dict:
    import numpy
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_average_1min": round(load, 2) if load is not None else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def measure(dataset, workers: int, batch: int, seconds: float, min_batches: int, seed: int) -> dict:
    """Patches/s after a warm-up batch (which pays worker start-up), timed over `seconds` or `min_batches`."""
    from srzoo.data.pairs import make_train_loader

    loader = make_train_loader(dataset, batch_size=batch, num_workers=workers, seed=seed)
    it = iter(loader)
    start = time.perf_counter()
    next(it)
    first = time.perf_counter() - start
    count, start = 0, time.perf_counter()
    while count < min_batches or time.perf_counter() - start < seconds:
        next(it)
        count += 1
    elapsed = time.perf_counter() - start
    del it, loader  # stops the workers
    return {
        "patches_per_s": round(count * batch / elapsed, 1),
        "batches": count,
        "first_batch_s": round(first, 3),
    }


def run(args: argparse.Namespace) -> dict:
    import torch

    from srzoo.data import build_train_dataset
    from srzoo.recipes.schema import AugmentSpec, DatasetSpec, DataSpec

    torch.set_num_threads(1)  # the loader's cost, not the main process's BLAS threads
    augment = AugmentSpec(jpeg_prob=0.25, dropout_prob=0.25)  # the seed's LR-only degradations
    rows = []
    for case in CASES[1:] if args.quick else CASES:
        for cache in (False, True):
            spec = DataSpec(root=args.data_root, train=[DatasetSpec(case.dataset)], cache=cache)
            start = time.perf_counter()
            ds = build_train_dataset(
                spec, scale=args.scale, patch_size=args.patch, augment=augment, seed=0, progress=False
            )
            setup = time.perf_counter() - start
            for workers in args.workers:
                result = measure(ds, workers, args.batch, args.seconds, args.min_batches, seed=0)
                row = {"dataset": case.label, "cache": cache, "workers": workers, "setup_s": round(setup, 2)}
                rows.append({**row, **result})
                speed = result["patches_per_s"]
                print(f"{case.label:<13} cache={cache!s:<5} workers={workers}  {speed:>8} patches/s")
    return {
        "machine": machine(),
        "settings": {
            "scale": args.scale,
            "patch": args.patch,
            "batch": args.batch,
            "seconds": args.seconds,
            "augment": "D4 + JPEG p0.25 + coarse dropout p0.25 (torchvision backend)",
            "quick": args.quick,
        },
        "cases": {c.label: c.notes for c in CASES},
        "results": rows,
    }


def markdown(report: dict) -> str:
    m, s = report["machine"], report["settings"]
    lines = [
        "# Training loader throughput",
        "",
        f"{m['cpu']}, {m['cores']} cores (1-min load {m['load_average_1min']}), torch {m['torch']}, "
        f"Python {m['python']}, {m['date']}.",
        f"x{s['scale']}, HR patch {s['patch']}, batch {s['batch']}, {s['augment']}; setup includes the "
        "one-off cache fill when cache is on. Patches/s after one warm-up batch.",
        "",
        "| dataset | cache | workers | patches/s | first batch (s) | setup (s) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in report["results"]:
        cache = "on" if r["cache"] else "off"
        cells = [r["dataset"], cache, r["workers"], r["patches_per_s"], r["first_batch_s"], r["setup_s"]]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    lines += ["", *(f"- {k}: {v}" for k, v in report["cases"].items()), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-root", default=os.environ.get("SRZOO_DATA", str(HERE.parent.parent / "shared" / "datasets"))
    )
    parser.add_argument("--out", default=str(HERE / "results"), help="folder for data_loader.json and .md")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--patch", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=4.0, help="timed seconds per configuration")
    parser.add_argument("--min-batches", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="a few batches of T91 only (smoke test)")
    args = parser.parse_args(argv)
    if args.quick:
        args.workers, args.patch, args.batch, args.seconds, args.min_batches = [0, 1], 64, 4, 0.0, 2
    with tempfile.TemporaryDirectory(prefix="srzoo-bench-cache-") as cache:
        os.environ["SRZOO_CACHE"] = cache  # measure a fresh one-off cache fill; leave the user's cache alone
        report = run(args)
    from srzoo.framework.files import atomic_write

    out = Path(args.out)
    with atomic_write(out / "data_loader.json") as tmp:
        tmp.write_text(json.dumps(report, indent=2) + "\n")
    with atomic_write(out / "data_loader.md") as tmp:
        tmp.write_text(markdown(report))
    print(f"wrote {out / 'data_loader.json'} and {out / 'data_loader.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
