"""ESRGAN training steps side by side on one device: srzoo eager, srzoo compiled, a hand-written PyTorch step.

Run from the repository root on the GPU machine (issue 16, item 4; about 5-8 minutes on an H100/H200):
    PYTHONUNBUFFERED=1 python benchmarks/training_gpu.py --device cuda --out "$OUT"
Writes training_gpu_<device>.json and .md (rewritten after every variant, so a time-out keeps what finished).
Both phases of the `esrgan_x4` recipe (23-block RRDBNet, VGG-style D, VGG19 conv5_4 with random weights: the
same FLOPs, no download) at batch 16, HR patch 128, on one fixed random batch:
  - hand:     the BasicSR way, benchmarks/training_speed.py's HandLoop in fp32, NCHW, no compile;
  - eager:    srzoo's own phase (Accelerate, EMA) with train.mixed_precision (bf16 by default), compile off;
  - compiled: the same with train.compile=true (srzoo/train/fast.py: CUDA graphs, channels_last, fused Adam).
Per variant: it/s (median of timed blocks of back-to-back steps, one sync per block, as training runs now),
TFLOP/s (FLOPs counted by torch's FlopCounterMode on the eager step), % of the measured peak
(benchmarks/peak.py, own dtype and bf16), peak memory, warm-up (compile) seconds, and for compiled vs eager the
largest relative difference of the first steps' total loss (same init, same batch). Then srzoo's training
loader (cached synthetic 512x512 images, pinned memory, this machine's cores) as fast as it goes and at the
compiled step's rate: the headroom. `--tiny` runs all of it in seconds-to-minutes on CPU (tests).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import common
import data_loader
import peak
import torch
import training_speed

TARGETS = {"supervised": 60.0, "adversarial": 40.0}  # issue 16: it/s on an H100/H200-class GPU
AGREE_STEPS = 5


def srzoo_phase(kind: str, args: argparse.Namespace, compiled: bool) -> tuple[Any, Any]:
    """(phase, accelerator): phase `kind` of esrgan_x4 at this run's size, compiled or eager."""
    from srzoo.framework.build import build_arch, build_phase
    from srzoo.recipes.schema import load_recipe
    from srzoo.train.accel import make_accelerator

    overrides = [
        f"generator.kwargs.num_blocks={args.num_blocks}", f"generator.kwargs.num_feat={args.num_feat}",
        f"generator.kwargs.num_grow={args.num_grow}", f"data.batch_size={args.batch}",
        f"data.patch_size={args.patch}", "phases.1.losses.1.kwargs.weights=none",
        f"train.mixed_precision={args.mixed_precision}", f"train.compile={str(compiled).lower()}",
        f"train.compile_mode={args.compile_mode}",
    ]  # fmt: skip
    if args.tiny:
        overrides += [
            "discriminator.kwargs.num_feat=4",
            "phases.1.losses.1.kwargs.layer_weights={conv1_2: 1.0}",
        ]
    recipe = load_recipe("esrgan_x4", overrides)
    spec = next(p for p in recipe.phases if p.type == kind)
    accelerator = make_accelerator(recipe.train.mixed_precision)
    torch.manual_seed(0)  # eager and compiled start from the same weights
    generator = build_arch(recipe.generator.arch, scale=recipe.scale, **recipe.generator.kwargs)
    phase = build_phase(spec, recipe, generator)
    phase.prepare(accelerator)
    phase.fast.global_flags(accelerator.device)  # what a Session does: cudnn.benchmark when compiled on CUDA
    return phase, accelerator


