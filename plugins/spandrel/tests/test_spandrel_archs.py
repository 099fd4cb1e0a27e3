"""Every registered spandrel arch: srzoo's contract at a tiny size, capabilities equal to spandrel's descriptor."""

from __future__ import annotations

import pytest
import torch
from srzoo_spandrel._specs import SPECS
from srzoo_spandrel.archs import network_class

from srzoo import ARCHS, arch_info, build_arch
from srzoo.testing import check_arch

NATIVE = {
    "rrdbnet",
    "esrgan",
    "compact",
    "srvgg_compact",
    "realesrgan",
}  # owned by srzoo-esrgan / -realesrgan

# generated from the registry: what this distribution registers, not the plugin's own table
NAMES = [e.name for e in ARCHS.entries() if e.dist == "srzoo-spandrel"]


def test_at_least_thirty_archs_registered_none_shadowing_native_plugins() -> None:
    names = NAMES
    assert len(names) >= 30, names
    assert set(names) == set(SPECS)
    assert not set(names) & NATIVE
    assert not ARCHS.conflicts()


# DAT's channel attention batch-normalises pooled 1x1 features: in training mode one sample has no variance
BATCH = {"dat": 2}


def _check_scale(name: str) -> int:
    scales = SPECS[name].scales
    return (
        2 if 2 in scales else scales[0]
    )  # x2: the cheapest SR head; contract at the others is in the round trip


@pytest.mark.parametrize("name", NAMES)
def test_contract(name: str) -> None:
    spec = SPECS[name]
    check_arch(name, scales=[_check_scale(name)], lr_size=spec.lr_side(), batch=BATCH.get(name, 1))


@pytest.mark.parametrize("name", NAMES)
def test_capabilities_are_spandrels(name: str) -> None:
    """fp16/bf16/size multiple/tiling are what spandrel's descriptor says for a tiny instance of every scale."""
    from spandrel import MAIN_REGISTRY, ModelTiling

    info = arch_info(ARCHS.get(name))
    caps = info.capabilities
    assert caps.license != "unknown"
    for scale in caps.scales:
        torch.manual_seed(0)
        net = build_arch(name, scale=scale, **info.test_kwargs)
        desc = MAIN_REGISTRY.load({k: v.clone() for k, v in net.state_dict().items()})
        assert desc.architecture.id == SPECS[name].module
        assert isinstance(desc.model, network_class(name, scale))
        assert desc.scale == scale
        assert (desc.input_channels, desc.output_channels) == (caps.in_channels, caps.out_channels)
        assert (caps.fp16, caps.bf16) == (desc.supports_half, desc.supports_bfloat16)
        assert caps.multiple_for(scale) == desc.size_requirements.multiple_of
        assert SPECS[name].minimum == desc.size_requirements.minimum
        assert caps.tiling == (desc.tiling == ModelTiling.SUPPORTED)
