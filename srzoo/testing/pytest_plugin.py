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


def pytest_runtest_setup(item: pytest.Item) -> None:
    """`@pytest.mark.native_bf16` tests skip, naming the CPU, where oneDNN has no bf16 kernels (AVX2).

    SRZOO_REQUIRE_NATIVE_BF16=1 (CI on an AVX-512 / AMX machine) turns that skip into a failure.
    """
    if item.get_closest_marker("native_bf16") is None:
        return
    from srzoo.inference.precision import support

    found = support("bf16", "cpu")
    if found.native:
        return
    if os.environ.get("SRZOO_REQUIRE_NATIVE_BF16") == "1":
        pytest.fail(f"{found.why}; SRZOO_REQUIRE_NATIVE_BF16=1 forbids skipping")
    pytest.skip(found.why)
