"""`python -m srzoo.train RECIPE [KEY=VALUE ...]`: the entry for `accelerate launch -m` and `torchrun -m`."""

from __future__ import annotations

import argparse
import sys

from srzoo.errors import SrzooError
from srzoo.train.command import add_train_arguments, allow_intermixed, run_from_args


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m srzoo.train", description="Train a recipe (same as `srzoo train`)."
    )
    add_train_arguments(parser)
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    allow_intermixed(parser)
    args = parser.parse_args(argv)
    try:
        return run_from_args(args)
    except SrzooError as exc:
        if args.debug:
            raise
        print(f"srzoo train: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
