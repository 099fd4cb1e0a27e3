"""srzoo's degradation contract on every degradation this plugin registers (generated from the registry)."""

from __future__ import annotations

import pytest

from srzoo.framework.registries import DEGRADATIONS
from srzoo.testing import check_degradation

OURS = sorted(n for n in DEGRADATIONS.names() if DEGRADATIONS.entry(n).dist == "srzoo-realesrgan")
# Small settings so a CPU check takes a second: the full pipeline on 64-pixel patches, a 32-pixel crop, a pool.
KWARGS = {"realesrgan": {"gt_size": 32, "queue_size": 4}}


def test_the_plugin_registers_its_degradations() -> None:
    assert OURS == ["realesrgan", "realesrgan_paired"]


@pytest.mark.parametrize("name", OURS)
def test_degradation_contract(name: str) -> None:
    check_degradation(name, kwargs=KWARGS.get(name))
