"""The argparse side of training, shared by `srzoo train` and `python -m srzoo.train` (both run the same thing)."""

from __future__ import annotations

import argparse
from pathlib import Path

from srzoo.cli.values import integer
from srzoo.train.options import TrainOptions


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", help="recipe YAML file or registered name (`srzoo list recipes`)")
    parser.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE", help="recipe overrides, e.g. phases.0.iters=10"
    )
    parser.add_argument(
        "--output-dir", type=Path, help="run directory (default: recipe output_dir or runs/<name>)"
    )
    parser.add_argument(
        "--resume", metavar="auto|PATH", help="continue from the newest checkpoint (auto) or a given one"
    )
    parser.add_argument(
        "--max-steps", type=integer(0), metavar="N", help="stop after N iterations in total (all phases)"
    )
    parser.add_argument(
        "--mixed-precision", choices=["no", "fp16", "bf16"], help="override train.mixed_precision"
    )


def allow_intermixed(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Let KEY=VALUE overrides follow options (`srzoo train R --max-steps 5 a.b=1`), also as a subcommand.

    argparse stops filling a positional once an option interrupts it; its intermixed parsing fixes that but is
    only offered at the top level, so the subcommand's own parse is routed through it (it re-enters once).
    """
    plain = parser.parse_known_args
    busy = False

    def parse_known_args(args=None, namespace=None):  # type: ignore[no-untyped-def]
        nonlocal busy
        if busy:
            return plain(args, namespace)
        busy = True
        try:
            return parser.parse_known_intermixed_args(args, namespace)
        finally:
            busy = False

    parser.parse_known_args = parse_known_args  # type: ignore[method-assign]
    return parser


def options_from_args(args: argparse.Namespace) -> TrainOptions:
    from srzoo.errors import ConfigError

    if args.max_steps is not None and args.max_steps < 0:
        raise ConfigError(f"--max-steps must be >= 0, got {args.max_steps}")
    return TrainOptions(args.output_dir, args.resume, args.max_steps, args.mixed_precision)


def run_from_args(args: argparse.Namespace) -> int:
    """Load the recipe, train, and turn the outcome into an exit status (130/143 after SIGINT/SIGTERM)."""
    from srzoo.recipes.schema import load_recipe
    from srzoo.train.loop import train

    result = train(load_recipe(args.recipe, args.overrides), options_from_args(args))
    return result.exit_code
