"""Training-loader throughput (patches/s) by num_workers, with and without the decoded-array cache.

Run from the repository root:  .venv/bin/python benchmarks/data_loader.py [--quick] [--data-root DIR]
Writes benchmarks/results/data_loader.json and .md (machine info included). The default run takes ~1-2 min.

On a GPU box:  python benchmarks/data_loader.py --device cuda --consume-rate 60 --workers 4 8 12 [--synthetic 64]
times srzoo's own training loader (pinned memory, batches copied to the device) as fast as it goes and
pulled by a consumer whose optimizer step takes 1/60 s: the headroom over that rate and the share of the
time the step would wait for data. --synthetic N uses N generated 512x512 images where no dataset is at hand.
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
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
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


def measure_stream(
    dataset, workers: int, batch: int, seconds: float, min_batches: int, seed: int, device, rate: float | None
) -> dict:
    """srzoo's training loader (srzoo.train.data.train_batches: pinned memory, copies to `device`).

    rate None: patches/s as fast as it goes. rate R (optimizer steps/s): a consumer whose step takes 1/R s
    (simulated by sleeping: a GPU step leaves the host idle) pulls one batch per step; the result is the
    rate reached and the share of the time spent waiting for data.
    """
    import torch

    from srzoo.train.data import train_batches

    device = torch.device(device)
    stream = train_batches(
        dataset, micro=batch, seed=seed, rank=0, world=1, start_micro_batch=0, num_workers=workers,
        device=device,
    )  # fmt: skip

    def pull() -> None:
        next(stream)
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    pull()  # warm-up: worker start-up
    count, waited, start = 0, 0.0, time.perf_counter()
    while count < min_batches or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        pull()
        waited += time.perf_counter() - t0
        count += 1
        if rate:
            time.sleep(1.0 / rate)  # the step
    elapsed = time.perf_counter() - start
    stream.close()  # stops the workers
    out = {"patches_per_s": round(count * batch / elapsed, 1), "batches": count}
    if rate:
        out |= {"target_steps_per_s": rate, "steps_per_s": round(count / elapsed, 2)}
        out["wait_share"] = round(waited / elapsed, 4)
    return out


def synthetic_dataset_spec(folder: Path, count: int):
    """A DatasetSpec over `count` generated 512x512 images (srzoo.testing's synthetic pictures)."""
    from srzoo.recipes.schema import DatasetSpec
    from srzoo.testing.training import write_images

    write_images(folder, count, size=512, seed=0)
    return DatasetSpec("image_folder", kwargs={"path": str(folder)})


def run(args: argparse.Namespace) -> dict:
    import torch

    from srzoo.data import build_train_dataset
    from srzoo.recipes.schema import AugmentSpec, DatasetSpec, DataSpec

    torch.set_num_threads(1)  # the loader's cost, not the main process's BLAS threads
    augment = AugmentSpec(jpeg_prob=0.25, dropout_prob=0.25)  # the seed's LR-only degradations
    rows = []
    cases = CASES[1:] if args.quick else CASES
    if args.synthetic:
        folder = Path(tempfile.mkdtemp(prefix="srzoo-bench-images-"))
        synthetic = synthetic_dataset_spec(folder, args.synthetic)
        cases = (
            Case(f"synthetic {args.synthetic}", "image_folder", f"{args.synthetic} generated 512x512 PNGs"),
        )
    for case in cases:
        for cache in (False, True):
            train = [synthetic] if args.synthetic else [DatasetSpec(case.dataset)]
            spec = DataSpec(root=args.data_root, train=train, cache=cache)
            start = time.perf_counter()
            ds = build_train_dataset(
                spec, scale=args.scale, patch_size=args.patch, augment=augment, seed=0, progress=False
            )
            setup = time.perf_counter() - start
            for workers in args.workers:
                if args.device == "cpu" and not args.consume_rate:
                    result = measure(ds, workers, args.batch, args.seconds, args.min_batches, seed=0)
                else:  # the training loader itself, to the device; then at the consumer's rate
                    result = measure_stream(
                        ds, workers, args.batch, args.seconds, args.min_batches, 0, args.device, None
                    )
                if args.consume_rate:
                    at_rate = measure_stream(
                        ds,
                        workers,
                        args.batch,
                        args.seconds,
                        args.min_batches,
                        0,
                        args.device,
                        args.consume_rate,
                    )
                    result["at_rate"] = at_rate
                    result["headroom"] = round(result["patches_per_s"] / (args.consume_rate * args.batch), 2)
                row = {"dataset": case.label, "cache": cache, "workers": workers, "setup_s": round(setup, 2)}
                rows.append({**row, **result})
                speed = result["patches_per_s"]
                extra = ""
                if args.consume_rate:
                    extra = f"  x{result['headroom']} headroom, waits {result['at_rate']['wait_share']:.1%}"
                print(f"{case.label:<13} cache={cache!s:<5} workers={workers}  {speed:>8} patches/s{extra}")
    return {
        "machine": machine(),
        "settings": {
            "scale": args.scale,
            "patch": args.patch,
            "batch": args.batch,
            "seconds": args.seconds,
            "augment": "D4 + JPEG p0.25 + coarse dropout p0.25 (torchvision backend)",
            "quick": args.quick,
            "device": args.device,
            "consume_rate": args.consume_rate,
        },
        "cases": {c.label: c.notes for c in cases},
        "results": rows,
    }


def markdown(report: dict) -> str:
    m, s = report["machine"], report["settings"]
    lines = [
        "# Training loader throughput",
        "",
        f"{m['cpu']} ({m.get('cpu_capability')}), {m['cores']} cores (1-min load {m['load_average_1min']}), "
        f"GPU {m.get('gpu')}, torch {m['torch']}, "
        f"Python {m['python']}, {m['date']}.",
        f"x{s['scale']}, HR patch {s['patch']}, batch {s['batch']}, {s['augment']}; setup includes the "
        "one-off cache fill when cache is on. Patches/s after one warm-up batch.",
    ]
    rate = s.get("consume_rate")
    if rate:
        lines[-1] += (
            f" Loader: srzoo's training loader to {s['device']}; at rate: a consumer stepping {rate} times/s "
            f"(batch {s['batch']}: {rate * s['batch']:g} patches/s)."
        )
        lines += [
            "",
            "| dataset | cache | workers | patches/s | headroom over the rate | steps/s reached | step waits |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for r in report["results"]:
            at = r["at_rate"]
            cells = [r["dataset"], "on" if r["cache"] else "off", r["workers"], r["patches_per_s"]]
            cells += [f"x{r['headroom']}", at["steps_per_s"], f"{at['wait_share']:.1%}"]
            lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    else:
        lines += [
            "",
            "| dataset | cache | workers | patches/s | first batch (s) | setup (s) |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for r in report["results"]:
            cache = "on" if r["cache"] else "off"
            cells = [
                r["dataset"],
                cache,
                r["workers"],
                r["patches_per_s"],
                r.get("first_batch_s", "-"),
                r["setup_s"],
            ]
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
    parser.add_argument("--device", default="cpu", help="where batches go (cuda: pinned memory + copies)")
    parser.add_argument(
        "--consume-rate", type=float, help="optimizer steps/s of the consumer (e.g. the compiled step's it/s)"
    )
    parser.add_argument("--synthetic", type=int, default=0, help="N generated images instead of the datasets")
    args = parser.parse_args(argv)
    if args.quick:
        args.workers, args.patch, args.batch, args.seconds, args.min_batches = [0, 1], 64, 4, 0.0, 2
    with tempfile.TemporaryDirectory(prefix="srzoo-bench-cache-") as cache:
        os.environ["SRZOO_CACHE"] = cache  # measure a fresh one-off cache fill; leave the user's cache alone
        report = run(args)
    from srzoo.framework.files import atomic_write

    out = Path(args.out)
    # the CPU table keeps its name; a device / consumption-rate run gets its own files
    name = (
        "data_loader"
        + ("" if args.device == "cpu" else f"_{args.device}")
        + ("_rate" if args.consume_rate else "")
    )
    with atomic_write(out / f"{name}.json") as tmp:
        tmp.write_text(json.dumps(report, indent=2) + "\n")
    with atomic_write(out / f"{name}.md") as tmp:
        tmp.write_text(markdown(report))
    print(f"wrote {out / f'{name}.json'} and {out / f'{name}.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
