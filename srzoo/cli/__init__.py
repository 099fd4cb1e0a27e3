"""The `srzoo` command: argparse subcommands, each in srzoo/commands/, errors printed as one line."""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Sequence

from srzoo.errors import SrzooError, did_you_mean

# Each name is a module srzoo.cli.<name> with register(subparsers) and run(args) -> int.
COMMANDS: tuple[str, ...] = (
    "list_cmd", "bench", "infer", "interpolate", "export", "train", "demo", "report", "degrade", "multiscale",
)  # fmt: skip


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line (its default prints usage too, which buries the message)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        match = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if match:
            choices = re.findall(r"'([^']*)'", match.group(2)) or [
                c.strip() for c in match.group(2).split(",")
            ]
            message += did_you_mean(match.group(1), choices)
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    from srzoo._version import __version__

    parser = _Parser(prog="srzoo", description="A plugin-style super-resolution model zoo.")
    parser.add_argument("--version", action="version", version=f"srzoo {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(f"srzoo.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except SrzooError as exc:
        if args.debug:
            raise
        print(f"srzoo {args.command}: error: {exc}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 1))  # usage errors (e.g. an unsupported precision) say 2
    except KeyboardInterrupt:
        print(f"srzoo {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # an unexpected bug: one line, the traceback behind --debug
        if args.debug:
            raise
        print(
            f"srzoo {args.command}: internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