def make_variant(
    kind: str, variant: str, args: argparse.Namespace
) -> tuple[Any, dict[str, torch.Tensor], str]:
    """(step() -> logs or None, batch, dtype name) for one variant."""
    device = torch.device(args.device)
    if variant == "hand":
        ns = argparse.Namespace(**{**vars(args), "mixed_precision": "no", "channels_last": False})
        ns.compile_mode = None
        torch.manual_seed(0)
        loop = training_speed.HandLoop(kind, ns)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # BasicSR's train.py sets it
        return (lambda b: loop.train_step(b)), training_speed.batch_for(ns, device), "fp32"
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = False  # srzoo eager as it is; compiled sets it in srzoo_phase
    phase, accelerator = srzoo_phase(kind, args, compiled=variant == "compiled")
    count = [0]

    def step(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        phase.fast.begin_micro_step()
        logs = phase.train_step(batch, accelerator)
        count[0] += 1
        phase.after_step(accelerator, count[0])
        return logs

    ns = argparse.Namespace(**{**vars(args), "channels_last": False})
    batch = phase.fast.batch(training_speed.batch_for(ns, device))
    dtype = {"bf16": "bf16", "fp16": "fp16"}.get(args.mixed_precision, "fp32")
    return step, batch, dtype


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(kind: str, variant: str, args: argparse.Namespace, flops: dict[str, int]) -> dict[str, Any]:
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    step, batch, dtype = make_variant(kind, variant, args)
    totals: list[torch.Tensor] = []

    def first_steps() -> None:  # every variant's totals from its step 1 on, so eager and compiled line up
        logs = step(batch)
        if logs is not None and len(totals) < AGREE_STEPS:
            totals.append(logs["g/total"].detach().float().clone())

    t0 = time.perf_counter()
    if variant != "compiled":  # FLOPs of the eager math (the compiled step does the same math)
        flops.setdefault(f"{kind}/{variant}", common.counted_flops(first_steps))
    for _ in range(args.warmup):
        first_steps()
    sync(device)
    warmup_s = time.perf_counter() - t0
    blocks = []
    for _ in range(args.blocks):
        t = time.perf_counter()
        for _ in range(args.steps):
            step(batch)
        sync(device)
        blocks.append((time.perf_counter() - t) / args.steps)
    seconds = common.median(blocks)
    work = flops.get(f"{kind}/{variant}") or flops.get(f"{kind}/eager")
    peak_own = args.peak.get(dtype, {}).get("peak_gflops")
    peak_bf16 = args.peak.get("bf16", {}).get("peak_gflops")
    gflops = work / seconds / 1e9 if work else None
    entry: dict[str, Any] = {
        "dtype": dtype, "iters_per_s": 1 / seconds, "seconds_per_iter": blocks, "flops_per_iter": work,
        "tflops": gflops / 1e3 if gflops else None,
        "pct_of_peak": 100 * gflops / peak_own if gflops and peak_own else None,
        "pct_of_bf16_peak": 100 * gflops / peak_bf16 if gflops and peak_bf16 else None,
        "warmup_s": warmup_s, "total_loss_first_steps": [float(t) for t in totals],
    }  # fmt: skip
    if device.type == "cuda":
        entry["max_memory_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    return entry


def loader(args: argparse.Namespace, rates: dict[str, float]) -> dict[str, Any]:
    """srzoo's training loader on this machine's cores: patches/s flat out, and at the fastest step's rate."""
    from srzoo.data import build_train_dataset
    from srzoo.recipes.schema import AugmentSpec, DataSpec

    count, workers = (4, 0) if args.tiny else (64, args.loader_workers)
    with tempfile.TemporaryDirectory(prefix="srzoo-training-gpu-") as tmp:
        os.environ["SRZOO_CACHE"] = os.path.join(tmp, "cache")  # the decoded-array cache, filled once here
        spec = data_loader.synthetic_dataset_spec(Path(tmp) / "images", count)
        data = DataSpec(train=[spec], cache=True, augment=AugmentSpec(hflip=True, rot90=True))
        dataset = build_train_dataset(
            data, scale=4, patch_size=args.patch, augment=data.augment, seed=0, progress=False
        )
        seconds = 0.0 if args.tiny else 8.0
        flat = data_loader.measure_stream(dataset, workers, args.batch, seconds, 2, 0, args.device, None)
        need = max(rates.values(), default=0.0)
        out: dict[str, Any] = {"images": f"{count} synthetic 512x512 PNGs, cache on", "workers": workers}
        out |= {"patches_per_s": flat["patches_per_s"], "consumed_steps_per_s": rates}
        if need:
            out["headroom"] = flat["patches_per_s"] / (need * args.batch)
            at = data_loader.measure_stream(dataset, workers, args.batch, seconds, 2, 0, args.device, need)
            out["at_rate"] = at
    return out


def markdown(report: dict[str, Any]) -> str:
    a = report["settings"]
    rows = []
    for kind, variants in report["phases"].items():
        for variant, e in variants.items():
            if "error" in e:
                rows.append((kind, variant, "-", "error: " + e["error"][:80], "", "", "", "", "", ""))
                continue
            agree = e.get("agreement_with_eager")
            rows.append((
                kind, variant, e["dtype"], e["iters_per_s"], e["tflops"] or "-",
                f"{e['pct_of_peak']:.1f}%" if e["pct_of_peak"] else "-",
                f"{e['pct_of_bf16_peak']:.1f}%" if e["pct_of_bf16_peak"] else "-",
                f"{e['max_memory_gib']:.2f}" if "max_memory_gib" in e else "-", e["warmup_s"],
                f"{agree:.1e}" if agree is not None else "",
            ))  # fmt: skip
    parts = [
        f"# Training step, srzoo eager vs compiled vs hand-written ({report['device_name']})",
        common.machine_line(report["machine"]) + f"; CPU capability {report['machine']['cpu_capability']}",
        f"esrgan_x4 at RRDBNet {a['num_blocks']} blocks nf {a['num_feat']} gc {a['num_grow']}, batch {a['batch']}, "
        f"HR patch {a['patch']}; srzoo variants with mixed precision {a['mixed_precision']} (compile mode "
        f"{a['compile_mode']}), hand = fp32 NCHW eager; median of {a['blocks']} blocks of {a['steps']} steps "
        f"after {a['warmup']} warm-up steps. Peak: "
        + ", ".join(f"{k} {v['peak_gflops'] / 1e3:.1f} TFLOP/s" for k, v in report["peak"].items()),
        common.markdown_table(
            (
                "phase",
                "variant",
                "dtype",
                "it/s",
                "TFLOP/s",
                "% of own-dtype peak",
                "% of bf16 peak",
                "peak memory (GiB)",
                "warm-up s",
                "loss rel. diff vs eager",
            ),
            rows,
        ),
    ]
    targets = report.get("targets")
    if targets:
        parts.append(
            "Targets (issue 16, H100/H200-class): "
            + ", ".join(
                f"{k} ≥ {v['target']:g} it/s: {v['compiled']:.1f} ({'met' if v['met'] else 'not met'})"
                for k, v in targets.items()
            )
        )
    ld = report.get("loader")
    if ld and "error" not in ld:
        line = f"Loader ({ld['images']}, {ld['workers']} workers): {ld['patches_per_s']} patches/s"
        if "headroom" in ld:
            at = ld["at_rate"]
            line += (
                f", x{ld['headroom']:.1f} the fastest step's need; pulled at {at['target_steps_per_s']:.1f} "
                f"steps/s it reached {at['steps_per_s']} with the step waiting {at['wait_share']:.1%} of the time."
            )
        parts.append(line)
    elif ld:
        parts.append(f"Loader: error {ld['error']}")
    return "\n\n".join(parts)


def device_name(device: str) -> str:
    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    return common.machine_info()["cpu"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--phases", default="supervised,adversarial")
    p.add_argument("--variants", default="hand,eager,compiled")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--patch", type=int, default=128, help="HR patch side (LR is patch / 4)")
    p.add_argument("--num-blocks", type=int, default=23)
    p.add_argument("--num-feat", type=int, default=64)
    p.add_argument("--num-grow", type=int, default=32)
    p.add_argument("--mixed-precision", default="bf16", choices=("no", "bf16", "fp16"), help="srzoo variants")
    p.add_argument("--compile-mode", default="auto", help="train.compile_mode of the compiled variant")
    p.add_argument("--warmup", type=int, default=10, help="steps before timing (compiles, autotunes)")
    p.add_argument("--blocks", type=int, default=5)
    p.add_argument("--steps", type=int, default=20, help="steps per timed block")
    p.add_argument("--loader-workers", type=int, default=min(12, max(1, (os.cpu_count() or 2) - 2)))
    p.add_argument("--tiny", action="store_true", help="CPU test mode: 1-block nf 8 model, batch 2, patch 32")
    p.add_argument("--out", help="output folder (default benchmarks/results)")
    args = p.parse_args(argv)
    if args.tiny:
        args.num_blocks, args.num_feat, args.num_grow, args.batch, args.patch = 1, 8, 4, 2, 32
        args.warmup, args.blocks, args.steps, args.mixed_precision = 2, 2, 2, "no"
    t0 = time.perf_counter()
    kind = "cuda" if args.device.startswith("cuda") else "cpu"
    common.log("measuring peak")
    args.peak = peak.measure(kind, quick=args.tiny, seconds=0.3 if args.tiny else 2.0)
    tag = "cpu" if kind == "cpu" else device_name(args.device).split()[-1].lower()
    name = f"training_gpu_{tag}" + ("_tiny" if args.tiny else "")
    report: dict[str, Any] = {
        "device": args.device, "device_name": device_name(args.device), "machine": common.machine_info(),
        "settings": {k: v for k, v in vars(args).items() if k != "peak"}, "peak": args.peak, "phases": {},
    }  # fmt: skip
    flops: dict[str, int] = {}
    for phase in [n for n in args.phases.split(",") if n]:
        entries = report["phases"].setdefault(phase, {})
        for variant in [v for v in args.variants.split(",") if v]:
            common.log(f"{phase} / {variant}")
            try:
                entries[variant] = measure(phase, variant, args, flops)
                common.log(
                    f"   {entries[variant]['iters_per_s']:.2f} it/s, warm-up {entries[variant]['warmup_s']:.0f} s"
                )
            except Exception as exc:  # one variant's failure (e.g. a compile error) keeps the others
                entries[variant] = {
                    "error": f"{type(exc).__name__}: {exc}",
                    "traceback": traceback.format_exc(),
                }
                common.log(f"   failed: {entries[variant]['error']}")
            gc.collect()
            torch._dynamo.reset()
            if kind == "cuda":
                torch.cuda.empty_cache()
            common.write_results(name, report, markdown(report), args.out)
        eager, comp = entries.get("eager", {}), entries.get("compiled", {})
        if eager.get("total_loss_first_steps") and comp.get("total_loss_first_steps"):
            pairs = zip(comp["total_loss_first_steps"], eager["total_loss_first_steps"])
            comp["agreement_with_eager"] = max(abs(c - e) / max(abs(e), 1e-12) for c, e in pairs)
    rates = {
        k: v["compiled"]["iters_per_s"]
        for k, v in report["phases"].items()
        if "iters_per_s" in v.get("compiled", {})
    }
    if kind == "cuda":
        report["targets"] = {
            k: {"target": TARGETS[k], "compiled": r, "met": r >= TARGETS[k]}
            for k, r in rates.items()
            if k in TARGETS
        }
    common.log("loader")
    try:
        report["loader"] = loader(args, rates)
    except Exception as exc:
        report["loader"] = {"error": f"{type(exc).__name__}: {exc}"}
    report["seconds"] = round(time.perf_counter() - t0, 1)
    common.log(f"wrote {common.write_results(name, report, markdown(report), args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
