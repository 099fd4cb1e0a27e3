"""Training iterations/s and % of peak of srzoo's `supervised` and `adversarial` phases (ESRGAN x4 recipe).

Run from the repository root:  .venv/bin/python benchmarks/training_speed.py [--batch 4] [--patch 64]
Writes benchmarks/results/training_speed_<device>.json and .md. The phases are srzoo.train's own
(SupervisedPhase / AdversarialPhase built from the `esrgan_x4` recipe, under Accelerate), fed synthetic
batches so only the step is timed; FLOPs per iteration are counted by torch's FlopCounterMode during the
warm-up step (G forward/backward, D forwards/backward, VGG19 to conv5_4). The VGG uses random weights
(same FLOPs, no download). Data-loader patches/s come from benchmarks/data_loader.py's last result.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import common
import peak
import torch

SETTINGS = (
    "batch",
    "patch",
    "num_blocks",
    "num_feat",
    "num_grow",
    "mixed_precision",
    "channels_last",
    "iters",
    "clock",
)
RECIPE_BATCH, RECIPE_PATCH = 16, 128  # the esrgan_x4 recipe's training step (issue 8's reference config)


def build_phase(kind: str, args: argparse.Namespace) -> tuple[Any, Any]:
    """(phase, accelerator) for phase `kind` of esrgan_x4 with this run's model size, batch and patch."""
    from accelerate import Accelerator

    from srzoo.framework.build import build_arch, build_phase
    from srzoo.recipes.schema import load_recipe

    overrides = [
        f"generator.kwargs.num_blocks={args.num_blocks}",
        f"generator.kwargs.num_feat={args.num_feat}",
        f"generator.kwargs.num_grow={args.num_grow}",
        f"data.batch_size={args.batch}",
        f"data.patch_size={args.patch}",
        "phases.1.losses.1.kwargs.weights=none",
    ]
    if args.tiny:  # a small D and a shallow VGG tap: seconds, not minutes, on CPU
        overrides += [
            "discriminator.kwargs.num_feat=4",
            "phases.1.losses.1.kwargs.layer_weights={conv1_2: 1.0}",
        ]
    recipe = load_recipe("esrgan_x4", overrides)
    spec = next(p for p in recipe.phases if p.type == kind)
    generator = build_arch(recipe.generator.arch, scale=recipe.scale, **recipe.generator.kwargs)
    if args.channels_last:
        generator.to(memory_format=torch.channels_last)
    accelerator = Accelerator(cpu=args.device == "cpu", mixed_precision=args.mixed_precision)
    phase = build_phase(spec, recipe, generator)
    phase.prepare(accelerator)
    if args.channels_last:
        for model in phase.models().values():
            model.to(memory_format=torch.channels_last)
    return phase, accelerator


class HandLoop:
    """The phases' math without srzoo.train (for machines without accelerate/timm/yaml): G step with D frozen
    (L1 x0.01 + VGG19 conv5_4 + RaGAN x0.005), then D on real and detached fake; Adam(1e-4, 0.9/0.99)."""

    def __init__(self, kind: str, args: argparse.Namespace) -> None:
        from srzoo_esrgan.discriminator import VGGDiscriminator
        from srzoo_esrgan.losses import PerceptualLoss, RaGANLoss
        from srzoo_esrgan.rrdbnet import RRDBNet

        self.kind, self.device = kind, torch.device(args.device)
        fmt = torch.channels_last if args.channels_last else torch.contiguous_format
        kw = {"num_blocks": args.num_blocks, "num_feat": args.num_feat, "num_grow": args.num_grow}
        self.g = RRDBNet(**kw).to(self.device, memory_format=fmt).train()
        fused = self.device.type == "cuda"  # one multi-tensor kernel per step instead of one per parameter
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=1e-4, betas=(0.9, 0.99), fused=fused)
        dtypes = {"bf16": torch.bfloat16, "fp16": torch.float16}
        self.autocast = torch.autocast(
            self.device.type, dtypes.get(args.mixed_precision), enabled=args.mixed_precision in dtypes
        )
        if kind == "adversarial":
            self.d = VGGDiscriminator(input_size=args.patch, num_feat=4 if args.tiny else 64)
            self.d = self.d.to(self.device, memory_format=fmt).train()
            tap = "conv1_2" if args.tiny else "conv5_4"
            self.vgg = PerceptualLoss(layer_weights={tap: 1.0}, weights="none").to(self.device)
            self.gan = RaGANLoss()
            self.opt_d = torch.optim.Adam(self.d.parameters(), lr=1e-4, betas=(0.9, 0.99), fused=fused)
        mode = getattr(args, "compile_mode", None)
        if mode:  # inductor, never `freezing`; the optimizers stay eager
            self.g = torch.compile(self.g, mode=mode)
            if kind == "adversarial":
                self.d, self.vgg = torch.compile(self.d, mode=mode), torch.compile(self.vgg, mode=mode)

    def train_step(self, batch: dict[str, torch.Tensor], _accelerator: Any = None) -> None:
        lr, hr = batch["lr"], batch["hr"]
        if self.kind == "supervised":
            with self.autocast:
                loss = torch.nn.functional.l1_loss(self.g(lr), hr)
            loss.backward()
            self.opt_g.step()
            self.opt_g.zero_grad(set_to_none=True)
            return
        self.d.requires_grad_(False)
        with self.autocast:
            sr = self.g(lr)
            real = self.d(hr).detach()
            loss = 0.01 * torch.nn.functional.l1_loss(sr, hr) + self.vgg(sr, hr)
            loss = loss + 0.005 * self.gan.g_loss(real, self.d(sr))
        loss.backward()
        self.opt_g.step()
        self.opt_g.zero_grad(set_to_none=True)
        self.d.requires_grad_(True)
        with self.autocast:
            d_loss = self.gan.d_loss(self.d(hr), self.d(sr.detach()))
        d_loss.backward()
        self.opt_d.step()
        self.opt_d.zero_grad(set_to_none=True)


