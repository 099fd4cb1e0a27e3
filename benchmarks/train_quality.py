"""Train esrgan_tiny_x4 on T91 + BSDS200 within a wall-clock budget on this CPU; bench Set5/BSD100; plot.

    SRZOO_DATA=../shared/datasets python benchmarks/train_quality.py [--minutes 15] [--output-dir DIR]

Leaves the run (with psnr.safetensors and gan.safetensors) in DIR and writes
benchmarks/results/train_quality.json, .md and _curves.png. Phase lengths are fitted to the budget by timing a
few real steps first (srzoo.train.budget), so a faster machine trains longer. Target: the psnr generator
reaches Set5 x4 PSNR-Y >= bicubic + 1.0 dB.

On a GPU (issue 16, item 5):  python benchmarks/train_quality.py --device cuda --minutes 10 [--no-compile]
trains the 23-block esrgan_x4 PSNR phase (bf16, train.compile, cached T91 + BSDS200 when DIV2K is absent) for
the given minutes (a SIGTERM at the deadline: srzoo stops after the step and exports last.safetensors), then
benches it on Set5 and BSD100; target Set5 PSNR-Y >= 31.0 dB. Writes train_quality_cuda.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from srzoo.framework.files import atomic_write

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
RECIPE = "esrgan_tiny_x4"
SHARES = (0.8, 0.2)  # of the training time per phase
RESERVE_SECONDS = 150  # startup, validation, phase ends and the final Set5 + BSD100 bench
TARGET_GAIN_DB = 1.0
PLAN_MARGIN = 0.85  # a shared machine's load drifts: plan for 85% of the time left


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=15.0, help="total wall-clock budget (default 15)")
    parser.add_argument(
        "--output-dir", type=Path, default=HERE / "runs" / "train_quality", help="run directory"
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the json/md/png go")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="cuda: the esrgan_x4 run")
    parser.add_argument("--no-compile", action="store_true", help="cuda: train eager (train.compile=false)")
    return parser.parse_args()


GPU_RECIPE, GPU_TARGET_DB = "esrgan_x4", 31.0


def main_cuda(args: argparse.Namespace) -> int:
    """The 23-block PSNR phase for --minutes on the GPU, stopped by a timed SIGTERM; Set5/BSD100 of last."""
    import shutil

    from common import machine_info, machine_line, sigterm_after

    from srzoo.eval.bench import run_bench
    from srzoo.inference.model import load_model
    from srzoo.recipes.schema import load_recipe
    from srzoo.train.loop import train
    from srzoo.train.options import TrainOptions

    root = Path(os.environ["SRZOO_DATA"])
    train_sets = (
        "[{name: div2k, split: train}]" if (root / "DIV2K").is_dir() else "[{name: t91}, {name: bsds200}]"
    )
    phase = (
        "[{name: psnr, type: supervised, iters: 10000000, losses: [{name: l1}], "
        "optimizer: {name: adam, lr: 2.0e-4, betas: [0.9, 0.99]}}]"
    )
    workers = min(12, max(1, (os.cpu_count() or 2) - 2))
    overrides = [
        f"phases={phase}", "discriminator=null", f"data.train={train_sets}", "data.val=[{name: set5}]",
        "data.cache=true", f"data.num_workers={workers}", "train.mixed_precision=bf16",
        f"train.compile={'false' if args.no_compile else 'true'}", "train.checkpoint_interval=0",
        "train.val_interval=2000", "train.log_interval=100", "train.trackers=[]", "train.store_interval=0",
    ]  # fmt: skip
    recipe = load_recipe(GPU_RECIPE, overrides)
    if args.output_dir.exists():
        shutil.rmtree(args.output_dir)
    machine = machine_info()
    start = time.perf_counter()
    with sigterm_after(args.minutes * 60):
        result = train(recipe, TrainOptions(output_dir=args.output_dir))
    train_minutes = (time.perf_counter() - start) / 60
    report = run_bench(load_model(args.output_dir / "last.safetensors"), ["set5", "bsd100"], baseline=True)
    results = {("bicubic" if r.model == "bicubic" else "psnr"): {} for r in report.results}
    for r in report.results:
        results["bicubic" if r.model == "bicubic" else "psnr"][r.set] = {
            "psnr": r.mean("psnr"),
            "ssim": r.mean("ssim"),
        }
    set5 = results["psnr"]["Set5"]["psnr"]
    summary = {
        "recipe": GPU_RECIPE, "device": "cuda", "compile": not args.no_compile, "overrides": overrides,
        "budget_minutes": args.minutes, "train_minutes": train_minutes, "iterations": result.global_step,
        "iters_per_s": result.global_step / (train_minutes * 60), "status": result.status, "results": results,
        "target": {"threshold": GPU_TARGET_DB, "psnr_set5": set5, "met": set5 >= GPU_TARGET_DB},
        "machine": machine_line(machine), "machine_info": machine,
    }  # fmt: skip
    rows = [f"| {m} | {v['Set5']['psnr']:.2f} | {v['BSD100']['psnr']:.2f} |" for m, v in results.items()]
    md = "\n".join([
        f"# Training quality on {machine.get('gpu')}: {GPU_RECIPE} PSNR phase for {args.minutes:g} minutes",
        "", "| model | Set5 PSNR-Y | BSD100 PSNR-Y |", "|---|---:|---:|", *rows, "",
        f"Target Set5 >= {GPU_TARGET_DB} dB: **{'PASS' if summary['target']['met'] else 'FAIL'}** ({set5:.2f} dB). "
        f"{result.global_step} iterations in {train_minutes:.1f} min ({summary['iters_per_s']:.1f} it/s, compile "
        f"{summary['compile']}, data {train_sets}). Machine: {summary['machine']}.", "",
    ])  # fmt: skip
    args.results.mkdir(parents=True, exist_ok=True)
    with atomic_write(args.results / "train_quality_cuda.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    with atomic_write(args.results / "train_quality_cuda.md") as tmp:
        tmp.write_text(md)
    print(md)
    return 0


def recipe_overrides(extra: list[str]) -> list[str]:
    return [
        "data.num_workers=0",  # 2 cores: a loader process would steal one from the training threads
        "train.checkpoint_interval=0",
        "train.log_interval=10",
        "train.trackers=[]",
        *extra,
    ]


def bench(run_dir: Path, phases: list[str]) -> dict[str, dict[str, dict[str, float]]]:
    """model -> set -> {psnr, ssim}: bicubic and each phase's final generator on Set5 and BSD100 (x4)."""
    from srzoo.eval.bench import run_bench
    from srzoo.inference.model import load_model

    table: dict[str, dict[str, dict[str, float]]] = {}
    for i, phase in enumerate(phases):
        report = run_bench(load_model(run_dir / f"{phase}.safetensors"), ["set5", "bsd100"], baseline=i == 0)
        for result in report.results:
            label = "bicubic" if result.model == "bicubic" else phase
            table.setdefault(label, {})[result.set] = {
                "psnr": result.mean("psnr"),
                "ssim": result.mean("ssim"),
            }
    return table


