"""spandrel plugin tests: an isolated srzoo cache."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the user's ~/.cache/srzoo from tests."""
    if os.environ.get("SRZOO_TEST_KEEP_CACHE") != "1":
        monkeypatch.setenv("SRZOO_CACHE", str(tmp_path_factory.getbasetemp() / "srzoo-cache"))
