"""Inference speed of `srzoo.load_model` vs spandrel's ESRGAN (same weights, same process) and ONNX Runtime.

Run from the repository root:  .venv/bin/python benchmarks/inference.py [--sizes 64,128,256] [--batches 1,4]
Writes benchmarks/results/inference_<device>.json and .md: per LR size and batch, median wall time of
alternated runs, output megapixels/s, achieved GFLOP/s, % of the measured peak (benchmarks/peak.py, run
in the same process), ratio to spandrel and the max abs difference of outputs. `--levers` instead times
each speed lever separately at one size (inference_levers_<device>.*). `--arch swinir,span,...` instead times
spandrel-plugin archs at published configurations against spandrel's own module (inference_archs.py;
inference_spandrel_archs_<device>.*). `--tiny` is the test mode.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import common
import peak
import torch

from srzoo.errors import SrzooError
from srzoo.framework.weights import resolve_weights
from srzoo.inference import cpu_kernels as cpu_conv
from srzoo.inference.fastpath import fuse_for_inference
from srzoo.inference.model import SRModel, build_from_weights, load_model


def tiny_weights(folder: Path) -> Path:
    """A random 1-block RRDBNet x4 saved as BasicSR .pth, the layout spandrel reads too (test mode)."""
    from srzoo_esrgan.rrdbnet import RRDBNet

    from srzoo.framework.weights import save_basicsr

    torch.manual_seed(0)
    net = RRDBNet(num_feat=16, num_grow=32, num_blocks=1)  # spandrel assumes num_grow 32
    return save_basicsr(folder / "tiny_rrdbnet_x4.pth", net.state_dict())


def spandrel_model(weights: Path, device: str) -> torch.nn.Module | None:
    """spandrel's module as a user runs it: default NCHW, fp32, eval; None when spandrel is missing."""
    try:
        import spandrel
    except ImportError:
        return None
    return spandrel.ModelLoader().load_from_file(str(weights)).model.eval().to(device)


def flops_of(model: SRModel, batch: int, side: int) -> int:
    """Counted on the meta device from the arch itself (equals issue 8's closed form for x4 RRDBNet)."""
    from srzoo.framework.build import build_arch

    with torch.device("meta"):
        net = build_arch(model.card.arch, scale=model.scale, **model.card.kwargs)
        x = torch.empty(batch, 3, side, side)
    return common.counted_flops(lambda: net(x))


