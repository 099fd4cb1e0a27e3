"""One-shot GPU benchmark suite for a lent H100/H200: peak, inference (eager, compiled), training, memory.

Run from the repository root on the GPU machine:
    python benchmarks/gpu_suite.py --out "$OUT" [--budget 420]
Every section is time-capped and wrapped in try/except, so one failure keeps the others; torch.compile runs in
a child process with a hard timeout. Needs torch + srzoo + the esrgan plugin only (spandrel, wandb,
albumentations optional); uses random weights for the 23-block x4 RRDBNet unless --weights is given. Writes
gpu_suite.json + gpu_suite.md into --out. `--dry-run` runs everything tiny on CPU (tests).
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
import traceback
import types
from pathlib import Path
from typing import Any

import common
import peak
import torch

START = time.perf_counter()
# srzoo needs tqdm, numpy, yaml; the training phases accelerate + timm; weights export safetensors
OPTIONAL = ("tqdm", "numpy", "yaml", "safetensors", "accelerate", "timm", "psutil", "spandrel", "PIL")


def stub_missing() -> list[str]:
    """Minimal stand-ins for PyYAML and tqdm when absent, so `import srzoo` works on a bare GPU box.

    The suite reads no recipe file and shows no progress bar; code that would (the training phases) then
    fails with ImportError and the suite falls back to its hand loop.
    """
    stubbed = []
    if not have("yaml"):
        yaml = types.ModuleType("yaml")

        class YAMLError(Exception):
            pass

        def unavailable(*_args: object, **_kwargs: object) -> Any:
            raise ImportError("PyYAML is not installed", name="yaml")

        yaml.YAMLError, yaml.safe_load, yaml.safe_dump = YAMLError, unavailable, unavailable  # type: ignore[attr-defined]
        yaml.__spec__ = importlib.machinery.ModuleSpec("yaml", None)
        sys.modules["yaml"] = yaml
        stubbed.append("yaml")
    if not have("tqdm"):
        tqdm = types.ModuleType("tqdm")

        class Bar:
            def __init__(self, iterable: Any = None, *_args: object, **_kwargs: object) -> None:
                self.iterable = iterable

            def __iter__(self) -> Any:
                return iter(self.iterable or ())

            def __enter__(self) -> Bar:
                return self

            def __exit__(self, *_exc: object) -> None:
                return None

            def update(self, *_args: object) -> None:
                return None

            def close(self) -> None:
                return None

        tqdm.tqdm = Bar  # type: ignore[attr-defined]
        tqdm.__spec__ = importlib.machinery.ModuleSpec("tqdm", None)
        sys.modules["tqdm"] = tqdm
        stubbed.append("tqdm")
    return stubbed


def have(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def elapsed() -> float:
    return time.perf_counter() - START


def random_weights(folder: Path, kwargs: dict[str, int]) -> Path:
    """A random x4 RRDBNet as srzoo safetensors, or BasicSR .pth without safetensors (load_model reads both)."""
    from srzoo.framework.build import build_arch
    from srzoo.framework.weights import save_basicsr, save_weights

    torch.manual_seed(0)
    net = build_arch("rrdbnet", scale=4, **kwargs)
    try:
        path = folder / "rrdbnet_x4_random.safetensors"
        return save_weights(path, net.state_dict(), arch="rrdbnet", kwargs=kwargs, scale=4)
    except ImportError:
        return save_basicsr(folder / "rrdbnet_x4_random.pth", net.state_dict())


def section(report: dict[str, Any], name: str, need_s: float, args: argparse.Namespace, fn: Any) -> None:
    """Run one section unless not requested or the budget is too short for it; record its result or error."""
    if args.sections and name not in args.sections:
        return
    left = args.budget - elapsed()
    if left < need_s:
        report[name] = {"skipped": f"{left:.0f} s left of the budget, section needs ~{need_s:.0f} s"}
        common.log(f"== {name}: skipped ({left:.0f} s left)")
        return
    common.log(f"== {name} (t={elapsed():.0f} s)")
    t0 = time.perf_counter()
    try:
        report[name] = fn()
    except Exception as exc:  # keep going: the other sections' numbers are still worth having
        report[name] = {
            "error": f"{type(exc).__name__}: {str(exc)[:300]}",
            "trace": traceback.format_exc()[-1500:],
        }
        common.log(f"   failed: {type(exc).__name__}: {str(exc)[:200]}")
    if isinstance(report[name], dict):
        report[name]["section_s"] = round(time.perf_counter() - t0, 1)
    if args.device == "cuda":
        torch.cuda.empty_cache()
    write(report, args)  # after every section: a kill later still leaves the results so far


def time_calls(fn: Any, args: argparse.Namespace, reps: int, budget_s: float) -> float:
    times = common.alternate({"f": fn}, reps=reps, warmup=2, device=args.device, budget_s=budget_s)["f"]
    return common.median(times)


def inference(args: argparse.Namespace, weights: Path) -> dict[str, Any]:
    """Eager srzoo.load_model (channels_last, cudnn.benchmark) at LR side, fp16 and bf16, several batches."""
    from srzoo.inference.model import load_model

    torch.backends.cudnn.benchmark = True
    side, rows = args.side, []
    flops1 = common.rrdbnet_flops(side, side, 1, **args.kwargs)
    for precision in args.precisions:
        model = load_model(weights, device=args.device, precision=precision)
        dtype = precision
        peak_g = args.peak.get(dtype, {}).get("peak_gflops")
        for batch in args.batches:
            x = torch.rand(batch, 3, side, side, device=args.device)
            with torch.inference_mode():
                t = time_calls(lambda m=model, x=x: m(x), args, reps=args.reps, budget_s=15)
            tflops = flops1 * batch / t / 1e12
            row = {
                "precision": precision,
                "batch": batch,
                "median_s": t,
                "tflops": tflops,
                "pct_of_peak": 100 * tflops * 1e3 / peak_g if peak_g else None,
                "megapixels_per_s": batch * (4 * side) ** 2 / t / 1e6,
            }
            common.log(f"   {precision} batch {batch}: {t * 1e3:.1f} ms, {tflops:.1f} TFLOP/s")
            rows.append(row)
        del model
    # the layout lever: the same model without channels_last (fast=False), at the largest batch
    model = load_model(weights, device=args.device, precision=args.precisions[0], fast=False)
    x = torch.rand(max(args.batches), 3, side, side, device=args.device)
    with torch.inference_mode():
        t = time_calls(lambda: model(x), args, reps=args.reps, budget_s=15)
    tflops = flops1 * x.shape[0] / t / 1e12
    common.log(
        f"   {args.precisions[0]} batch {x.shape[0]} NCHW (fast=False): {t * 1e3:.1f} ms, {tflops:.1f} TFLOP/s"
    )
    rows.append(
        {
            "precision": f"{args.precisions[0]} NCHW (fast=False)",
            "batch": x.shape[0],
            "median_s": t,
            "tflops": tflops,
            "pct_of_peak": None,
            "megapixels_per_s": x.shape[0] * (4 * side) ** 2 / t / 1e6,
        }
    )
    return {"lr_side": side, "flops_per_image": flops1, "rows": rows}


def spandrel_compare(args: argparse.Namespace, weights: Path) -> dict[str, Any]:
    """spandrel's ESRGAN as a user runs it on GPU (model.half(), NCHW) vs srzoo fp16, at the largest batch."""
    try:
        import spandrel
    except ImportError:
        return {"skipped": "spandrel is not installed here"}
    from srzoo.framework.weights import load_weights_file, save_basicsr
    from srzoo.inference.model import load_model

    basicsr = weights
    if weights.suffix != ".pth":
        basicsr = save_basicsr(weights.with_suffix(".pth"), load_weights_file(weights).state_dict)
    sp = spandrel.ModelLoader().load_from_file(str(basicsr)).model.eval().to(args.device)
    # fp16 on the GPU; the CPU dry run uses its own low precision (fp16 is not native on x86 CPUs)
    precision = "fp16" if args.device == "cuda" else args.precisions[0]
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[precision]
    ours = load_model(weights, device=args.device, precision=precision)
    batch = max(args.batches)
    x = torch.rand(batch, 3, args.side, args.side, device=args.device)
    sp_half = sp.to(dtype)
    with torch.inference_mode():
        diff = float((sp_half(x.to(dtype)).float().clamp(0, 1) - ours(x)).abs().max())
        t_sp = time_calls(lambda: sp_half(x.to(dtype)), args, reps=args.reps, budget_s=15)
        t_ours = time_calls(lambda: ours(x), args, reps=args.reps, budget_s=15)
    return {
        "batch": batch,
        "precision": precision,
        f"spandrel_{precision}_s": t_sp,
        f"srzoo_{precision}_s": t_ours,
        "ratio": t_sp / t_ours,
        "max_abs_diff": diff,
    }


