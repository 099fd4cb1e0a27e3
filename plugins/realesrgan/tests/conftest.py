"""Real-ESRGAN plugin test fixtures: shared data / weights paths (srzoo's pytest plugin) and an isolated cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Re-exported so these tests also work when pytest runs with srzoo's pytest11 plugin disabled (-p no:srzoo).
from srzoo.testing import shared_root
from srzoo.testing.pytest_plugin import need_shared, shared_data  # noqa: F401

REAL_WEIGHTS = "RealESRGAN_x4plus_from_ncnn_fp16.pth"


@pytest.fixture(scope="session")
def shared_weights() -> Path:
    """The Real-ESRGAN x4plus network (23-block RRDBNet, fp16-rounded, BasicSR layout under 'params') from ../shared/weights."""
    return need_shared(shared_root() / "weights" / REAL_WEIGHTS, "shared RRDBNet weights")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the user's ~/.cache/srzoo (or the torch hub cache) from tests."""
    if os.environ.get("SRZOO_TEST_KEEP_CACHE") != "1":
        base = tmp_path_factory.getbasetemp()
        monkeypatch.setenv("SRZOO_CACHE", str(base / "srzoo-cache"))
        monkeypatch.setenv("TORCH_HOME", str(base / "torch-home"))
