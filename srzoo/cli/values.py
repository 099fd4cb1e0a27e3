"""Numeric option types that carry their valid range, so a bad value is a usage error (exit 2) naming the option."""

from __future__ import annotations

import argparse
import math

MAX_SCALE = 16  # upscaling factors srzoo's commands accept (SR practice stops at x8, a few models reach x16)


class Number:
    """An argparse `type=` for an int or float in a range; non-numbers, NaN/Inf and out-of-range values are refused.

    `srzoo`'s own tests enumerate every option of every subcommand and expect numeric ones to use this, so a new
    option gets its bounds checked by the fuzzed battery without being listed anywhere.
    """

    def __init__(
        self,
        kind: type[int] | type[float],
        low: float | None = None,
        high: float | None = None,
        *,
        low_open: bool = False,
    ) -> None:
        self.kind, self.low, self.high, self.low_open = kind, low, high, low_open
        self.__name__ = self.describe()  # argparse names the type in some of its messages

    def describe(self) -> str:
        noun = "an integer" if self.kind is int else "a number"
        if self.low is not None and self.high is not None and not self.low_open:
            return f"{noun} from {self.low:g} to {self.high:g}"
        bounds = []
        if self.low is not None:
            bounds.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            bounds.append(f"<= {self.high:g}")
        return f"{noun} {' and '.join(bounds)}".strip()

    def accepts(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or value <= self.high

    def __call__(self, text: str) -> int | float:
        try:
            value = self.kind(text)
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"{text!r} is not {self.describe()}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not {self.describe()}")
        if not self.accepts(value):
            raise argparse.ArgumentTypeError(f"{text} is out of range: give {self.describe()}")
        return value

    def __repr__(self) -> str:
        return f"Number({self.describe()})"


def integer(low: int | None = None, high: int | None = None) -> Number:
    return Number(int, low, high)


def number(low: float | None = None, high: float | None = None, *, low_open: bool = False) -> Number:
    return Number(float, low, high, low_open=low_open)


SCALE = integer(1, MAX_SCALE)
