"""timm-style: every registered arch passes srzoo.testing's contract, so registering an arch tests it."""

from __future__ import annotations

import pytest

import srzoo
from srzoo.testing import check_arch

ARCH_NAMES = srzoo.list_archs()


@pytest.mark.parametrize("name", ARCH_NAMES)
def test_registered_arch_honours_the_contract(name: str) -> None:
    check_arch(name)


def test_the_bicubic_baseline_is_parameter_free_and_exact_on_constants() -> None:
    import torch

    model = srzoo.build_arch("bicubic", scale=3)
    assert sum(p.numel() for p in model.parameters()) == 0
    x = torch.full((1, 3, 5, 7), 0.25)
    assert torch.allclose(model(x), torch.full((1, 3, 15, 21), 0.25), atol=1e-6)