def onnx_runner(model: SRModel, threads: int, folder: Path) -> Any:
    """An onnxruntime session on srzoo's ONNX export (fp32), or None if onnx/onnxruntime are missing."""
    try:
        import onnxruntime as ort

        from srzoo.inference.export import export_onnx
    except ImportError:
        return None
    report = export_onnx(model, folder / "model.onnx")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(report.path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda x: torch.from_numpy(session.run(None, {name: x.numpy()})[0])


def run_case(variants: dict[str, Any], x: torch.Tensor, args: argparse.Namespace) -> dict[str, Any]:
    """Max abs difference to the first variant (this call is also the warm-up), then alternated timing."""
    with torch.inference_mode():
        outs = {name: fn(x).float().clamp(0, 1) for name, fn in variants.items()}
        ref = next(iter(outs.values()))
        diffs = {name: float((out - ref).abs().max()) for name, out in outs.items()}
        del outs, ref
        for attempt in range(args.retries + 1):
            if args.wait_quiet:
                common.wait_for_quiet(args.max_contention, args.wait_quiet)
            with common.Contention() as busy:
                times = common.alternate(
                    {name: (lambda fn=fn: fn(x)) for name, fn in variants.items()},
                    reps=args.reps,
                    warmup=0,
                    device=args.device,
                    budget_s=args.budget,
                    clock=time.process_time if args.clock == "cpu" else time.perf_counter,
                )
            if busy.others is None or busy.others <= args.max_contention or attempt == args.retries:
                break
            common.log(f"   other processes used {busy.others:.0%} of the CPUs: timing again")
    out = {name: {"seconds": times[name], "max_abs_diff": diffs[name]} for name in variants}
    for entry in out.values():
        entry["others_cpu_share"] = busy.others
    return out


def set5_psnr(
    models: dict[str, SRModel], root: Path | None, reference: SRModel | None = None
) -> dict[str, Any] | None:
    """Set5 x4 PSNR-Y (crop 4) of each model: bf16 must stay within 0.05 dB of fp32.

    With `reference`, also each model's max abs float output difference from it on the real LR images
    (under "max_abs_diff"): random inputs flatter Winograd's rounding.
    """
    from srzoo.data.sets import open_eval_set
    from srzoo.eval.metrics import psnr

    try:
        eval_set = open_eval_set("set5", 4, root=root)
    except Exception as exc:  # no data here: the report says so instead of failing the whole run
        return {"skipped": str(exc)[:200]}
    scores: dict[str, list[float]] = {name: [] for name in models}
    diffs: dict[str, float] = {name: 0.0 for name in models}
    for image in eval_set:
        rgb = image.lr if image.lr.ndim == 3 else image.lr[:, :, None].repeat(3, axis=2)
        lr = torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float() / 255
        ref = reference(lr) if reference is not None else None
        for name, model in models.items():
            out = model(lr)
            if ref is not None:
                diffs[name] = max(diffs[name], float((out - ref).abs().max()))
            sr = (out[0].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
            scores[name].append(psnr(sr, image.hr, crop_border=4, channel="y"))
    result: dict[str, Any] = {name: sum(v) / len(v) for name, v in scores.items()}
    if reference is not None:
        result["max_abs_diff"] = diffs
    return result


def main_cases(args: argparse.Namespace, weights: Path, tmp: Path) -> dict[str, Any]:
    precisions = [p for p in args.precisions.split(",") if p]
    models = {p: load_model(weights, device=args.device, precision=p) for p in precisions}
    variants: dict[str, Any] = {}
    sp = spandrel_model(weights, args.device)
    if sp is not None:
        variants["spandrel fp32"] = sp
    for p, model in models.items():
        variants[f"srzoo {p}"] = model
    if "fp32" in models and args.device == "cpu" and cpu_conv.nnpack_usable():
        # the opt-in Winograd kernel, measured beside the default so the trade-off reads off one table
        variants["srzoo fp32 nnpack"] = load_model(weights, device=args.device, cpu_conv="nnpack")
    ort_run = onnx_runner(models["fp32"], args.threads, tmp) if args.onnx and "fp32" in models else None
    peaks = args.peak
    cases = []
    for side in args.sizes:
        for batch in args.batches:
            common.log(f"LR {side}x{side} batch {batch}")
            x = torch.rand(batch, 3, side, side, device=args.device)
            case_variants = dict(variants)
            if ort_run is not None and batch == 1:
                case_variants["onnxruntime fp32"] = ort_run
            result = run_case(case_variants, x, args)
            flops = flops_of(models[precisions[0]], batch, side)
            out_mp = batch * (side * models[precisions[0]].scale) ** 2 / 1e6
            base = common.median(result["spandrel fp32"]["seconds"]) if "spandrel fp32" in result else None
            for name, entry in result.items():
                t = common.median(entry["seconds"])
                dtype = next(w for w in (*name.split(), "fp32") if w in ("fp32", "bf16", "fp16"))
                peak_g = peaks.get(dtype, {}).get("peak_gflops")
                entry.update(
                    median_s=t,
                    megapixels_per_s=out_mp / t,
                    gflops=flops / t / 1e9,
                    pct_of_peak=100 * flops / t / 1e9 / peak_g if peak_g else None,
                    ratio_vs_spandrel=base / t if base else None,
                )
                rate, diff = flops / t / 1e9, entry["max_abs_diff"]
                common.log(f"  {name:18s} {t * 1e3:9.1f} ms  {rate:7.1f} GFLOP/s  diff {diff:.2e}")
            cases.append({"lr_side": side, "batch": batch, "flops": flops, "variants": result})
    report: dict[str, Any] = {"cases": cases}
    if args.psnr and "bf16" in models and "fp32" in models:
        common.log("Set5 PSNR-Y fp32 vs bf16 (and max abs diff from the plain fp32 net)")
        chosen = {p: models[p] for p in ("fp32", "bf16")}
        if "srzoo fp32 nnpack" in variants:
            chosen["fp32 nnpack"] = variants["srzoo fp32 nnpack"]
        plain = load_model(weights, device=args.device, fast=False)
        report["set5_psnr_y"] = set5_psnr(chosen, args.data_root, reference=plain)
    report["targets"] = targets(report)
    return report


def targets(report: dict[str, Any]) -> dict[str, Any]:
    """Issue 8's CPU targets, computed from the batch-1 cases."""
    out: dict[str, Any] = {}
    b1 = [c for c in report["cases"] if c["batch"] == 1]
    for p, goal in (("fp32", 1.3), ("fp32 nnpack", 1.3), ("bf16", 2.0)):
        ratios = [
            c["variants"][f"srzoo {p}"]["ratio_vs_spandrel"] for c in b1 if f"srzoo {p}" in c["variants"]
        ]
        ratios = [r for r in ratios if r]
        if ratios:
            g = common.geomean(ratios)
            key = p.replace(" ", "_")
            out[f"{key}_geomean_ratio_vs_spandrel_fp32"] = {"value": g, "goal": goal, "met": g >= goal}
    set5_diffs = (report.get("set5_psnr_y") or {}).get("max_abs_diff", {})
    for p in ("fp32", "fp32 nnpack"):
        diffs = [
            c["variants"][f"srzoo {p}"]["max_abs_diff"]
            for c in report["cases"]
            if f"srzoo {p}" in c["variants"]
        ]
        key = p.replace(" ", "_")
        if diffs:  # the issue's condition: on the timed (random) inputs
            out[f"{key}_max_abs_diff"] = {"value": max(diffs), "goal": 1e-5, "met": max(diffs) <= 1e-5}
        if p in set5_diffs:  # real images amplify rounding more than random ones: shown, not judged
            out[f"{key}_set5_max_abs_diff"] = {"value": set5_diffs[p], "goal": None, "met": None}
    at128 = [c["variants"]["srzoo fp32"] for c in b1 if c["lr_side"] == 128 and "srzoo fp32" in c["variants"]]
    if at128 and at128[0]["pct_of_peak"] is not None:
        pct = at128[0]["pct_of_peak"]
        out["fp32_pct_of_peak_128"] = {"value": pct, "goal": 80.0, "met": pct >= 80.0}
    scores = report.get("set5_psnr_y") or {}
    if "fp32" in scores and "bf16" in scores:
        delta = abs(scores["fp32"] - scores["bf16"])
        out["bf16_set5_psnr_y_change_db"] = {"value": delta, "goal": 0.05, "met": delta <= 0.05}
    return out


def in_layout(net: torch.nn.Module, fmt: torch.memory_format) -> Any:
    """`net` as an inference callable fed `fmt` inputs, clamped like SRModel's outputs."""

    def run(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return net(x.contiguous(memory_format=fmt)).clamp_(0, 1).contiguous()

    return run


def lever_variants(weights: Path, device: str, compile_: bool) -> dict[str, Any]:
    """Each speed lever on its own (same weights), so its effect can be read off one alternated run."""
    import copy

    cl = torch.channels_last
    variants: dict[str, Any] = {}
    sp = spandrel_model(weights, device)
    if sp is not None:
        variants["spandrel fp32 (NCHW)"] = sp
        sp_cl = copy.deepcopy(sp).to(memory_format=cl)
        variants["spandrel fp32 channels_last"] = lambda x: sp_cl(x.contiguous(memory_format=cl))
    variants["srzoo fp32 fast=False"] = load_model(weights, device=device, fast=False)
    unfused = load_model(weights, device=device, fast=False).net.to(memory_format=cl)
    variants["srzoo fp32 channels_last, unfused"] = in_layout(unfused, cl)
    no_pool = fuse_for_inference(
        load_model(weights, device=device, fast=False).net.to(memory_format=cl), pool_concats=False
    )
    variants["srzoo fp32 channels_last + fused convs, plain torch.cat"] = in_layout(no_pool, cl)
    fast = load_model(weights, device=device, cpu_conv="onednn")
    variants["srzoo fp32 fast (channels_last + fused + concat buffers)"] = fast
    if cpu_conv.nnpack_usable():
        variants["srzoo fp32 fast, NNPACK Winograd convs (NCHW)"] = load_model(
            weights, device=device, cpu_conv="nnpack"
        )

    def no_grad_only(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(False), torch.no_grad():
            return fast.net(x.contiguous(memory_format=cl))

    variants["srzoo fp32 fast, no_grad instead of inference_mode"] = no_grad_only

    def flush_denormal(x: torch.Tensor) -> torch.Tensor:
        torch.set_flush_denormal(True)
        try:
            return fast(x)
        finally:
            torch.set_flush_denormal(False)

    variants["srzoo fp32 fast + flush denormals"] = flush_denormal
    if compile_:
        compiled = torch.compile(unfused)  # inductor WITHOUT freezing (freezing gives wrong RRDBNet output)

        def run_compiled(x: torch.Tensor) -> torch.Tensor:
            return compiled(x.contiguous(memory_format=cl))

        t0 = time.perf_counter()
        with torch.inference_mode():
            run_compiled(torch.rand(1, 3, 32, 32, device=device))
        common.log(f"torch.compile warm-up {time.perf_counter() - t0:.0f} s")
        variants["srzoo fp32 channels_last + torch.compile (no freezing)"] = run_compiled
    if device != "cpu" or common.cpu_bf16_native():
        variants["srzoo bf16 (weights cast, fused)"] = load_model(weights, device=device, precision="bf16")

        def autocast_bf16(x: torch.Tensor) -> torch.Tensor:
            with torch.autocast(device, dtype=torch.bfloat16), torch.inference_mode():
                return unfused(x.contiguous(memory_format=cl)).float().clamp_(0, 1)

        variants["srzoo fp32 + autocast bf16"] = autocast_bf16
    else:
        # what load_model refuses on this CPU (srzoo.inference.precision), timed to show why: the same
        # SRModel in bf16, whose convs fall back to PyTorch's generic (non-oneDNN) bf16 loops
        emulated = SRModel(*build_from_weights(resolve_weights(weights)), precision="bf16").to(device)
        variants["srzoo bf16 emulated (no oneDNN bf16 here; refused by load_model)"] = emulated

    def fpmath_bf16(x: torch.Tensor) -> torch.Tensor:
        with torch.backends.mkldnn.flags(enabled=True, fp32_precision="bf16"), torch.inference_mode():
            return unfused(x.contiguous(memory_format=cl)).clamp_(0, 1)

    variants["srzoo fp32 + oneDNN fpmath bf16"] = fpmath_bf16
    return variants


def lever_cases(args: argparse.Namespace, weights: Path) -> dict[str, Any]:
    variants = lever_variants(weights, args.device, args.compile)
    fast_model = next(v for v in variants.values() if isinstance(v, SRModel))
    cases = []
    for side in args.sizes:
        common.log(f"levers at LR {side}x{side}")
        x = torch.rand(1, 3, side, side, device=args.device)
        result = run_case(variants, x, args)
        base = common.median(next(iter(result.values()))["seconds"])
        flops = flops_of(fast_model, 1, side)
        for name, entry in result.items():
            t = common.median(entry["seconds"])
            entry.update(median_s=t, gflops=flops / t / 1e9, ratio_vs_first=base / t)
            common.log(f"  {name:55s} {t * 1e3:9.1f} ms  x{base / t:.2f}  diff {entry['max_abs_diff']:.1e}")
        cases.append({"lr_side": side, "batch": 1, "flops": flops, "variants": result})
    report: dict[str, Any] = {"cases": cases}
    if args.psnr:
        bf16 = {k: v for k, v in variants.items() if "bf16" in k or k.startswith("srzoo fp32 fast (")}
        common.log("Set5 PSNR-Y of the bf16 levers")
        report["set5_psnr_y"] = set5_psnr(bf16, args.data_root)
    return report


def markdown(report: dict[str, Any]) -> str:
    levers = report["mode"] == "levers"
    parts = [
        f"# Inference {'levers' if levers else 'throughput'} ({report['device']}, {report['weights']})",
        common.machine_line(report["machine"]),
        f"Median of alternated runs (reps {report['reps']}, {report['clock']} clock); peak: "
        + ", ".join(f"{k} {v['peak_gflops']:.0f} GFLOP/s" for k, v in report["peak"].items()),
    ]
    for case in report["cases"]:
        rows = []
        for name, e in case["variants"].items():
            pct = f"{e['pct_of_peak']:.0f}%" if e.get("pct_of_peak") else "-"
            ratio = e.get("ratio_vs_first") if levers else e.get("ratio_vs_spandrel")
            mp = f"{e['megapixels_per_s']:.3f}" if "megapixels_per_s" in e else "-"
            rows.append((name, e["median_s"] * 1e3, mp, e["gflops"], pct, f"{ratio:.2f}x" if ratio else "-",
                         f"{e['max_abs_diff']:.1e}"))  # fmt: skip
        vs = "first row" if levers else "spandrel fp32"
        others = next(iter(case["variants"].values())).get("others_cpu_share")
        busy = f"; other processes used {others:.0%} of the CPUs meanwhile" if others is not None else ""
        parts.append(
            f"## LR {case['lr_side']}² batch {case['batch']} ({case['flops'] / 1e9:.0f} GFLOP{busy})"
        )
        headers = ("variant", "ms", "out MP/s", "GFLOP/s", "% of peak", f"speed vs {vs}", "max abs diff")
        parts.append(common.markdown_table(headers, rows))
    if report.get("set5_psnr_y"):
        scores = report["set5_psnr_y"]
        set5_diffs = scores.get("max_abs_diff", {})
        rows = [
            (k, f"{v:.4f}" if isinstance(v, float) else v, f"{set5_diffs[k]:.1e}" if k in set5_diffs else "-")
            for k, v in scores.items()
            if k != "max_abs_diff"
        ]
        header = ("variant", "PSNR-Y", "max abs diff from the plain fp32 net (Set5 LR)")
        parts += ["## Set5 x4 PSNR-Y (dB)", common.markdown_table(header, rows)]
    if report.get("targets"):
        rows = [(k, f"{v['value']:.4g}", "-" if v["goal"] is None else v["goal"],
                 "(info)" if v["met"] is None else "met" if v["met"] else "**not met**")
                for k, v in report["targets"].items()]  # fmt: skip
        parts += ["## Targets (issue 8)", common.markdown_table(("target", "measured", "goal", ""), rows)]
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", type=Path, default=common.WEIGHTS, help="x4 RRDBNet weights (BasicSR layout)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--sizes", default="64,128,256", help="LR sides")
    p.add_argument("--batches", default="1,4")
    p.add_argument("--precisions", default=None, help="default fp32,bf16 on CPU, fp32,fp16,bf16 on CUDA")
    p.add_argument("--reps", type=int, default=5, help="timed rounds per case (each alternates all variants)")
    p.add_argument("--budget", type=float, default=240.0, help="seconds of timed rounds per case, at most")
    p.add_argument("--threads", type=int, help="torch threads (default: physical cores)")
    p.add_argument(
        "--clock",
        default="wall",
        choices=("wall", "cpu"),
        help="cpu: process CPU seconds (use with --threads 1 on a busy machine)",
    )
    p.add_argument("--retries", type=int, default=0, help="re-time a case that other processes disturbed")
    p.add_argument("--max-contention", type=float, default=0.1, help="share of CPUs others may use (retries)")
    p.add_argument("--wait-quiet", type=float, default=0, help="wait up to this many s for a quiet machine")
    p.add_argument("--no-onnx", dest="onnx", action="store_false", help="skip ONNX Runtime")
    p.add_argument("--no-psnr", dest="psnr", action="store_false", help="skip the Set5 bf16 PSNR check")
    p.add_argument("--data-root", type=Path, default=common.ROOT.parent / "shared" / "datasets")
    p.add_argument("--levers", action="store_true", help="time each speed lever separately instead")
    p.add_argument("--compile", action="store_true", help="with --levers: also torch.compile (slow warm-up)")
    p.add_argument(
        "--arch", help="NAME[,NAME...]: spandrel-plugin archs vs spandrel's own module (default sizes 64)"
    )
    p.add_argument("--tiny", action="store_true", help="test mode: random 1-block model, LR 16, one rep")
    p.add_argument("--out", help="output folder (default benchmarks/results)")
    p.add_argument("--name", help="output file name without extension (default inference[_levers]_<device>)")
    args = p.parse_args(argv)
    args.threads = common.set_threads(args.threads)
    cuda = args.device.startswith("cuda")
    # bf16 on a CPU only where oneDNN has bf16 kernels (not AVX2): srzoo.load_model refuses it elsewhere
    args.precisions = args.precisions or (
        "fp32,fp16,bf16" if cuda else "fp32,bf16" if common.cpu_bf16_native() else "fp32"
    )
    if args.arch:
        return main_archs(args)
    if args.tiny:
        args.sizes, args.batches, args.reps, args.psnr = "16", "1,2", 1, False
    args.sizes = [int(s) for s in str(args.sizes).split(",")]
    args.batches = [int(b) for b in str(args.batches).split(",")]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        weights = tiny_weights(Path(tmp)) if args.tiny else args.weights
        if not weights.is_file():
            print(f"weights {weights} not found; pass --weights PATH (an x4 RRDBNet .pth)", file=sys.stderr)
            return 2
        common.log("measuring peak")
        clock = time.process_time if args.clock == "cpu" else time.perf_counter
        seconds = 0.3 if args.tiny else 2.0
        args.peak = peak.measure("cuda" if cuda else "cpu", quick=args.tiny, seconds=seconds, clock=clock)
        try:
            body = lever_cases(args, weights) if args.levers else main_cases(args, weights, Path(tmp))
        except SrzooError as exc:  # e.g. --precisions bf16 on a CPU without bf16 kernels: one line
            print(f"inference.py: {exc}", file=sys.stderr)
            return 2
    report = {
        "mode": "levers" if args.levers else "throughput",
        "device": args.device,
        "weights": "tiny random RRDBNet" if args.tiny else weights.name,
        "machine": common.machine_info(),
        "reps": args.reps,
        "clock": args.clock,
        "peak": args.peak,
        **body,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    kind = "cuda" if cuda else "cpu"
    name = f"inference_levers_{kind}" if args.levers else f"inference_{kind}"
    name = args.name or name + ("_tiny" if args.tiny else "")
    path = common.write_results(name, report, markdown(report), args.out)
    common.log(f"wrote {path}")
    return 0


def main_archs(args: argparse.Namespace) -> int:
    """`--arch`: srzoo vs spandrel per spandrel-plugin arch (benchmarks/inference_archs.py)."""
    import inference_archs

    args.arch = [a.strip() for a in args.arch.split(",") if a.strip()]
    if args.tiny:
        args.sizes, args.reps = "16", 1
    sizes = "64" if args.sizes == "64,128,256" else str(args.sizes)  # the RRDBNet default is too slow here
    args.sizes = [int(s) for s in sizes.split(",")]
    t0 = time.perf_counter()
    body = inference_archs.arch_cases(args, run_case)
    report = {
        "mode": "spandrel_archs",
        "device": args.device,
        "machine": common.machine_info(),
        "reps": args.reps,
        "clock": args.clock,
        **body,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    kind = "cuda" if args.device.startswith("cuda") else "cpu"
    name = args.name or f"inference_spandrel_archs_{kind}" + ("_tiny" if args.tiny else "")
    path = common.write_results(name, report, inference_archs.markdown(report), args.out)
    common.log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
