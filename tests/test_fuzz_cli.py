"""Numeric CLI values: every numeric option of every `srzoo` subcommand, found from the argparse parsers themselves.

0, negative, huge, NaN/Inf and non-numeric values either parse (inside the option's declared range) or are a usage
error: exit 2 and one line. `srzoo infer` then runs every value its parser accepts, end to end.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from srzoo.cli import build_parser, main
from srzoo.cli.values import Number
from tests.fuzz_support import budget, record

# Numeric options whose type is a function of their own (it takes words as well as numbers, or a list).
WORD_OR_NUMBER = {("infer", "--tile"), ("bench", "--tile"), ("multiscale", "--scales")}


@functools.cache
def _parser() -> argparse.ArgumentParser:
    return build_parser()


@functools.cache
def _subparsers() -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _numeric_options() -> list[tuple[str, str]]:
    """(subcommand, option) for every option whose value goes through a type other than text or a path."""
    found = []
    for command, sub in _subparsers().items():
        for action in sub._actions:
            if action.option_strings and action.type not in (None, str, Path):
                found.append((command, action.option_strings[-1]))
    return sorted(set(found))


OPTIONS = _numeric_options()


def _action(command: str, option: str) -> argparse.Action:
    return next(a for a in _subparsers()[command]._actions if option in a.option_strings)


def _required(command: str) -> list[str]:
    """The least argv that satisfies `command`'s required positionals and options."""
    argv = []
    for action in _subparsers()[command]._actions:
        if not action.option_strings and action.nargs not in ("?", "*", argparse.SUPPRESS):
            argv.append("x")
        elif action.option_strings and action.required:
            value = next(iter(action.choices)) if action.choices else "x"
            argv += [action.option_strings[-1], value if action.type in (None, str, Path) else "0.5"]
    return argv


def parse(argv: list[str]) -> tuple[argparse.Namespace | None, int, str]:
    """(namespace or None, exit code, stderr) of the real top-level parser."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            return _parser().parse_args(argv), 0, err.getvalue()
        except SystemExit as exc:
            return None, int(exc.code or 0), err.getvalue()


def test_options_are_found_and_each_declares_its_range() -> None:
    assert ("infer", "--scale") in OPTIONS and ("train", "--max-steps") in OPTIONS and len(OPTIONS) >= 15
    for command, option in OPTIONS:
        kind = _action(command, option).type
        assert isinstance(kind, Number) or (command, option) in WORD_OR_NUMBER, (
            f"srzoo {command} {option}: use srzoo.cli.values.integer/number so its range is checked ({kind})"
        )


EDGES = ["0", "-0", "-1", "1", "0.5", "-0.5", "1e400", "-1e400", "nan", "NaN", "inf", "-inf", "", " ", "abc"]
EDGES += ["0x10", "1_0", "9" * 30, "-" + "9" * 30, "9" * 5000, "1e9", "100", "101", "16", "17", "2.0", "٣"]
VALUES = (
    st.sampled_from(EDGES)
    | st.integers(-(10**30), 10**30).map(str)
    | st.floats(allow_nan=True, allow_infinity=True).map(repr)
    | st.text(max_size=12)
)


def _expected(kind: Number, text: str) -> float | None:
    """The value a correct parser returns for `text`, or None when it must refuse it."""
    try:
        value = kind.kind(text)
    except (ValueError, OverflowError):
        return None
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    return value if kind.accepts(value) else None


@budget(300)
@given(option=st.sampled_from(OPTIONS), text=VALUES)
def test_numeric_values_parse_in_range_or_are_one_line_usage_errors(
    option: tuple[str, str], text: str
) -> None:
    command, flag = option
    action = _action(command, flag)
    args, code, err = parse([command, *_required(command), f"{flag}={text}"])
    if args is None:
        assert code == 2, f"srzoo {command} {flag}={text!r}: exit {code}"
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"srzoo {command}: error: "), err
        record("CLI value", f"{command} {flag}", "usage error (exit 2)")
    else:
        record("CLI value", f"{command} {flag}", "ok")
    if isinstance(action.type, Number):
        want = _expected(action.type, text)
        got = None if args is None else getattr(args, action.dest)
        assert got == want, f"srzoo {command} {flag}={text!r}: parsed {got!r}, expected {want!r}"


@pytest.mark.parametrize("value", ["0", "-1", "17", "1e9", "two"])
def test_infer_scale_zero_is_a_usage_error(tmp_path: Path, capsys, value: str) -> None:
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(src := tmp_path / "a.png")
    with pytest.raises(SystemExit) as info:
        main(["infer", str(src), "--arch", "bicubic", "--scale", value])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "argument --scale: " in err[0] and "an integer from 1 to 16" in err[0]
    assert not list(tmp_path.glob("a_sr*"))  # nothing written


INFER_ONLY = sorted(o for c, o in OPTIONS if c == "infer")


@budget(40)
@given(flag=st.sampled_from(INFER_ONLY), text=VALUES)
def test_infer_runs_every_value_its_parser_accepts(tmp_path_factory, flag: str, text: str) -> None:
    """What parses must then run: output written, or srzoo's own one-line error (never an internal error)."""
    folder = tmp_path_factory.mktemp("infer")
    Image.fromarray((np.arange(6 * 9 * 3) % 251).astype(np.uint8).reshape(6, 9, 3)).save(
        src := folder / "a.png"
    )
    argv = ["infer", str(src), "--arch", "bicubic", "--scale", "2", "--device", "cpu", f"{flag}={text}"]
    if flag == "--scale":
        argv = ["infer", str(src), "--arch", "bicubic", "--device", "cpu", f"{flag}={text}"]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = main([*argv, "--out-dir", str(folder / "out")])
        except SystemExit as exc:
            code = int(exc.code or 0)
    text_err = err.getvalue()
    assert "internal error" not in text_err and "Traceback" not in text_err, text_err
    if code == 0:
        assert len(list((folder / "out").iterdir())) == 1
    else:
        assert code in (1, 2) and text_err.strip(), text_err
