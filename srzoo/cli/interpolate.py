"""`srzoo interpolate`: blend a PSNR and a GAN model of one arch into a new safetensors file (ESRGAN)."""

from __future__ import annotations

import argparse
from pathlib import Path

from srzoo.cli.values import number
from srzoo.errors import ConfigError, InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "interpolate",
        help="blend two weights of one arch: (1 - alpha) * PSNR + alpha * GAN",
        description="Network interpolation: theta = (1 - alpha) * theta_PSNR + alpha * theta_GAN.",
    )
    p.add_argument("out", metavar="OUT", help="output .safetensors file")
    p.add_argument(
        "--psnr-model", required=True, help="weights file, run directory or tag (the alpha = 0 end)"
    )
    p.add_argument(
        "--gan-model", required=True, help="weights file, run directory or tag (the alpha = 1 end)"
    )
    p.add_argument("--alpha", type=number(0, 1), required=True, help="0..1, e.g. 0.8")
    p.add_argument("--arch", help="arch of both, for foreign files that do not say")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from srzoo.inference.interpolate import save_interpolation

    out = Path(args.out)
    if out.suffix != ".safetensors":
        raise ConfigError(f"{out}: interpolate writes safetensors; name the output *.safetensors")
    for source in (args.psnr_model, args.gan_model):
        if Path(source).exists() and out.exists() and out.resolve() == Path(source).resolve():
            raise InputError(f"{out} is one of the inputs; choose another output name")
    if out.exists() and not args.overwrite:
        raise InputError(f"{out} exists; pass --overwrite to replace it")
    save_interpolation(out, args.psnr_model, args.gan_model, args.alpha, arch=args.arch)
    print(
        f"wrote {out} (alpha {args.alpha:g}: "
        f"{1 - args.alpha:g} x {args.psnr_model} + {args.alpha:g} x {args.gan_model})"
    )
    return 0
