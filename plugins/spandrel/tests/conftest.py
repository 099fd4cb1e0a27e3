"""spandrel plugin test helpers: the registered spandrel archs (from the registry) and their tiny test inputs."""

from __future__ import annotations

import os

import pytest

from srzoo import ARCHS

DIST = "srzoo-spandrel"


def spandrel_archs() -> list[str]:
    """Names this distribution registers, read back from srzoo's registry (not from the plugin's own table)."""
    return [e.name for e in ARCHS.entries() if e.dist == DIST]


def lr_side(spec_minimum: int, multiple: int, base: int = 12) -> int:
    """The smallest LR side >= base that meets spandrel's minimum and multiple (so it never pads)."""
    side = max(base, spec_minimum)
    return -(-side // multiple) * multiple


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the user's ~/.cache/srzoo from tests."""
    if os.environ.get("SRZOO_TEST_KEEP_CACHE") != "1":
        monkeypatch.setenv("SRZOO_CACHE", str(tmp_path_factory.getbasetemp() / "srzoo-cache"))
