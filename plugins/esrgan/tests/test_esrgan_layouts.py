"""Weight layouts: 2018 / 2019 ESRGAN keys round-trip to BasicSR keys; kwargs inference; clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import spandrel
import torch
from srzoo_esrgan import layouts
from srzoo_esrgan.rrdbnet import RRDBNet

from srzoo import WeightsError

CONFIGS = [
    {"scale": 4, "upsampler": "nearest"},
    {"scale": 8, "upsampler": "nearest"},
    {"scale": 1, "upsampler": "nearest"},
    {"scale": 2, "upsampler": "nearest"},
    {"scale": 4, "upsampler": "pixelshuffle"},
    {"scale": 3, "upsampler": "pixelshuffle"},
]


def tiny(**kwargs: object) -> RRDBNet:
    torch.manual_seed(0)
    # num_grow 32: spandrel's RRDBNet hard-codes it, and the interop test below loads these into spandrel
    return RRDBNet(**{"num_feat": 8, "num_grow": 32, "num_blocks": 2, **kwargs})


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"x{c['scale']}-{c['upsampler']}")
def test_round_trip_and_inference(config: dict) -> None:
    model = tiny(**config)
    sd = model.state_dict()
    for to_legacy, first_key in (
        (layouts.to_legacy_2018, "model.0.weight"),
        (layouts.to_legacy_2019, "conv_first.weight"),
    ):
        legacy = to_legacy(sd)
        assert first_key in legacy and not any(k.startswith(("body.", "conv_body")) for k in legacy)
        assert same(layouts.convert_state_dict(legacy), sd)
        assert layouts.infer_kwargs(legacy) == layouts.infer_kwargs(sd)
    expected = {"in_channels": 3, "out_channels": 3, "num_feat": 8, "num_grow": 32, "num_blocks": 2}
    expected |= {"num_dense_blocks": 3, "num_dense_convs": 5, **config}
    assert layouts.infer_kwargs(sd) == expected
    assert same(layouts.convert_state_dict(sd), sd)  # BasicSR layout is the identity


def test_legacy_2018_indices() -> None:
    x4 = layouts.to_legacy_2018(tiny().state_dict())
    assert {
        "model.1.sub.0.RDB1.conv1.0.weight",
        "model.1.sub.2.weight",
        "model.3.weight",
        "model.6.weight",
    } <= set(x4)
    assert {"model.8.weight", "model.10.weight"} <= set(x4) and "model.11.weight" not in x4
    x8 = layouts.to_legacy_2018(tiny(scale=8).state_dict())
    assert {"model.9.weight", "model.11.weight", "model.13.weight"} <= set(x8)
    ps = layouts.to_legacy_2018(tiny(upsampler="pixelshuffle").state_dict())  # [conv, shuffle, act] stages
    assert (
        ps["model.2.weight"].shape[0] == 32
        and ps["model.5.weight"].shape[0] == 32
        and "model.3.weight" not in ps
    )


@pytest.mark.parametrize("scale", [4, 8, 2, 1])
def test_legacy_2018_matches_spandrel(scale: int) -> None:
    # spandrel reads the 2018 layout with its own code: equal outputs prove our index mapping
    model = tiny(scale=scale).eval()
    ref = spandrel.ModelLoader().load_from_state_dict(layouts.to_legacy_2018(model.state_dict())).model.eval()
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        assert (model(x) - ref(x)).abs().max().item() < 1e-5


def test_real_weights_round_trip(shared_weights: Path) -> None:
    sd = torch.load(shared_weights, map_location="cpu", weights_only=True)["params"]
    kwargs = layouts.infer_kwargs(sd)
    for to_legacy in (layouts.to_legacy_2018, layouts.to_legacy_2019):
        assert same(layouts.convert_state_dict(to_legacy(sd)), sd)
        assert layouts.infer_kwargs(to_legacy(sd)) == kwargs
    assert kwargs == {
        "scale": 4, "in_channels": 3, "out_channels": 3, "num_feat": 64, "num_grow": 32, "num_blocks": 23,
        "num_dense_blocks": 3, "num_dense_convs": 5, "upsampler": "nearest",
    }  # fmt: skip
    legacy = layouts.to_legacy_2018(sd)
    assert "model.1.sub.23.weight" in legacy and "model.10.bias" in legacy and len(legacy) == len(sd)


def test_nearest_x3_is_inferred_from_one_stage() -> None:
    assert layouts.infer_kwargs(tiny(scale=3).state_dict())["scale"] == 3


def test_errors_name_the_problem() -> None:
    sd = tiny().state_dict()
    del sd["conv_hr.weight"]
    with pytest.raises(WeightsError, match=r"conv_hr\.weight"):
        layouts.infer_kwargs(sd)
    with pytest.raises(WeightsError, match="not RRDBNet"):
        layouts.convert_state_dict({"head.0.weight": torch.zeros(1)})
    with pytest.raises(WeightsError, match="ESRGAN\\+"):
        layouts.convert_state_dict(
            {"model.0.weight": torch.zeros(1), "model.1.sub.0.RDB1.conv1x1.weight": torch.zeros(1)}
        )
    legacy = layouts.to_legacy_2019(tiny().state_dict())
    legacy["RRDB_trunk.0.RDB1.norm.weight"] = torch.zeros(1)
    with pytest.raises(WeightsError, match=r"RRDB_trunk\.0\.RDB1\.norm\.weight"):
        layouts.convert_state_dict(legacy)
    # an old-style x2 model (BSRGAN x2: one nearest stage, no pixel-unshuffle) is refused, not run at x3
    bsrgan_x2 = {k: v for k, v in layouts.to_legacy_2019(tiny(scale=3).state_dict()).items()}
    with pytest.raises(WeightsError, match="one nearest upsampling stage"):
        layouts.convert_state_dict(bsrgan_x2)
