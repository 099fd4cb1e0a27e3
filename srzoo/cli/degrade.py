"""`srzoo degrade`: a fixed, seeded degraded LR set (and a PNG grid of samples) from a registered degradation."""

from __future__ import annotations

import argparse
from typing import Any

import yaml

from srzoo.cli.values import SCALE, integer
from srzoo.errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "degrade",
        help="make a seeded degraded LR set from HR images (for `srzoo bench`)",
        description="Degrade every HR image of SOURCE (a registered eval set such as set5, or a folder) with a "
        "registered degradation (`srzoo list degradations`), image i seeded by (seed, i): OUT gets HR/, "
        "LR/X<s>/ and degradation.json, and `srzoo bench OUT` scores models on those pairs.",
    )
    p.add_argument(
        "source", metavar="SOURCE", help="registered eval set (set5, bsd100, ...) or HR image folder"
    )
    p.add_argument("out", metavar="OUT", nargs="?", help="output folder (not needed with only --grid)")
    p.add_argument("--degradation", required=True, help="registered degradation name")
    p.add_argument(
        "--set", dest="options", action="append", default=[], metavar="KEY=VALUE",
        help="a degradation keyword argument (value parsed as YAML), repeatable, e.g. --set gt_usm=false",
    )  # fmt: skip
    p.add_argument("--scale", type=SCALE, default=4, help="downscaling factor (default 4)")
    p.add_argument("--seed", type=integer(0), default=0, help="seed of the whole set (default 0)")
    p.add_argument("--data-root", default=None, help="root of registered sets (default $SRZOO_DATA)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    p.add_argument("--grid", metavar="PNG", help="also write a grid of sample degradations to this PNG")
    p.add_argument(
        "--grid-images", type=integer(1, 64), default=4, help="grid rows (source images, default 4)"
    )
    p.add_argument("--grid-samples", type=integer(1, 64), default=5, help="degradations per row (default 5)")
    p.add_argument(
        "--grid-crop", type=integer(8, 4096), default=128, help="HR crop side per cell (default 128)"
    )
    p.set_defaults(func=run)


def parse_options(items: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item!r} must look like key=value (e.g. --set gt_usm=false)")
        try:
            options[key] = yaml.safe_load(raw)
        except yaml.YAMLError:
            options[key] = raw
    return options


def run(args: argparse.Namespace) -> int:
    from srzoo.data.synth import degradation_grid, write_degraded_set

    if args.out is None and args.grid is None:
        raise ConfigError("give an output folder OUT, or --grid PNG, or both")
    common = {
        "degradation": args.degradation, "kwargs": parse_options(args.options), "scale": args.scale,
        "seed": args.seed, "root": args.data_root,
    }  # fmt: skip
    if args.out is not None:
        made = write_degraded_set(args.source, args.out, overwrite=args.overwrite, **common)
        print(f"wrote {made.images} degraded pairs to {made.path} (x{args.scale}, seed {args.seed})")
    if args.grid is not None:
        path = degradation_grid(
            args.source, args.grid, images=args.grid_images, samples=args.grid_samples, crop=args.grid_crop,
            **common,
        )  # fmt: skip
        print(f"wrote sample grid {path}")
    return 0
