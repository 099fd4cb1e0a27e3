"""`srzoo bench`: score a model and the bicubic baseline on eval sets; markdown table, JSON and figures."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from srzoo.cli.infer import add_speed_args
from srzoo.cli.values import SCALE, integer
from srzoo.errors import ConfigError, WeightsError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "bench",
        help="PSNR/SSIM (NIQE, LPIPS) of models and the bicubic baseline on benchmark sets",
        description="Bench one or several models against MATLAB bicubic on evaluation sets; prints a markdown "
        "table (a row per model, the bicubic row once). Several models: comma lists paired by position, e.g. "
        "--arch swinir,span --weights a.pth,b.pth, or --weights a.pth,b.pth alone (archs detected from the "
        "files); rows are named by arch, plus the file stem where two share one.",
    )
    p.add_argument(
        "--arch",
        help="registered arch (e.g. bicubic) or a comma list of them, one per --weights entry; optional with "
        "--weights (read from srzoo metadata or detected from the file)",
    )
    p.add_argument(
        "--weights",
        help="weights file, training run directory or zoo tag (arch or arch.tag); a comma list benches several",
    )
    p.add_argument(
        "--sets", required=True, help="comma list of set names or HR folders, e.g. set5,set14,bsd100,urban100"
    )
    p.add_argument("--scale", type=SCALE, help="upscaling factor (default: the model's)")
    p.add_argument("--data-root", help="datasets root (default: $SRZOO_DATA, else ~/.cache/srzoo/datasets)")
    p.add_argument("--download", action="store_true", help="download missing registered sets")
    p.add_argument("--out-dir", help="write results.json, results.md and figures/<set>.png here")
    p.add_argument("--json", help="also write the JSON results to this file")
    p.add_argument("--save-images", action="store_true", help="save SR outputs as PNG under OUT_DIR/images")
    p.add_argument(
        "--report",
        metavar="DIR",
        help="also write DIR/index.html: sortable scores and a zoomable comparison per image (offline page)",
    )
    p.add_argument(
        "--show",
        type=integer(0),
        default=0,
        metavar="N",
        help="list (and figure) the N best and worst images",
    )
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, mps or auto (default)")
    p.add_argument("--precision", default="fp32", choices=["fp32", "fp16", "bf16"])
    add_speed_args(p)
    p.add_argument("--tile", type=integer(0), help="run the model on LR tiles of this size (saves memory)")
    p.add_argument(
        "--tile-overlap",
        type=integer(0),
        help="LR pixels tiles overlap by (default: srzoo.inference.runner's)",
    )
    p.add_argument("--metrics", default="psnr,ssim", help="comma list of psnr,ssim,niqe,lpips")
    p.add_argument("--no-baseline", action="store_true", help="skip the bicubic row")
    p.add_argument(
        "--self-ensemble",
        action="store_true",
        help="score each model by the mean of its outputs for the 8 flips/rotations of the input "
        "(EDSR's '+': rows named <model>+, 8x the time)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def load_bench_model(
    arch: str | None,
    weights: str | None,
    *,
    scale: int | None,
    device: str,
    precision: str,
    fast: bool = True,
    cpu_conv: str | None = None,
):
    """The SRModel to bench: weights (file/run/tag), an arch's default zoo tag, or a parameter-free arch."""
    from functools import partial

    from srzoo.inference.model import load_model

    load_model = partial(load_model, fast=fast, cpu_conv=cpu_conv)
    from srzoo.framework.registries import ARCHS, arch_info

    if arch is None and weights is None:
        raise ConfigError("give --arch NAME (e.g. esrgan, bicubic) and/or --weights PATH|TAG|RUN_DIR")
    if weights is not None:
        return load_model(weights, arch, device=device, precision=precision, scale=scale)
    info = arch_info(ARCHS.get(arch))  # unknown names fail here with a did-you-mean
    if info.pretrained:
        # `--arch esrgan` means the arch with its default published weights (downloaded once, hash-checked).
        return load_model(arch, arch, device=device, precision=precision, scale=scale)
    try:
        return load_model(None, arch, device=device, precision=precision, scale=scale)
    except WeightsError:
        raise WeightsError(
            f"arch {arch!r} has parameters and publishes no zoo weights; pass --weights FILE|RUN_DIR"
        ) from None