def curves(metrics_file: Path, out: Path, phases: list[str], gan: str = "RaGAN") -> Path:
    """Training L1 and validation PSNR-Y against iterations, one colour per phase."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records: dict[tuple[int, str], dict] = {}
    for line in metrics_file.read_text().splitlines():  # a resumed run repeats steps: keep the last record
        record = json.loads(line)
        key = (record["step"], "val" if any(k.startswith("val/") for k in record) else "train")
        records.setdefault(key, {}).update(record)
    fig, (ax_loss, ax_val, ax_gan) = plt.subplots(1, 3, figsize=(15, 4))
    for phase in phases:
        train = sorted((s, r) for (s, kind), r in records.items() if kind == "train" and r["phase"] == phase)
        val = sorted((s, r) for (s, kind), r in records.items() if kind == "val" and r["phase"] == phase)
        if train:
            ax_loss.plot(
                [s for s, _ in train], [r.get("train/g/l1", float("nan")) for _, r in train], label=phase
            )
        for term in ("train/g/adv", "train/d/adv"):
            points = [(s, r[term]) for s, r in train if term in r]
            if points:
                ax_gan.plot(*zip(*points), label=f"{phase} {term.removeprefix('train/')}")
        key = next((k for _, r in val for k in r if k.endswith("/psnr_y")), None)
        if key:
            ax_val.plot(
                [s for s, _ in val], [r[key] for _, r in val], "o-", label=f"{phase} ({key.split('/')[1]})"
            )
    ax_loss.set(xlabel="iteration", ylabel="train L1 (raw term)", title="training loss", yscale="log")
    ax_val.set(xlabel="iteration", ylabel="PSNR-Y (dB)", title="validation (EMA generator)")
    ax_gan.set(xlabel="iteration", ylabel="BCE", title=f"adversarial terms ({gan})")
    for ax in (ax_loss, ax_val, ax_gan):
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend()
        else:  # a recipe without an adversarial phase (realesrnet_x4plus_cpu): say so, not an empty frame
            ax.text(0.5, 0.5, "no adversarial phase", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    with atomic_write(out) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return out


def markdown(summary: dict) -> str:
    rows = [
        "| model | Set5 PSNR-Y | Set5 SSIM-Y | BSD100 PSNR-Y | BSD100 SSIM-Y |",
        "|---|---:|---:|---:|---:|",
    ]
    for model, sets in summary["results"].items():
        s5, b100 = sets["Set5"], sets["BSD100"]
        rows.append(
            f"| {model} | {s5['psnr']:.2f} | {s5['ssim']:.4f} | {b100['psnr']:.2f} | {b100['ssim']:.4f} |"
        )
    verdict = "PASS" if summary["target"]["met"] else "FAIL"
    t = summary["timing"]
    return "\n".join([
        f"# Training quality: {RECIPE} on T91 + BSDS200 in {summary['budget_minutes']:g} minutes (CPU)",
        "",
        *rows,
        "",
        f"Target (psnr generator, Set5 x4 PSNR-Y >= bicubic + {TARGET_GAIN_DB} dB = "
        f"{summary['target']['threshold']:.2f}): **{verdict}** ({summary['target']['psnr_set5']:.2f} dB).",
        "",
        f"Iterations: {summary['iterations']} (fitted to the budget from measured step times "
        f"{summary['step_seconds']} s with {summary['threads']} torch thread(s)).",
        f"Wall time: {t['total_minutes']:.1f} min total, {t['train_minutes']:.1f} min training. "
        f"Machine: {summary['machine']}.",
        *(f"Note: {n}" for n in summary["notes"]),
        "",
        "![curves](train_quality_curves.png)",
        "",
    ])  # fmt: skip


@dataclass
class BudgetedRun:
    """A recipe trained within a wall-clock budget: the plan, the measurements and the training result."""

    recipe: Any
    result: Any  # srzoo.train.session.TrainResult
    iters: list[int]
    times: Any  # srzoo.train.budget.StepTimes
    machine: dict[str, Any]
    notes: list[str]
    start: float  # time.perf_counter() when the budget started
    train_minutes: float


def budgeted_run(
    name: str,
    minutes: float,
    output_dir: Path,
    shares: tuple[float, ...],
    reserve: float,
    final: list[str],
    variant: list[str] | None = None,
) -> BudgetedRun:
    """Fit recipe `name`'s phase lengths to `minutes` (less `reserve` seconds) from measured step times, then
    train it into a fresh `output_dir`. `variant` overrides change the recipe for the timing and the training
    alike (a batch size changes the step time); `final` overrides apply to the training run only."""
    from common import machine_info

    from srzoo.demo import offline_weights_fallback
    from srzoo.recipes.schema import load_recipe
    from srzoo.train.budget import StepTimes, measure
    from srzoo.train.loop import train
    from srzoo.train.options import TrainOptions

    variant = list(variant or [])
    start = time.perf_counter()
    machine = machine_info()  # before training: it records the load average the timings ran under
    notes: list[str] = []
    recipe = load_recipe(name, recipe_overrides(variant))
    fallback = offline_weights_fallback(recipe, lambda message: notes.append(message.removeprefix("note: ")))
    recipe = load_recipe(name, recipe_overrides([*variant, *fallback]))
    times = measure(recipe)
    machine["torch_threads"] = times.threads  # what training used (measure() picks it)
    left = PLAN_MARGIN * (minutes * 60 - (time.perf_counter() - start) - reserve)
    iters = times.iterations(left, shares)
    print(f"step times {times.step_seconds} s ({times.threads} threads) -> iterations {iters}", flush=True)
    extra = [*variant, *fallback, *StepTimes.overrides(iters), f"train.val_interval={max(1, iters[0] // 8)}"]
    recipe = load_recipe(name, recipe_overrides([*extra, *final]))
    if output_dir.exists():
        import shutil

        shutil.rmtree(output_dir)  # the benchmark owns this folder: every run starts fresh
    train_start = time.perf_counter()
    result = train(recipe, TrainOptions(output_dir=output_dir))
    train_minutes = (time.perf_counter() - train_start) / 60
    return BudgetedRun(recipe, result, iters, times, machine, notes, start, train_minutes)


def main() -> int:
    args = parse()
    if "SRZOO_DATA" not in os.environ:
        from srzoo.testing import shared_datasets

        os.environ["SRZOO_DATA"] = str(shared_datasets())
    if args.device == "cuda":
        return main_cuda(args)
    from common import machine_line

    run = budgeted_run(RECIPE, args.minutes, args.output_dir, SHARES, RESERVE_SECONDS, [])
    if run.result.status != "complete":
        print(f"training stopped early: {run.result.status}", file=sys.stderr)
        return 1
    recipe, iters, times, machine, start = run.recipe, run.iters, run.times, run.machine, run.start
    phases = [p.name for p in recipe.phases]
    results = bench(args.output_dir, phases)
    threshold = results["bicubic"]["Set5"]["psnr"] + TARGET_GAIN_DB
    psnr_set5 = results["psnr"]["Set5"]["psnr"]
    summary = {
        "recipe": RECIPE,
        "budget_minutes": args.minutes,
        "iterations": dict(zip(phases, iters)),
        "step_seconds": [round(t, 3) for t in times.step_seconds],
        "threads": times.threads,
        "results": results,
        "target": {"threshold": threshold, "psnr_set5": psnr_set5, "met": psnr_set5 >= threshold},
        "timing": {"total_minutes": (time.perf_counter() - start) / 60, "train_minutes": run.train_minutes},
        "machine": machine_line(machine),
        "machine_info": machine,
        "run_dir": str(args.output_dir),
        "notes": run.notes,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    curves(args.output_dir / "metrics.jsonl", args.results / "train_quality_curves.png", phases)
    with atomic_write(args.results / "train_quality.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    with atomic_write(args.results / "train_quality.md") as tmp:
        tmp.write_text(markdown(summary))
    print(markdown(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
