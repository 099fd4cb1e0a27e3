"""Core test setup: the test-only toy plugin on the path; every test gets its own SRZOO_CACHE.

Shared-data fixtures come from srzoo.testing.pytest_plugin.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# A plugin defined in the tests (tests/toyplugin: the srzoo_toy package + its dist-info), so core's suite trains, benches
# and infers with a learnable arch and GAN/feature losses while no real plugin is installed.
TOY_PLUGIN = Path(__file__).resolve().parent / "toyplugin"


def pytest_configure(config: pytest.Config) -> None:
    """Register the toy plugin here and in every subprocess a test starts (PYTHONPATH), then rediscover."""
    path = str(TOY_PLUGIN)
    if path not in sys.path:
        sys.path.insert(0, path)
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if path not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([path, *filter(None, paths)])
    importlib.invalidate_caches()
    from srzoo.framework.registries import refresh_all

    refresh_all()


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
