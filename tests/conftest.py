"""Core test setup: every test gets its own SRZOO_CACHE (shared-data fixtures come from srzoo.testing.pytest_plugin)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never read or fill the user's ~/.cache/srzoo from tests."""
    monkeypatch.setenv("SRZOO_CACHE", str(tmp_path_factory.getbasetemp() / "srzoo-cache"))
