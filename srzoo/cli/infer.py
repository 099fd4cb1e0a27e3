"""`srzoo infer`: upscale files and folders with tiling; one line per failed file and a summary exit code."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from srzoo.cli.values import MAX_SCALE, SCALE, integer, number
from srzoo.errors import ConfigError, SrzooError

FORMAT_CHOICES = ("png", "jpg", "webp")


def add_model_args(p: argparse.ArgumentParser) -> None:
    """--model/--arch/--scale, shared with `srzoo export`."""
    p.add_argument("--model", help="weights file, training run directory or zoo tag (arch or arch.tag)")
    p.add_argument(
        "--arch", help="arch name (needed for foreign weights that do not say; alone: a parameter-free arch)"
    )
    p.add_argument("--scale", type=SCALE, help="scale of a parameter-free arch such as bicubic (default 4)")


def _tile(value: str) -> int | str | None:
    if value.lower() == "auto":
        return "auto"
    if value.lower() in ("0", "none", "off"):
        return None
    try:
        tile = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--tile takes a number of LR pixels, 'auto' or 0, not {value!r}"
        ) from None
    if tile < 0:
        raise argparse.ArgumentTypeError("--tile must be positive")
    return tile


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "infer",
        help="upscale images or folders with a model (tiled, any image mode)",
        description="Upscale images to <stem><suffix>.<ext>, never over an input or an existing file.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files and/or folders")
    add_model_args(p)
    p.add_argument("--out-dir", help="write outputs here (default: next to each input)")
    p.add_argument("--suffix", default="_sr", help="added to each output's stem (default _sr)")
    p.add_argument("--recursive", action="store_true", help="descend into sub-folders (their layout is kept)")
    p.add_argument(
        "--tile", type=_tile, default="auto", help="LR tile size, 'auto' (default: from free memory) or 0"
    )
    p.add_argument(
        "--tile-overlap", type=integer(0), default=16, help="LR pixels tiles overlap by (default 16)"
    )
    p.add_argument("--tile-batch", type=integer(1), default=1, help="tiles per forward pass (default 1)")
    p.add_argument(
        "--pre-pad",
        type=integer(0, 512),
        default=0,
        help="LR pixels (0-512) reflected below and right of each image before the model and cropped after "
        "(Real-ESRGAN's --pre_pad; default 0)",
    )
    p.add_argument(
        "--precision",
        choices=["fp32", "fp16", "bf16"],
        help="default: fp16 on CUDA when safe, else fp32; one the device does not run natively (bf16 on an "
        "AVX2 CPU) is refused before any file is read",
    )
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, mps or auto (default)")
    add_speed_args(p)
    p.add_argument(
        "--outscale",
        type=number(0, MAX_SCALE, low_open=True),
        help="final size as a multiple of the input's, e.g. 2 with a x4 model (Real-ESRGAN's --outscale): "
        "the model's output is resized with MATLAB bicubic (default: the model's scale)",
    )
    p.add_argument(
        "--self-ensemble",
        action="store_true",
        help="average the model's outputs for the 8 flips/rotations of each image (EDSR's '+'): "
        "slightly cleaner output for 8x the time",
    )
    p.add_argument("--format", choices=FORMAT_CHOICES, help="output format (default: the input's)")
    p.add_argument("--quality", type=integer(1, 100), default=95, help="JPEG/WebP quality (default 95)")
    p.add_argument(
        "--alpha-mode", choices=["model", "bicubic"], default="model", help="how alpha is upscaled"
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace existing outputs (inputs are never replaced)"
    )
    p.add_argument(
        "--max-pixels",
        type=integer(1),
        help="largest input in pixels (default $SRZOO_MAX_PIXELS or Pillow's)",
    )
    p.add_argument("--interpolate", metavar="WEIGHTS", help="blend --model with these weights (try an alpha)")
    p.add_argument(
        "--alpha", type=number(0, 1), help="with --interpolate: 0 = --model, 1 = the --interpolate weights"
    )
    p.set_defaults(func=run)


def add_speed_args(p: argparse.ArgumentParser) -> None:
    """--no-fast and --cpu-conv: the opt-outs from the inference fast path (srzoo.inference.fastpath, srzoo.inference.cpu_kernels)."""
    p.add_argument(
        "--no-fast",
        dest="fast",
        action="store_false",
        help="run the arch's plain PyTorch ops (no fused convs, no channels_last, no NNPACK)",
    )
    p.add_argument(
        "--cpu-conv",
        choices=["onednn", "nnpack", "auto"],
        help="fp32 CPU conv kernel: onednn (default, or $SRZOO_CPU_CONV), nnpack (Winograd: faster on one "
        "thread, outputs move by up to ~4e-5), auto (the faster, timed once)",
    )


def load_from_args(
    args: argparse.Namespace, *, device: str = "cpu", precision: str | None = "fp32", fast: bool = True
):
    """The SRModel the flags name (what `srzoo.load_model` gives), interpolated when --interpolate is set."""
    fast = fast and getattr(args, "fast", True)
    cpu_conv = getattr(args, "cpu_conv", None)
    from srzoo.inference.model import load_model

    interpolate, alpha = getattr(args, "interpolate", None), getattr(args, "alpha", None)
    if (interpolate is None) != (alpha is None):
        raise ConfigError("--interpolate WEIGHTS and --alpha X go together")
    if args.model is None and args.arch is None:
        raise ConfigError(
            "give --model WEIGHTS|TAG|RUN_DIR (or --arch NAME for a parameter-free arch like bicubic)"
        )
    if interpolate is not None and args.model is None:
        raise ConfigError("--interpolate needs --model (the alpha = 0 end)")
    from srzoo.inference.precision import default_precision

    chosen = precision or default_precision(device)  # never one the device does not run natively

    def load(prec: str):
        if interpolate is not None:
            from srzoo.inference.interpolate import load_interpolated_model

            return load_interpolated_model(
                args.model,
                interpolate,
                alpha,
                arch=args.arch,
                device=device,
                precision=prec,
                fast=fast,
                cpu_conv=cpu_conv,
            )
        return load_model(
            args.model,
            args.arch,
            device=device,
            precision=prec,
            scale=args.scale,
            fast=fast,
            cpu_conv=cpu_conv,
        )

    try:
        return load(chosen)
    except ConfigError:
        if precision is not None or chosen == "fp32":
            raise
        return load("fp32")  # the arch is not declared fp16-safe: the automatic choice falls back


def _message(src: Path, exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, SrzooError) else f"internal error: {type(exc).__name__}: {exc}"
    text = text.splitlines()[0] if text else type(exc).__name__
    return text if text.startswith(str(src)) else f"{src}: {text}"


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from srzoo.errors import InputError
    from srzoo.inference.model import resolve_device
    from srzoo.inference.runner import InferOptions, collect_inputs, output_path, upscale_file

    if args.tile_overlap < 0 or args.tile_batch < 1:
        raise ConfigError("--tile-overlap must be >= 0 and --tile-batch >= 1")
    files = collect_inputs(args.inputs, recursive=args.recursive, suffix=args.suffix)
    if not files:
        raise InputError(
            f"no image files in {' '.join(args.inputs)}" + ("" if args.recursive else " (try --recursive)")
        )
    device = resolve_device(args.device)
    model = load_from_args(args, device=device, precision=args.precision)
    opts = InferOptions(
        tile=args.tile,
        overlap=args.tile_overlap,
        batch=args.tile_batch,
        format=args.format,
        quality=args.quality,
        alpha_mode=args.alpha_mode,
        max_pixels=args.max_pixels,
        overwrite=args.overwrite,
        outscale=args.outscale,
        self_ensemble=args.self_ensemble,
        pre_pad=args.pre_pad,
    )
    failed, done_mp, start = 0, 0.0, time.perf_counter()
    bar = tqdm(
        files, unit="img", file=sys.stderr, disable=None if len(files) > 1 else True, dynamic_ncols=True
    )
    written: dict[Path, Path] = {}
    for src, root in bar:
        try:
            dst = output_path(
                src, out_dir=args.out_dir, suffix=args.suffix, format=args.format, relative_to=root
            )
            if (
                dst in written
            ):  # two inputs with one stem into one folder: the second must not replace the first
                raise InputError(f"{src}: output {dst} was already written for {written[dst]} in this run")
            result = upscale_file(model, src, dst, opts)
            written[dst] = src
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # one bad file must not stop a folder: report it and go on
            if getattr(args, "debug", False):
                raise
            failed += 1
            tqdm.write(_message(src, exc), file=sys.stderr)
            continue
        done_mp += result.out_megapixels
        notes = [f"{result.stats.fp32_retries} tiles redone in fp32"] if result.stats.fp32_retries else []
        notes += result.stats.events
        tqdm.write(f"{src} -> {dst}" + (f" ({'; '.join(notes)})" if notes else ""))
    elapsed = time.perf_counter() - start
    done = len(files) - failed
    print(
        f"upscaled {done} of {len(files)} file(s) x{model.scale}"
        + ("" if args.outscale is None else f" (resized to x{args.outscale:g})")
        + (" with 8-way self-ensemble" if args.self_ensemble else "")
        + f" on {device} "
        f"({model.precision}, convs {model.conv_kernel()}) "
        f"in {elapsed:.1f} s: "
        f"{done_mp:.2f} output MP, {done_mp / max(elapsed, 1e-9):.2f} MP/s"
    )
    if failed:
        print(f"srzoo infer: {failed} of {len(files)} files failed", file=sys.stderr)
        return 1
    return 0