def _split(value: str | None, flag: str) -> list[str | None]:
    if value is None:
        return []
    items = [v.strip() for v in value.split(",")]
    if not all(items):
        raise ConfigError(f"{flag} {value!r} has an empty entry; give a comma list without gaps")
    return list(items)


def model_specs(arch: str | None, weights: str | None) -> list[tuple[str | None, str | None]]:
    """(arch, weights) per model from --arch/--weights comma lists, paired by position."""
    archs, files = _split(arch, "--arch"), _split(weights, "--weights")
    if archs and files and len(archs) != len(files):
        raise ConfigError(
            f"--arch names {len(archs)} arch(s) but --weights {len(files)} file(s); pair them one to one, "
            "or drop --arch to detect each file's arch"
        )
    if not archs and not files:
        return [(None, None)]  # load_bench_model says what to give
    count = max(len(archs), len(files))
    return list(zip(archs or [None] * count, files or [None] * count))


def run(args: argparse.Namespace) -> int:
    from srzoo.eval.bench import run_bench
    from srzoo.inference.model import resolve_device

    sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    metrics = [m.strip().lower() for m in args.metrics.split(",") if m.strip()]
    out_dir = Path(args.out_dir) if args.out_dir else None
    if args.save_images and out_dir is None:
        raise ConfigError("--save-images needs --out-dir DIR (images go to DIR/images/<model>/<set>/)")
    if args.show < 0:
        raise ConfigError(f"--show must be >= 0, got {args.show}")
    if args.report and args.no_baseline:
        raise ConfigError("--report always shows the bicubic row; drop --no-baseline")
    report_dir = Path(args.report) if args.report else None
    save_dir = out_dir / "images" if args.save_images and out_dir else None
    if save_dir is None and report_dir is not None:
        save_dir = report_dir / "images"  # the page's own image folder: SR outputs are written once
    device = resolve_device(args.device)
    models = [
        load_bench_model(
            arch,
            weights,
            scale=args.scale,
            device=device,
            precision=args.precision,
            fast=args.fast,
            cpu_conv=args.cpu_conv,
        )
        for arch, weights in model_specs(args.arch, args.weights)
    ]
    report = run_bench(  # one row per model, the bicubic row once; models of different scales are refused
        models,
        sets,
        scale=args.scale or models[0].scale,
        root=args.data_root,
        metrics=metrics,
        tile=args.tile,
        overlap=args.tile_overlap,
        save_images_dir=save_dir,
        figures_dir=out_dir / "figures" if out_dir else None,
        show=args.show,
        device=device,
        baseline=not args.no_baseline,
        download=args.download,
        progress=not args.quiet and sys.stderr.isatty(),
        self_ensemble=args.self_ensemble,
    )
    markdown = report.to_markdown()
    print(markdown, end="")
    if out_dir is not None:
        report.write_json(out_dir / "results.json")
        report.write_markdown(out_dir / "results.md")
    if args.json:
        report.write_json(args.json)
    if report_dir is not None and save_dir is not None:
        from srzoo.data.sets import open_eval_set
        from srzoo.report import model_images, reference_images, write_bench_page

        images = model_images(report, {m: save_dir / m for m in report.models})
        scale = report.convention["scale"]
        evalsets = [open_eval_set(s, scale, root=args.data_root) for s in sets]
        images |= reference_images(evalsets, report_dir / "images")
        page = write_bench_page(report, report_dir, images)
        print(f"report: {page}", file=sys.stderr)
    return 0
