"""`srzoo report`: a training run directory as a static HTML page (curves, validation images, recipe)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report",
        help="write a training run's HTML report (curves, validation images per step, recipe, bench)",
        description="Turns the output directory of `srzoo train` into one static page, DIR/index.html plus "
        "its PNGs: loss, validation and learning-rate curves per phase, the validation crops at every "
        "validation step in a comparison view, the recipe as run, and RUN_DIR/bench/results.json when "
        "present. Open it from disk; it needs no server and no network.",
    )
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a training run's output directory")
    p.add_argument("--out", type=Path, help="page directory (default: RUN_DIR/report)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from srzoo.report import write_run_page

    page = write_run_page(args.run_dir, args.out)
    print(f"wrote {page}")
    return 0
