"""`srzoo demo`: train a small recipe on bundled photos in minutes; compare with bicubic on held-out ones."""

from __future__ import annotations

import argparse
from pathlib import Path

from srzoo.cli.values import number


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="train a tiny model on scikit-image's photos (CPU, ~10 min), bench held-out ones vs bicubic",
        description="Trains the recipe a plugin tags `demo` (with the ESRGAN plugin: its tiny ESRGAN, PSNR "
        "phase then GAN phase) on photos bundled with scikit-image (pip install 'srzoo[demo]'), holds three "
        "of them out, and writes results.md, results.json and comparison.png into the output directory.",
    )
    parser.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE", help="recipe overrides, e.g. phases.0.iters=100"
    )
    parser.add_argument(
        "--recipe", metavar="NAME", help="the recipe to train (default: the registered recipe tagged demo)"
    )
    parser.add_argument("--output-dir", type=Path, default=Path("srzoo-demo"), help="default: ./srzoo-demo")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier demo's output directory")
    parser.add_argument(
        "--minutes",
        type=number(0, 100_000, low_open=True),
        default=10.0,
        help="wall-clock budget; phase lengths are fitted to it (default 10)",
    )
    parser.add_argument(
        "--steps-scale",
        type=number(0, 1000, low_open=True),
        metavar="F",
        help="instead of fitting: the recipe's iterations times F",
    )
    from srzoo.train.command import allow_intermixed

    allow_intermixed(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from srzoo.demo import run_demo

    result = run_demo(
        args.output_dir,
        overwrite=args.overwrite,
        minutes=args.minutes,
        steps_scale=args.steps_scale,
        overrides=args.overrides,
        recipe_name=args.recipe,
    )
    print()
    print(result.table)
    print(
        f"done in {result.seconds / 60:.1f} min: {result.output_dir}/comparison.png, results.md, results.json"
    )
    print(f"the trained generators: {result.output_dir}/run/psnr.safetensors and gan.safetensors")
    return 0
