"""`srzoo multiscale`: downscaled copies of an HR folder for multi-scale training (Real-ESRGAN's DF2K_multiscale)."""

from __future__ import annotations

import argparse
from fractions import Fraction

from srzoo.cli.values import integer


def _scales(text: str) -> tuple[float, ...]:
    """'0.75,0.5,1/3' -> (0.75, 0.5, 0.333...); 'none' -> () (only the --short-side copy)."""
    if text.strip().lower() == "none":
        return ()
    values = []
    for item in text.split(","):
        try:
            value = float(Fraction(item.strip()))
        except (ValueError, ZeroDivisionError, OverflowError):
            raise argparse.ArgumentTypeError(
                f"give numbers or fractions between 0 and 1, comma-separated (e.g. 0.75,0.5,1/3), "
                f"not {item.strip()[:40]!r}"
            ) from None
        if not 0 < value < 1:
            raise argparse.ArgumentTypeError(f"{item.strip()[:40]} is not between 0 and 1")
        values.append(value)
    return tuple(values)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "multiscale",
        help="write downscaled copies of an HR folder for multi-scale training",
        description="For every image of SOURCE write <stem>T<i>.png into OUT: one copy per --scales factor, "
        "then one whose shorter side is --short-side pixels (PIL Lanczos), as Real-ESRGAN's "
        "generate_multiscale_DF2K.py makes DF2K_multiscale; train on OUT with an image_folder dataset.",
    )
    p.add_argument("source", metavar="SOURCE", help="folder of HR images")
    p.add_argument("out", metavar="OUT", help="output folder (written complete or not at all)")
    p.add_argument(
        "--scales", type=_scales, default="0.75,0.5,1/3",
        help="comma-separated factors between 0 and 1, or none (default 0.75,0.5,1/3)",
    )  # fmt: skip
    p.add_argument(
        "--short-side", type=integer(0, 65536), default=400,
        help="also a copy whose shorter side is this many pixels; 0: none (default 400)",
    )  # fmt: skip
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from srzoo.data.multiscale import write_multiscale

    made = write_multiscale(
        args.source, args.out, factors=args.scales, short_side=args.short_side, overwrite=args.overwrite
    )
    print(f"wrote {made.copies} copies of {made.images} images to {made.path}")
    return 0
