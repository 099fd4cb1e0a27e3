"""How far item 7's real-world training goes with more compute and bigger nets: trained on a GPU, benched here.

Issue 14, item 7 asks a real-world recipe (15 minutes on 2 CPU cores) for +0.5 dB over bicubic and +1 dB over
the bicubic-trained tiny model on the degraded Set5/BSD100. This measures what realesrgan_tiny_x4's training
reaches when compute is not the limit, side by side, each variant in its own process on one GPU for the same
minutes:
    tiny-b16    that recipe's generator and batch, from the bicubic-trained model (as its CPU run starts)
    tiny-b64    the same with 4x the batch
    rrdb64x6    RRDBNet 64 features, 6 blocks (x4plus_anime_6B's size), from scratch, batch 32
    x4plus-l1   the 23-block x4plus net from RealESRGAN_x4plus, L1 fine-tuned on the degradations: close to what
                RealESRNet_x4plus is (the official L1 stage), on gt 128 from 256-pixel degraded patches
All train the recipe's L1 phase only (the targets score the PSNR generator), on T91 + BSDS200 with the recipe's
degradation, bf16, cosine schedule fitted to the minutes from timed steps, EMA 0.999.

    python benchmarks/real_world_ceiling.py pack --out DIR     # here: lossless WebP copies of the data to carry
    # on the GPU machine (the repo with DIR carried; SRZOO_DATA is set to the unpacked copy):
    python benchmarks/real_world_ceiling.py unpack --src DIR --out DATA
    python benchmarks/real_world_ceiling.py train --minutes 6 --out RUNS --x4plus PATH --bicubic-model PATH
    # here, on RUNS brought back:
    python benchmarks/real_world_ceiling.py report --runs RUNS [--tag h200]
`report` builds the degraded sets exactly as benchmarks/train_quality_real.py does (seed 0) and benches every
variant next to bicubic and the bicubic-trained model on this machine, and adds the CPU runs of
train_quality_real.py that CPU_RUNS names (real_world_ceiling_report.py): the same inputs, the same bench. Writes benchmarks/results/real_world_ceiling[_TAG].json and .md; `train` writes
RUNS/train.json (step times, iterations, GPU), which `report` copies into its json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from common import BICUBIC_MODEL, RESULTS, machine_info, machine_line, sigterm_after

RECIPE = "realesrgan_tiny_x4"
PACKED_SETS = ("T91", "BSDS200", "Set5")  # training sets, and Set5 for the phase-end validation
PLAN_MARGIN = 0.85  # of the time left after timing: the variants share one GPU and the host's cores
EXPORT_SECONDS = 30  # phase end, validation, export, after the planned steps


@dataclass(frozen=True)
class Variant:
    name: str
    batch: int
    lr: float
    generator: dict[str, int] = field(default_factory=dict)  # rrdbnet kwargs; empty: the recipe's
    init: str | None = None  # "bicubic" | "x4plus" | None (the arch's own initialisation)
    patch: int = 128  # HR patch degraded, then cropped to gt
    gt: int = 64


VARIANTS = {
    v.name: v
    for v in (
        Variant("tiny-b16", 16, 2e-3, init="bicubic"),
        Variant("tiny-b64", 64, 2e-3, init="bicubic"),
        Variant("rrdb64x6", 32, 5e-4, {"num_feat": 64, "num_grow": 32, "num_blocks": 6}),
        Variant(
            "x4plus-l1", 16, 1e-4, {"num_feat": 64, "num_grow": 32, "num_blocks": 23}, "x4plus", 256, 128
        ),
    )
}


def train_sets() -> list[str]:
    """T91 + BSDS200 (the recipe's), or T91 alone where BSDS200 did not reach this machine (then said)."""
    have_bsds = (Path(os.environ["SRZOO_DATA"]) / "BSDS200" / "HR").is_dir()
    return ["t91", "bsds200"] if have_bsds else ["t91"]


def overrides(v: Variant, iters: int, init: Path | None, precision: str) -> list[str]:
    """The recipe as the variant trains it: its L1 phase only, no discriminator."""
    phase = (
        f"[{{name: psnr, type: supervised, iters: {iters}, losses: [{{name: l1, target: hr}}], "
        f"optimizer: {{name: adam, lr: {v.lr}, betas: [0.9, 0.99]}}, "
        f"scheduler: {{name: cosine, eta_min: {v.lr / 200}}}}}]"
    )
    out = [
        f"phases={phase}", "discriminator=null", f"data.batch_size={v.batch}", f"data.patch_size={v.patch}",
        f"data.degradation.kwargs.gt_size={v.gt}", "data.val=[{name: set5}]", "data.val_max_images=1",
        "data.train=[" + ", ".join(f"{{name: {s}}}" for s in train_sets()) + "]", "data.num_workers=0",
        f"train.mixed_precision={precision}", "train.checkpoint_interval=0", "train.val_interval=0",
        "train.log_interval=100", "train.trackers=[]",
    ]  # fmt: skip
    out += [f"generator.kwargs.{k}={val}" for k, val in v.generator.items()]
    if init is not None:
        out.append(f"generator.weights={init.resolve()}")
    return out


def train_one(v: Variant, minutes: float, out: Path, init: Path | None, threads: int, smoke: bool) -> dict:
    """Time the variant's step, fit a cosine run into the minutes left, train it (a SIGTERM at the deadline
    stops it after a step and exports last.safetensors), and return what happened."""
    import torch

    from srzoo.recipes.schema import load_recipe
    from srzoo.train.budget import measure
    from srzoo.train.loop import train
    from srzoo.train.options import TrainOptions

    start = time.perf_counter()
    torch.set_num_threads(threads)
    precision = "bf16" if torch.cuda.is_available() else "no"
    times = measure(load_recipe(RECIPE, overrides(v, 10, init, precision)), choose_threads=False)
    step = times.step_seconds[0]
    left = minutes * 60 - (time.perf_counter() - start) - EXPORT_SECONDS
    iters = 3 if smoke else max(10, int(PLAN_MARGIN * left / step))
    print(f"{v.name}: {step:.4f} s/step timed -> {iters} iterations", flush=True)
    recipe = load_recipe(RECIPE, overrides(v, iters, init, precision))
    train_start = time.perf_counter()
    with sigterm_after(max(1.0, minutes * 60 - (train_start - start))):
        result = train(recipe, TrainOptions(output_dir=out))
    seconds = time.perf_counter() - train_start
    return {
        "variant": v.__dict__, "iterations_planned": iters, "iterations": result.global_step,
        "status": result.status, "timed_step_s": step, "train_s": seconds,
        "steps_per_s": result.global_step / seconds, "precision": precision, "threads": threads,
        "init": str(init) if init else None, "train_sets": train_sets(),
    }  # fmt: skip


def cmd_train(args: argparse.Namespace) -> int:
    """Every variant in its own process, side by side on this machine's device; RUNS/train.json."""
    names = args.variants.split(",")
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        print(f"error: unknown variant {unknown[0]!r}; choose from {', '.join(VARIANTS)}", file=sys.stderr)
        return 2
    given = {"bicubic": ("--bicubic-model", args.bicubic_model), "x4plus": ("--x4plus", args.x4plus)}
    inits: dict[str, Path | None] = {}
    for name in names:
        flag, init = given[VARIANTS[name].init] if VARIANTS[name].init else ("", None)
        if flag and (init is None or not init.is_file()):
            print(f"error: variant {name} starts from {flag} {init or '(not given)'}, which is not a file; pass "
                  f"{flag} PATH or leave {name} out of --variants", file=sys.stderr)  # fmt: skip
            return 2
        inits[name] = init
    args.out.mkdir(parents=True, exist_ok=True)
    machine = machine_info()
    threads = max(1, (os.cpu_count() or 2) // len(names))
    procs = {}
    for name, init in inits.items():
        cmd = [sys.executable, __file__, "train-one", name, "--minutes", str(args.minutes), "--out",
               str(args.out / name), "--threads", str(threads), *(["--init", str(init)] if init else []),
               *(["--smoke"] if args.smoke else [])]  # fmt: skip
        log = (args.out / f"{name}.log").open("w")
        procs[name] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    runs = {}
    for name, proc in procs.items():
        code = proc.wait()
        summary = args.out / name / "summary.json"
        if summary.is_file():
            weights = bring_back(args.out / name / "last.safetensors", args.out / f"{name}.safetensors")
            runs[name] = json.loads(summary.read_text()) | {"weights": weights}
        else:
            runs[name] = {"exit": code}
        print(name, json.dumps(runs[name]), flush=True)
    report = {
        "minutes": args.minutes,
        "runs": runs,
        "machine": machine_line(machine),
        "machine_info": machine,
    }
    (args.out / "train.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    return 0 if all("iterations" in r for r in runs.values()) else 1


def bring_back(src: Path, dest: Path) -> str:
    """The exported generator, float16 where it is over 2M parameters (the 23-block net is 67 MB in float32;
    the way back takes 16 MiB a file)."""
    rewrite_weights(src, dest, half=lambda tensors: sum(t.numel() for t in tensors.values()) > 2_000_000)
    return dest.name


def rewrite_weights(src: Path, dest: Path, half: Callable[[dict], bool]) -> Path:
    """`src`'s tensors and metadata into `dest`, the floating ones in float16 where `half(tensors)` says so,
    else in float32."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(src), "pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is not a dict)
        meta = f.metadata()
    dtype = torch.float16 if half(tensors) else torch.float32
    tensors = {k: t.to(dtype) if t.is_floating_point() else t for k, t in tensors.items()}
    save_file(tensors, str(dest), metadata=meta)
    return dest


def cmd_train_one(args: argparse.Namespace) -> int:
    summary = train_one(VARIANTS[args.variant], args.minutes, args.out, args.init, args.threads, args.smoke)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


def cmd_pack(args: argparse.Namespace) -> int:
    """Lossless WebP copies of the sets the variants read (the GPU machine takes 64 MiB; PNG is 1.5x)."""
    from PIL import Image

    root = Path(os.environ["SRZOO_DATA"])
    for path in sorted(p for s in PACKED_SETS for p in (root / s).rglob("*.png")):
        dest = args.out / path.relative_to(root).with_suffix(".webp")
        dest.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(path) as im:
            im.save(dest, lossless=True, quality=100, method=4)
    return 0


def cmd_unpack(args: argparse.Namespace) -> int:
    """Back to PNG, pixel for pixel (checked on every image)."""
    import numpy as np
    from PIL import Image

    count = 0
    for path in sorted(args.src.rglob("*.webp")):
        dest = args.out / path.relative_to(args.src).with_suffix(".png")
        dest.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(path) as im:
            pixels = np.asarray(im.convert("RGB"))
        Image.fromarray(pixels).save(dest)
        with Image.open(dest) as back:
            if not np.array_equal(np.asarray(back.convert("RGB")), pixels):
                print(f"error: {dest} does not round-trip", file=sys.stderr)
                return 1
        count += 1
    print(f"unpacked {count} images into {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="lossless WebP copies of T91, BSDS200 and Set5 (to carry)")
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("unpack", help="PNG copies of packed sets (SRZOO_DATA for train)")
    p.add_argument("--src", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("train", help="train the variants side by side (GPU machine)")
    p.add_argument("--minutes", type=float, default=6.0)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--x4plus", type=Path, help="RealESRGAN_x4plus weights (x4plus-l1 starts from them)")
    p.add_argument("--bicubic-model", type=Path, default=BICUBIC_MODEL)
    p.add_argument("--smoke", action="store_true", help="3 iterations each (a check of the setup)")
    p = sub.add_parser("train-one")
    p.add_argument("variant", choices=list(VARIANTS))
    p.add_argument("--minutes", type=float, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--init", type=Path)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--smoke", action="store_true")
    p = sub.add_parser("report", help="bench the variants brought back, here")
    p.add_argument("--runs", type=Path, required=True)
    p.add_argument("--tag")
    p.add_argument("--bicubic-model", type=Path, default=BICUBIC_MODEL)
    p.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.command in ("pack", "train", "train-one") and "SRZOO_DATA" not in os.environ:
        from srzoo.testing import shared_datasets

        os.environ["SRZOO_DATA"] = str(shared_datasets())
    if args.command == "report":
        from real_world_ceiling_report import report

        return report(args)
    commands = {"pack": cmd_pack, "unpack": cmd_unpack, "train": cmd_train, "train-one": cmd_train_one}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
