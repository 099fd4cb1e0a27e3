"""Peak memory of tiled inference (`srzoo.inference.runner.upscale`), 2000x2000 at x4: peak RSS, CUDA max allocated.

Run from the repository root:  .venv/bin/python benchmarks/memory.py [--size 2000] [--tile auto]
Writes benchmarks/results/memory_<device>.json and .md. The upscale runs in a fresh child process, so
its peak RSS (getrusage ru_maxrss) is that of one `srzoo infer`-like run and nothing else.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import common
import torch

RSS_GOAL_GB = 3.0


def child(cfg: dict[str, Any]) -> dict[str, Any]:
    """The measured run: load the model, upscale one random image in tiles, report memory and time."""
    from srzoo.inference.model import load_model

    try:
        from srzoo.inference.runner import TileStats, upscale
    except ImportError:  # srzoo.inference.runner needs numpy/PIL; the tiler itself is torch only
        from srzoo.inference.tiling import TileStats
        from srzoo.inference.upscaling import upscale

    torch.set_num_threads(cfg["threads"])
    model = load_model(cfg["weights"], device=cfg["device"], precision=cfg["precision"])
    x = torch.rand(1, 3, cfg["size"], cfg["size"], generator=torch.Generator().manual_seed(0))
    rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    cuda = cfg["device"].startswith("cuda")
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    stats = TileStats()
    tile = cfg["tile"] if cfg["tile"] in ("auto", None) else int(cfg["tile"])
    t0 = time.perf_counter()
    y = upscale(model, x, tile=tile, overlap=cfg["overlap"], batch=cfg["batch"], stats=stats)
    seconds = time.perf_counter() - t0
    out = {
        "output_shape": list(y.shape),
        "seconds": seconds,
        "output_megapixels_per_s": y.shape[-2] * y.shape[-1] / seconds / 1e6,
        "tile": stats.tile,
        "tiles": stats.tiles,
        "oom_retries": stats.oom_retries,
        "fp32_retries": stats.fp32_retries,
        "rss_after_load_bytes": rss_loaded,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,  # Linux: KiB
    }
    if cuda:
        out["cuda_max_allocated_bytes"] = torch.cuda.max_memory_allocated()
    return out


def markdown(report: dict[str, Any]) -> str:
    r, c = report["result"], report["settings"]
    gb = r["peak_rss_bytes"] / 2**30
    met = "met" if r["peak_rss_bytes"] <= RSS_GOAL_GB * 1e9 else "NOT met"
    rows = [
        ("input (LR)", f"{c['size']}x{c['size']}"),
        ("output", "x".join(map(str, r["output_shape"][-2:]))),
        ("precision", c["precision"]),
        ("tile / overlap / batch", f"{r['tile']} / {c['overlap']} / {c['batch']} ({r['tiles']} tiles)"),
        (
            "peak RSS",
            f"{r['peak_rss_bytes'] / 1e9:.2f} GB = {gb:.2f} GiB (goal <= {RSS_GOAL_GB:g} GB: {met})",
        ),
        ("RSS after loading the model", f"{r['rss_after_load_bytes'] / 2**30:.2f} GiB"),
        ("time", f"{r['seconds']:.0f} s ({r['output_megapixels_per_s']:.3f} output MP/s)"),
    ]
    if "cuda_max_allocated_bytes" in r:
        rows.append(("CUDA max allocated", f"{r['cuda_max_allocated_bytes'] / 2**30:.2f} GiB"))
    return "\n\n".join(
        [
            f"# Tiled inference memory ({report['device']}, {report['weights']})",
            common.machine_line(report["machine"]),
            common.markdown_table(("", "value"), rows),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", type=Path, default=common.WEIGHTS)
    p.add_argument("--device", default="cpu")
    p.add_argument("--size", type=int, default=2000, help="LR side of the square input")
    p.add_argument("--tile", default="auto", help="LR tile side, or auto (what `srzoo infer` picks)")
    p.add_argument("--overlap", type=int, default=16)
    p.add_argument("--batch", type=int, default=1, help="tiles per forward")
    p.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "fp16"))
    p.add_argument("--threads", type=int)
    p.add_argument(
        "--tiny", action="store_true", help="test mode: random 1-block model, 96x96 input, tile 48"
    )
    p.add_argument("--out", help="output folder (default benchmarks/results)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print("RESULT " + json.dumps(child(json.loads(args.child))), flush=True)
        return 0
    threads = common.set_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        weights = args.weights
        if args.tiny:
            from inference import tiny_weights

            weights = tiny_weights(Path(tmp))
            args.size, args.tile = 96, "48"
        cfg = {"weights": str(weights), "device": args.device, "precision": args.precision}
        cfg |= {"size": args.size, "tile": args.tile, "overlap": args.overlap, "batch": args.batch}
        cfg["threads"] = threads
        common.log(f"upscaling {args.size}x{args.size} in a child process (tile {args.tile})")
        proc = subprocess.run(
            [sys.executable, __file__, "--child", json.dumps(cfg)],
            capture_output=True,
            text=True,
            check=False,
        )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode or not lines:
        print(proc.stdout[-2000:], proc.stderr[-4000:], file=sys.stderr)
        return 1
    report = {
        "device": args.device,
        "weights": "tiny random RRDBNet" if args.tiny else Path(weights).name,
        "machine": common.machine_info(),
        "settings": cfg | {"weights": Path(weights).name},
        "result": json.loads(lines[-1][len("RESULT ") :]),
    }
    kind = "cuda" if args.device.startswith("cuda") else "cpu"
    name = f"memory_{kind}" + ("_tiny" if args.tiny else "")
    path = common.write_results(name, report, markdown(report), args.out)
    common.log(f"peak RSS {report['result']['peak_rss_bytes'] / 2**30:.2f} GiB; wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