def make_step(kind: str, args: argparse.Namespace) -> tuple[Any, torch.device, str]:
    """(train_step(batch), device, which code): srzoo's phases when importable, else the hand loop."""
    if not getattr(args, "hand_loop", False):
        try:
            phase, accelerator = build_phase(kind, args)
            return (lambda batch: phase.train_step(batch, accelerator)), accelerator.device, "srzoo phases"
        except ImportError as exc:  # accelerate / timm / yaml missing on a bare GPU box
            common.log(f"   srzoo.train unavailable ({exc.name} missing): hand loop")
    loop = HandLoop(kind, args)
    return loop.train_step, loop.device, "hand loop"


def batch_for(args: argparse.Namespace, device: torch.device) -> dict[str, torch.Tensor]:
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    lr = torch.rand(args.batch, 3, args.patch // 4, args.patch // 4, device=device)
    hr = torch.rand(args.batch, 3, args.patch, args.patch, device=device)
    return {"lr": lr.contiguous(memory_format=fmt), "hr": hr.contiguous(memory_format=fmt)}


def measure_phase(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    step, device, code = make_step(kind, args)
    batch = batch_for(args, device)
    flops = common.counted_flops(lambda: step(batch))  # also the first warm-up step
    for _ in range(args.warmup - 1):
        step(batch)
    with common.Contention() as busy:
        times = common.alternate(
            {kind: lambda: step(batch)},
            reps=args.iters,
            warmup=0,
            device=device,
            budget_s=args.budget,
            clock=time.process_time if getattr(args, "clock", "wall") == "cpu" else time.perf_counter,
        )[kind]
    t = common.median(times)
    dtype = "bf16" if args.mixed_precision == "bf16" else "fp16" if args.mixed_precision == "fp16" else "fp32"
    peak_g = args.peak.get(dtype, {}).get("peak_gflops")
    return {
        "code": code,
        "others_cpu_share": busy.others,
        "seconds": times,
        "median_s": t,
        "iters_per_s": 1 / t,
        "patches_per_s": args.batch / t,
        "flops_per_iter": flops,
        "gflops": flops / t / 1e9,
        "pct_of_peak": 100 * flops / t / 1e9 / peak_g if peak_g else None,
    }


def recipe_flops(args: argparse.Namespace) -> dict[str, int]:
    """FLOPs of one iteration at the recipe's batch 16, HR patch 128 (counted on the meta device)."""
    from srzoo_esrgan.discriminator import VGGDiscriminator
    from srzoo_esrgan.losses import PerceptualLoss, RaGANLoss
    from srzoo_esrgan.rrdbnet import RRDBNet

    kw = {"num_blocks": args.num_blocks, "num_feat": args.num_feat, "num_grow": args.num_grow}
    with torch.device("meta"):
        g, d = RRDBNet(**kw), VGGDiscriminator(input_size=RECIPE_PATCH)
        vgg, gan = PerceptualLoss(weights="none"), RaGANLoss()
        lr = torch.rand(RECIPE_BATCH, 3, RECIPE_PATCH // 4, RECIPE_PATCH // 4)
        hr = torch.rand(RECIPE_BATCH, 3, RECIPE_PATCH, RECIPE_PATCH)

    def supervised() -> None:
        (g(lr) - hr).abs().mean().backward()

    def adversarial() -> None:
        sr = g(lr)
        d.requires_grad_(False)
        real = d(hr).detach()
        (0.01 * (sr - hr).abs().mean() + vgg(sr, hr) + 0.005 * gan.g_loss(real, d(sr))).backward()
        d.requires_grad_(True)
        gan.d_loss(d(hr), d(sr.detach())).backward()

    return {"supervised": common.counted_flops(supervised), "adversarial": common.counted_flops(adversarial)}


def loader_summary(consumed: dict[str, float]) -> dict[str, Any] | None:
    """Best loader patches/s (cache on / off) from benchmarks/data_loader.py vs what training consumes."""
    path = common.RESULTS / "data_loader.json"
    if not path.is_file():
        return None
    rows = json.loads(path.read_text()).get("results", [])
    best = {
        cache: max((r["patches_per_s"] for r in rows if r.get("cache") is cache), default=None)
        for cache in (True, False)
    }
    need = max(consumed.values(), default=0.0)
    out: dict[str, Any] = {"patches_per_s_cache": best[True], "patches_per_s_no_cache": best[False]}
    out["consumed_patches_per_s"] = consumed
    if need and best[True]:
        out["headroom_with_cache"] = best[True] / need
        out["keeps_up_3x"] = best[True] >= 3 * need
    return out


def markdown(report: dict[str, Any]) -> str:
    a = report["settings"]
    rows = [
        (kind, e["iters_per_s"], e["patches_per_s"], e["flops_per_iter"] / 1e9, e["gflops"],
         f"{e['pct_of_peak']:.0f}%" if e["pct_of_peak"] else "-", e["recipe_iters_per_s_projected"],
         "-" if e.get("others_cpu_share") is None else f"{e['others_cpu_share']:.0%}")
        for kind, e in report["phases"].items()
    ]  # fmt: skip
    parts = [
        f"# Training speed ({report['device']})",
        common.machine_line(report["machine"]),
        f"RRDBNet {a['num_blocks']} blocks nf {a['num_feat']} gc {a['num_grow']}, batch {a['batch']}, "
        f"HR patch {a['patch']}, mixed precision {a['mixed_precision']}, channels_last "
        f"{a['channels_last']}; median of {a['iters']} iterations ({a['clock']} clock). Peak: "
        + ", ".join(f"{k} {v['peak_gflops']:.0f} GFLOP/s" for k, v in report["peak"].items()),
        common.markdown_table(
            (
                "phase",
                "it/s",
                "patches/s",
                "GFLOP/it",
                "GFLOP/s",
                "% of peak",
                "it/s at b16 p128 (projected)",
                "CPU used by others",
            ),
            rows,
        ),
        "Recipe iteration (batch 16, HR 128): "
        + ", ".join(f"{k} {v / 1e12:.2f} TFLOP" for k, v in report["recipe_flops"].items()),
    ]
    loader = report.get("data_loader")
    if loader:
        parts.append(
            f"Data loader (benchmarks/data_loader.py): {loader['patches_per_s_cache']} patches/s with the "
            f"cache, {loader['patches_per_s_no_cache']} without; training here consumes "
            + ", ".join(f"{k} {v:.2f}" for k, v in loader["consumed_patches_per_s"].items())
            + f" patches/s → headroom x{loader.get('headroom_with_cache', float('nan')):.0f}."
        )
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--phases", default="supervised,adversarial")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--patch", type=int, default=64, help="HR patch side (LR is patch / 4)")
    p.add_argument("--num-blocks", type=int, default=23)
    p.add_argument("--num-feat", type=int, default=64)
    p.add_argument("--num-grow", type=int, default=32)
    p.add_argument("--mixed-precision", default="no", choices=("no", "bf16", "fp16"))
    p.add_argument("--channels-last", action="store_true", help="models and batches in channels_last")
    p.add_argument("--iters", type=int, default=5, help="timed iterations per phase")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument(
        "--budget", type=float, default=300.0, help="seconds of timed iterations per phase, at most"
    )
    p.add_argument("--threads", type=int)
    p.add_argument("--clock", default="wall", choices=("wall", "cpu"), help="cpu: process CPU seconds")
    p.add_argument("--hand-loop", action="store_true", help="time the hand-written loop, not srzoo's phases")
    p.add_argument("--tiny", action="store_true", help="test mode: 1-block nf 8 model, batch 2, patch 32")
    p.add_argument("--out", help="output folder (default benchmarks/results)")
    args = p.parse_args(argv)
    common.set_threads(args.threads)
    if args.tiny:
        args.num_blocks, args.num_feat, args.num_grow, args.batch, args.patch, args.iters = 1, 8, 4, 2, 32, 1
    t0 = time.perf_counter()
    kind = "cuda" if args.device.startswith("cuda") else "cpu"
    common.log("measuring peak")
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    args.peak = peak.measure(kind, quick=args.tiny, seconds=0.3 if args.tiny else 2.0, clock=clock)
    totals = recipe_flops(args)
    phases = {}
    for name in [n for n in args.phases.split(",") if n]:
        common.log(f"phase {name}: batch {args.batch}, patch {args.patch}")
        entry = measure_phase(name, args)
        # at the FLOP/s achieved here, how fast the recipe's b16/p128 step would run
        entry["recipe_iters_per_s_projected"] = entry["gflops"] * 1e9 / totals[name]
        common.log(f"  {entry['iters_per_s']:.3f} it/s, {entry['gflops']:.1f} GFLOP/s")
        phases[name] = entry
    consumed = {k: e["recipe_iters_per_s_projected"] * RECIPE_BATCH for k, e in phases.items()}
    report = {
        "device": args.device,
        "machine": common.machine_info(),
        "settings": {k: getattr(args, k) for k in SETTINGS},
        "peak": args.peak,
        "recipe_flops": totals,
        "phases": phases,
        "data_loader": loader_summary(consumed),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    name = f"training_speed_{kind}" + ("_tiny" if args.tiny else "")
    common.log(f"wrote {common.write_results(name, report, markdown(report), args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
