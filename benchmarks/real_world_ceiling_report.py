"""`real_world_ceiling.py report`: bench the GPU-trained variants here, beside item 7's CPU runs."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from real_world_ceiling import rewrite_weights
from train_quality_real import (
    EVAL_SETS,
    GAIN_OVER_BICUBIC_DB,
    GAIN_OVER_BICUBIC_MODEL_DB,
    bench,
    degraded_sets,
)

from srzoo.framework.files import atomic_write

HERE = Path(__file__).resolve().parent
CPU_RUNS = (  # train_quality_real.py runs on the 2-core AVX-512 CPU, on the same degraded sets (seed 0)
    "train_quality_real_pinned-avx512.json",  # realesrgan_tiny_x4 as shipped, 15 minutes
    "train_quality_real_45min-avx512.json",  # the same for 45 minutes
    "train_quality_real.json",  # the benchmark's own recipe (realesrnet_x4plus_cpu), 15 minutes
)


def report(args: argparse.Namespace) -> int:
    from common import machine_info, machine_line

    trained = json.loads((args.runs / "train.json").read_text())
    runs = {name: r for name, r in trained["runs"].items() if "iterations" in r}
    if not runs:
        print(f"error: {args.runs}/train.json lists no finished variant", file=sys.stderr)
        return 1
    start, machine = time.perf_counter(), machine_info()
    with tempfile.TemporaryDirectory() as tmp:
        sets = degraded_sets(Path(tmp) / "eval")
        models = {"bicubic-trained": args.bicubic_model}
        models |= {
            name: fp32_copy(args.runs / r["weights"], Path(tmp) / f"{name}.safetensors")
            for name, r in runs.items()
        }
        results = bench(models, sets)
    rows = {
        name: (
            f"GPU {r['train_s'] / 60:.1f} min, from {r['variant']['init'] or 'scratch'}",
            f"{r['iterations']} x {r['variant']['batch']}",
        )
        for name, r in runs.items()
    }
    for file in CPU_RUNS:
        if (HERE / "results" / file).is_file():
            label, row, scores = cpu_run(file)
            results[label], rows[label] = scores, row
    summary = {
        "eval_sets": {name: {"degradation": "realesrgan", "seed": 0} for name in EVAL_SETS},
        "bicubic_model": str(args.bicubic_model),
        "results": {
            m: {s: {k: v[k] for k in ("psnr", "ssim")} for s, v in r.items()} for m, r in results.items()
        },
        "per_image": {m: {s: v.get("images", {}) for s, v in r.items()} for m, r in results.items()},
        "rows": rows,
        "gpu_training": trained,
        "bench_machine": machine_line(machine),
        "bench_machine_info": machine,
        "bench_minutes": (time.perf_counter() - start) / 60,
    }
    stem = "real_world_ceiling" + (f"_{args.tag}" if args.tag else "")
    args.results.mkdir(parents=True, exist_ok=True)
    with atomic_write(args.results / f"{stem}.json") as out:
        out.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    with atomic_write(args.results / f"{stem}.md") as out:
        out.write_text(markdown(summary))
    print(markdown(summary))
    return 0


def cpu_run(file: str) -> tuple[str, tuple[str, str], dict]:
    """A train_quality_real.py results file as a row: its label, how it trained, its PSNR generator's scores."""
    from srzoo.recipes.schema import load_recipe

    run = json.loads((HERE / "results" / file).read_text())
    batch = load_recipe(run["recipe"], run.get("variant") or []).data.batch_size
    label = f"{run['recipe']}, CPU {run['budget_minutes']:g} min"
    how = f"CPU {run['timing']['train_minutes']:.1f} min ({file})"
    return label, (how, f"{run['iterations']['psnr']} x {batch}"), run["results"]["real-world psnr"]


def fp32_copy(src: Path, dest: Path) -> Path:
    """The weights in float32 with their metadata (the GPU side halves the big nets to fit the way back)."""
    return rewrite_weights(src, dest, half=lambda _tensors: False)


def markdown(summary: dict) -> str:
    res = summary["results"]
    head = "| model | trained | iterations x batch | Set5 PSNR-Y | vs bicubic | vs bicubic-trained | BSD100 PSNR-Y | vs bicubic | vs bicubic-trained |"
    rows = [head, "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for model, by_set in res.items():
        how, size = summary["rows"].get(model, ("—", "—"))
        cells = []
        for name in EVAL_SETS:
            p = by_set[name]["psnr"]
            if model in ("bicubic", "bicubic-trained"):
                cells += [f"{p:.2f}", "", ""]
            else:
                cells += [
                    f"{p:.2f}",
                    f"{p - res['bicubic'][name]['psnr']:+.2f}",
                    f"{p - res['bicubic-trained'][name]['psnr']:+.2f}",
                ]
        rows.append(f"| {model} | {how} | {size} | " + " | ".join(cells) + " |")
    t = summary["gpu_training"]
    return "\n".join([
        "# Real-world training beyond the CPU budget: how far item 7's targets are",
        "",
        "Inputs: Set5 and BSD100 HR degraded with `srzoo degrade SET OUT --degradation realesrgan --seed 0` (the "
        "inputs of benchmarks/train_quality_real.py). PSNR-Y, crop border 4, against the HR. Item 7's goals: "
        f"{GAIN_OVER_BICUBIC_DB:+.1f} dB over bicubic and {GAIN_OVER_BICUBIC_MODEL_DB:+.1f} dB over the "
        "bicubic-trained tiny model, on both sets.",
        "",
        *rows,
        "",
        f"GPU variants: benchmarks/real_world_ceiling.py train, side by side for {t['minutes']:g} minutes each on "
        f"{t['machine']}; the recipe's L1 phase on T91 + BSDS200 with its degradation, bf16, cosine schedule, "
        "EMA 0.999; the 23-block and 6-block weights came back as float16. Benched here on "
        f"{summary['bench_machine']}. CPU rows are copied from the named results files of "
        "benchmarks/train_quality_real.py (same inputs, same bench; their machine lines say where they ran).",
        "",
    ])  # fmt: skip
