"""ESRGAN plugin test fixtures: shared data / weights paths (srzoo's pytest plugin) and an isolated cache."""

from __future__ import annotations

import os

import pytest

# Re-exported so these tests also work when pytest runs with srzoo's pytest11 plugin disabled (-p no:srzoo).
from srzoo.pytest_plugin import shared_data, shared_weights  # noqa: F401


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the user's ~/.cache/srzoo (or the torch hub cache) from tests."""
    if os.environ.get("SRZOO_TEST_KEEP_CACHE") != "1":
        base = tmp_path_factory.getbasetemp()
        monkeypatch.setenv("SRZOO_CACHE", str(base / "srzoo-cache"))
        monkeypatch.setenv("TORCH_HOME", str(base / "torch-home"))
