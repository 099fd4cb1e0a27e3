"""Shared pieces of the fuzzed hostile-input battery: example budgets per profile, outcome checks, the table log."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from hypothesis import HealthCheck, settings
from torch import nn

import srzoo

# The profiles (registered in tests/conftest.py) set max_examples; each test asks for a share of it so a cheap
# property runs more examples than one that builds a training session. 100 is the CI profile's value.
_CI_EXAMPLES = 100


def budget(examples: int) -> settings:
    """`examples` under the CI profile, scaled with the active profile (`--hypothesis-profile=long`: x20)."""
    scaled = max(1, round(examples * settings.default.max_examples / _CI_EXAMPLES))
    return settings(
        max_examples=scaled,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


def one_line(exc: BaseException) -> str:
    """The message the CLI would print; asserts it is one non-empty line."""
    text = str(exc)
    assert text.strip(), f"{type(exc).__name__} with an empty message"
    assert "\n" not in text, f"{type(exc).__name__} message spans lines: {text!r}"
    return text


# -- the reliability table (docs/reliability.md is generated from what the battery records) ----------------------
_LOG = os.environ.get("SRZOO_RELIABILITY_LOG")


def record(kind: str, case: str, outcome: str) -> None:
    """Note one checked case (`input kind`, `what was done to it`, `ok` or the srzoo error type) for the table."""
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as f:
            f.write(json.dumps({"kind": kind, "case": case, "outcome": outcome}) + "\n")


def outcome(
    kind: str, case: str, call: Callable[[], Any], allowed: type[srzoo.SrzooError] = srzoo.SrzooError
) -> Any:
    """Run `call`: success, or srzoo's own error of type `allowed` with a one-line message; anything else fails."""
    try:
        result = call()
    except allowed as exc:
        one_line(exc)
        record(kind, case, type(exc).__name__)
        return exc
    record(kind, case, "ok")
    return result


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# -- a core-only arch with parameters (no plugin needed) ---------------------------------------------------------
def _fuzz_kwargs(sd: dict[str, torch.Tensor]) -> dict[str, Any]:
    return {"scale": 2, "width": int(sd["body.0.weight"].shape[0])}


@srzoo.describe_arch(
    capabilities=srzoo.Capabilities(scales=None, in_channels=3, out_channels=3, license="MIT"),
    infer_kwargs=_fuzz_kwargs,
)
class FuzzNet(nn.Module):
    """Nearest upscaling plus a residual two-conv body: enough parameters and buffers to break."""

    def __init__(self, scale: int = 2, width: int = 4) -> None:
        super().__init__()
        self.scale = scale
        self.body = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, 3, 3, padding=1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        up = nn.functional.interpolate(x, scale_factor=self.scale, mode="nearest")
        return up + self.body(up)


@contextmanager
def registered_arch(name: str = "fuzznet") -> Iterator[str]:
    srzoo.ARCHS.register(name, FuzzNet)
    try:
        yield name
    finally:
        srzoo.ARCHS.unregister(name)
