"""Fixtures for the ESRGAN plugin tests: the shared data / weights paths (skip when absent) and an isolated cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from srzoo.testing import shared_datasets, shared_root

REAL_WEIGHTS = "RealESRGAN_x4plus_from_ncnn_fp16.pth"


def _need(path: Path, what: str) -> Path:
    # same contract as the core suite: skip when the shared folder is absent, fail when CI requires it
    if path.exists():
        return path
    message = f"{what} not found at {path} (set SRZOO_DATA / SRZOO_SHARED)"
    if os.environ.get("SRZOO_REQUIRE_SHARED") == "1":
        pytest.fail(message + "; SRZOO_REQUIRE_SHARED=1 forbids skipping")
    pytest.skip(message)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Root of the benchmark datasets (EDSR layout: <Set>/HR, <Set>/LR_bicubic/X<s>)."""
    return _need(shared_datasets(), "shared datasets")


@pytest.fixture(scope="session")
def shared_weights() -> Path:
    """The real 23-block RRDBNet x4 (Real-ESRGAN x4plus, BasicSR layout under 'params')."""
    return _need(shared_root() / "weights" / REAL_WEIGHTS, "shared RRDBNet weights")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the user's ~/.cache/srzoo (or torch hub cache) from tests."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("SRZOO_TEST_KEEP_CACHE") != "1":
        monkeypatch.setenv("SRZOO_CACHE", str(base / "srzoo-cache"))
        monkeypatch.setenv("TORCH_HOME", str(base / "torch-home"))
