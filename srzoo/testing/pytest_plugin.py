"""pytest fixtures for srzoo and its plugins: ../shared data that skips when absent (fails when required)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from srzoo.testing import shared_datasets, shared_root


def need_shared(path: Path, what: str) -> Path:
    """Return `path`, or skip — or fail when SRZOO_REQUIRE_SHARED=1 (CI), so missing data never passes silently."""
    if path.exists():
        return path
    message = f"{what} not found at {path} (set SRZOO_DATA / SRZOO_SHARED)"
    if os.environ.get("SRZOO_REQUIRE_SHARED") == "1":
        pytest.fail(message + "; SRZOO_REQUIRE_SHARED=1 forbids skipping")
    pytest.skip(message)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Root of the benchmark datasets (EDSR layout: <Set>/HR, <Set>/LR_bicubic/X<s>)."""
    return need_shared(shared_datasets(), "shared datasets")


@pytest.fixture(scope="session")
def niqe_params_file() -> Path:
    """NIQE pristine-model parameters (.npz)."""
    return need_shared(shared_root() / "metrics_assets" / "niqe_pris_params.npz", "NIQE parameters")
