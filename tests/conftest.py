"""Core test setup: every test gets its own SRZOO_CACHE (shared-data fixtures come from srzoo.testing.pytest_plugin)."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never read or fill the user's ~/.cache/srzoo from tests."""
    monkeypatch.setenv("SRZOO_CACHE", str(tmp_path_factory.getbasetemp() / "srzoo-cache"))


# Hypothesis profiles for the fuzzed hostile-input battery (tests/test_fuzz_*.py): "ci" (default) is small and
# derandomized, so CI runs are repeatable and quick; run it long with HYPOTHESIS_PROFILE=long or
# `pytest --hypothesis-profile=long tests/test_fuzz_*.py` (20x the examples, random, with a failure database).
settings.register_profile("ci", max_examples=100, derandomize=True, database=None, deadline=None)
settings.register_profile("long", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