def compile_child(cfg: dict[str, Any]) -> dict[str, Any]:
    """In a child process: torch.compile(model.net) in each mode, compile time and speed at one batch."""
    import torch._inductor.config as inductor_config

    from srzoo.inference.model import load_model

    torch.backends.cudnn.benchmark = True
    inductor_config.freezing = False  # freezing gives wrong RRDBNet outputs (torch 2.13, CPU): never on
    out: dict[str, Any] = {}
    for mode in cfg["modes"]:
        model = load_model(cfg["weights"], device=cfg["device"], precision=cfg["precision"])
        net = torch.compile(model.net, mode=mode)  # inductor, never `freezing` (wrong RRDBNet outputs)
        x = torch.rand(cfg["batch"], 3, cfg["side"], cfg["side"], device=cfg["device"]).to(model.dtype)
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            ref = model.net(x).float()
            t0 = time.perf_counter()
            y = net(x).float()
            compile_s = time.perf_counter() - t0
            diff = float((y - ref).abs().max())
            fns = {"f": lambda net=net, x=x: net(x)}
            times = common.alternate(fns, reps=cfg["reps"], warmup=2, device=cfg["device"], budget_s=20)["f"]
        t = common.median(times)
        out[mode] = {
            "compile_s": compile_s,
            "median_s": t,
            "tflops": cfg["flops"] / t / 1e12,
            "max_abs_diff": diff,
        }
        print(f"RESULT {json.dumps(out)}", flush=True)
    return out


