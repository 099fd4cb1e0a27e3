"""`srzoo train RECIPE [KEY=VALUE ...]`: run a recipe's phases (GPUs: `accelerate launch -m srzoo.train`)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    from srzoo.train.command import add_train_arguments, allow_intermixed

    parser = subparsers.add_parser(
        "train",
        help="train a recipe (checkpoints, resume, exports into the output dir)",
        description="Train a recipe. For several GPUs or machines use `accelerate launch -m srzoo.train` "
        "with the same arguments (see the README, Training).",
    )
    add_train_arguments(parser)
    allow_intermixed(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from srzoo.train.command import run_from_args

    return run_from_args(args)