def run_child(cfg: dict[str, Any], timeout: float) -> tuple[dict[str, Any], str | None]:
    """Run this script's compile child on `cfg` with a hard timeout; its last RESULT line and a note."""
    try:
        cmd = [sys.executable, __file__, "--compile-child", json.dumps(cfg)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        stdout, note = proc.stdout, None if proc.returncode == 0 else proc.stderr[-1500:]
    except subprocess.TimeoutExpired as exc:
        stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        note = f"timed out after {timeout:.0f} s"
    lines = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ")]
    return (json.loads(lines[-1][7:]) if lines else {}), note


def training_compile_child(cfg: dict[str, Any]) -> None:
    """In a child process: the hand loop's adversarial step with G, D and VGG under torch.compile."""
    import torch._inductor.config as inductor_config
    import training_speed

    torch.backends.cudnn.benchmark = True
    inductor_config.freezing = False
    out: dict[str, Any] = {}
    for mode in cfg["modes"]:
        ns = argparse.Namespace(**cfg["args"], compile_mode=mode, hand_loop=True)
        t0 = time.perf_counter()
        entry = training_speed.measure_phase("adversarial", ns)  # its warm-up steps include compiling
        entry.pop("seconds", None)
        out[mode] = entry | {"total_s": time.perf_counter() - t0}
        print(f"RESULT {json.dumps(out)}", flush=True)


def training_compiled(args: argparse.Namespace) -> dict[str, Any]:
    """GAN step (batch 16, HR 128, bf16 autocast, channels_last) with torch.compile, time-capped."""
    ns = {"device": args.device, "batch": args.train_batch, "patch": args.train_patch, "tiny": args.dry_run,
          "mixed_precision": args.train_precision, "channels_last": True, "iters": args.train_iters, "warmup": 3,
          "budget": 30.0, "peak": args.peak, **args.kwargs}  # fmt: skip
    cfg = {"kind": "training", "modes": args.compile_modes, "args": ns}
    result, note = run_child(cfg, max(30.0, min(args.compile_timeout, args.budget - elapsed() - 30)))
    return {"modes": result, "note": note}


def compiled(args: argparse.Namespace, weights: Path) -> dict[str, Any]:
    batch = max(args.batches)
    cfg = {
        "weights": str(weights),
        "device": args.device,
        "batch": batch,
        "side": args.side,
        "reps": args.reps,
    }
    cfg["precision"] = "fp16" if args.device == "cuda" else args.precisions[0]
    cfg["modes"] = args.compile_modes
    cfg["flops"] = common.rrdbnet_flops(args.side, args.side, batch, **args.kwargs)
    result, note = run_child(cfg, max(30.0, min(args.compile_timeout, args.budget - elapsed() - 120)))
    peak_g = args.peak.get(cfg["precision"], {}).get("peak_gflops")
    for entry in result.values():
        entry["pct_of_peak"] = 100 * entry["tflops"] * 1e3 / peak_g if peak_g else None
    return {"precision": cfg["precision"], "batch": batch, "modes": result, "note": note}


def training(args: argparse.Namespace) -> dict[str, Any]:
    """srzoo's own phases (esrgan_x4 recipe) at batch 16, HR 128, bf16 autocast, channels_last."""
    import training_speed

    torch.backends.cudnn.benchmark = True
    ns = argparse.Namespace(
        device=args.device,
        batch=args.train_batch,
        patch=args.train_patch,
        tiny=args.dry_run,
        mixed_precision=args.train_precision,
        channels_last=True,
        iters=args.train_iters,
        warmup=3,
        budget=40.0,
        peak=args.peak,
        **args.kwargs,
    )
    out = {}
    for kind in ("adversarial", "supervised"):
        entry = training_speed.measure_phase(kind, ns)
        entry.pop("seconds", None)
        common.log(f"   {kind}: {entry['iters_per_s']:.2f} it/s, {entry['gflops'] / 1e3:.1f} TFLOP/s")
        out[kind] = entry
    return {"batch": ns.batch, "patch": ns.patch, "mixed_precision": ns.mixed_precision, "phases": out}


def memory(args: argparse.Namespace, weights: Path) -> dict[str, Any]:
    """Tiled 2000x2000 x4 in fp16: max allocated with the automatic tile and with tile 512."""
    import memory as mem

    out = {}
    for tile in ("auto", str(args.mem_tile)):
        cfg = {
            "weights": str(weights),
            "device": args.device,
            "precision": args.precisions[0],
            "size": args.mem_size,
            "tile": tile,
            "overlap": 16,
            "batch": 1,
            "threads": torch.get_num_threads(),
        }
        out[f"tile {tile}"] = mem.child(cfg)
        common.log(f"   tile {tile}: {out[f'tile {tile}']}")
    return out


def markdown(report: dict[str, Any]) -> str:
    parts = ["# GPU suite", common.machine_line(report["machine"])]
    if "peak" in report and "error" not in report["peak"]:
        rows = [(k, v["peak_gflops"] / 1e3) for k, v in report["peak"].items() if isinstance(v, dict)]
        parts.append(common.markdown_table(("dtype", "peak TFLOP/s"), rows))
    inf = report.get("inference", {})
    if "rows" in inf:
        rows = [
            (
                r["precision"],
                r["batch"],
                r["median_s"] * 1e3,
                r["tflops"],
                f"{r['pct_of_peak']:.0f}%" if r["pct_of_peak"] else "-",
                r["megapixels_per_s"],
            )
            for r in inf["rows"]
        ]
        headers = ("precision", "batch", "ms", "TFLOP/s", "% of peak", "out MP/s")
        parts += [
            f"## Inference, LR {inf['lr_side']}² (eager, channels_last)",
            common.markdown_table(headers, rows),
        ]
    for key in ("spandrel", "compile", "training", "memory"):
        if key in report:
            parts += [
                f"## {key}",
                "```json\n" + json.dumps(report[key], indent=1, default=str)[:3000] + "\n```",
            ]
    return "\n\n".join(parts)


def write(report: dict[str, Any], args: argparse.Namespace) -> None:
    report["elapsed_s"] = round(elapsed(), 1)
    common.write_results("gpu_suite", report, markdown(report), args.out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(common.RESULTS), help="output folder (the lead passes $OUT)")
    p.add_argument("--budget", type=float, default=420.0, help="seconds for the whole suite")
    p.add_argument("--weights", type=Path, help="x4 RRDBNet weights (default: random 23-block)")
    p.add_argument("--compile-timeout", type=float, default=200.0)
    p.add_argument(
        "--compile-modes",
        help="torch.compile modes, comma separated; '' skips (default: reduce-overhead, then "
        "max-autotune-no-cudagraphs)",
    )
    p.add_argument(
        "--sections",
        help="comma list to run only some of: peak, inference, spandrel, training, memory, training_compiled, "
        "compile (default: all)",
    )
    p.add_argument("--dry-run", action="store_true", help="tiny sizes on CPU (tests)")
    p.add_argument("--compile-child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.compile_child:
        cfg = json.loads(args.compile_child)
        training_compile_child(cfg) if cfg.get("kind") == "training" else compile_child(cfg)
        return 0
    args.device = "cpu" if args.dry_run or not torch.cuda.is_available() else "cuda"
    args.sections = [x for x in (args.sections or "").split(",") if x]
    if args.compile_modes is None:
        args.compile_modes = "default" if args.dry_run else "reduce-overhead,max-autotune-no-cudagraphs"
    args.compile_modes = [m for m in args.compile_modes.split(",") if m]
    # the dry run's CPU runs bf16 only where oneDNN has bf16 kernels (srzoo refuses it on AVX2)
    cpu_bf16 = common.cpu_bf16_native()
    args.train_precision = "bf16" if args.device == "cuda" or cpu_bf16 else "no"
    if args.dry_run:
        args.kwargs = {"num_blocks": 1, "num_feat": 16, "num_grow": 32}
        args.side, args.batches, args.reps = 16, [1, 2], 1
        args.precisions = ["bf16", "fp32"] if cpu_bf16 else ["fp32"]
        args.train_batch, args.train_patch, args.train_iters = 2, 32, 1
        args.mem_size, args.mem_tile = 64, 48
    else:
        args.kwargs = {"num_blocks": 23, "num_feat": 64, "num_grow": 32}
        args.side, args.batches, args.reps, args.precisions = 256, [1, 4, 8, 16], 10, ["fp16", "bf16"]
        args.train_batch, args.train_patch, args.train_iters = 16, 128, 10
        args.mem_size, args.mem_tile = 2000, 512
    report: dict[str, Any] = {"machine": common.machine_info(), "device": args.device}
    common.log(
        f"device: {report['machine'].get('gpu') or report['machine']['cpu']}, torch {torch.__version__}"
    )
    report["modules"] = {name: have(name) for name in OPTIONAL}
    report["stubbed"] = stub_missing()
    common.log(
        "modules: " + ", ".join(f"{k} {'yes' if v else 'MISSING'}" for k, v in report["modules"].items())
    )
    args.peak = {}

    def run_peak() -> dict[str, Any]:
        args.peak = peak.measure(args.device, quick=args.dry_run, seconds=0.3 if args.dry_run else 2.0)
        for k, v in args.peak.items():
            common.log(f"   {k} peak {v['peak_gflops'] / 1e3:.1f} TFLOP/s")
        return args.peak

    section(report, "peak", 30, args, run_peak)  # torch only: runs even where srzoo cannot be imported
    with tempfile.TemporaryDirectory() as tmp:
        try:
            weights = args.weights or random_weights(Path(tmp), args.kwargs)
        except Exception as exc:  # srzoo itself unusable here (a missing dependency): keep the peak numbers
            report["setup_error"] = f"{type(exc).__name__}: {exc}"
            common.log(f"cannot build the model: {report['setup_error']}")
            write(report, args)
            return 1
        section(report, "inference", 40, args, lambda: inference(args, weights))
        section(report, "spandrel", 30, args, lambda: spandrel_compare(args, weights))
        section(report, "training", 60, args, lambda: training(args))
        section(report, "memory", 30, args, lambda: memory(args, weights))
        if args.compile_modes:
            # training first: eager GAN steps are launch-bound at LR 32² (3% of peak on an H200)
            section(report, "training_compiled", 90, args, lambda: training_compiled(args))
            section(report, "compile", 90, args, lambda: compiled(args, weights))
    write(report, args)
    common.log(f"done in {elapsed():.0f} s; wrote {Path(args.out) / 'gpu_suite.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
