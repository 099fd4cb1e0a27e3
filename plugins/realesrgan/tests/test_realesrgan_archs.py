"""srvgg_compact, unet_discriminator and the `realesrgan` zoo entry: contracts, BasicSR keys, spandrel parity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import spandrel
import torch
from PIL import Image
from srzoo_realesrgan import zoo
from srzoo_realesrgan.srvgg import SRVGGNetCompact
from srzoo_realesrgan.unet_discriminator import UNetDiscriminatorSN

from srzoo import WeightsError, arch_info, build_arch, load_model
from srzoo.testing import check_arch


def test_registered_archs_keep_the_contract() -> None:
    check_arch("srvgg_compact", scales=(2, 4))
    check_arch("realesrgan", scales=(2, 4))


def test_compact_weights_load_in_spandrel_with_the_same_output() -> None:
    torch.manual_seed(0)
    ours = SRVGGNetCompact(scale=4, num_feat=16, num_conv=3).eval()
    for p in ours.parameters():  # PReLU starts at 0.25 everywhere: vary it so a wrong mapping shows
        p.data.add_(0.05 * torch.randn_like(p))
    sd = ours.state_dict()
    desc = spandrel.ModelLoader().load_from_state_dict(sd)
    assert desc.architecture.id == "Compact" and desc.scale == 4
    x = torch.rand(1, 3, 20, 24)
    with torch.no_grad():
        assert (ours(x) - desc.model.eval()(x)).abs().max().item() <= 1e-5
    # and back: kwargs recovered from the keys alone
    assert arch_info(SRVGGNetCompact).infer_kwargs(sd) == {
        "scale": 4, "in_channels": 3, "out_channels": 3, "num_feat": 16, "num_conv": 3,
    }  # fmt: skip


def test_release_configs_have_the_published_sizes() -> None:
    def params(tag: str) -> int:
        entry = next(p for p in zoo.PRETRAINED if p.tag == tag)
        return sum(
            p.numel() for p in build_arch("realesrgan", scale=entry.scale, **entry.kwargs).parameters()
        )

    assert params("x4plus") == 16_697_987  # the shared x4plus file's count (shared/README.md)
    ref = spandrel.ModelLoader().load_from_state_dict  # independent builds of the compact releases
    for tag, convs in (("general_x4v3", 32), ("general_wdn_x4v3", 32), ("animevideo_v3", 16)):
        sd = SRVGGNetCompact(scale=4, num_conv=convs).state_dict()
        assert params(tag) == sum(v.numel() for v in ref(sd).model.parameters())
    assert {p.tag for p in zoo.PRETRAINED} == {
        "x4plus", "x4plus_net", "x2plus", "x4plus_anime_6b", "general_x4v3", "general_wdn_x4v3", "animevideo_v3",
    }  # fmt: skip
    assert len({p.sha256 for p in zoo.PRETRAINED}) == len(zoo.PRETRAINED)  # one file per tag
    assert all(
        len(p.sha256 or "") == 64 and p.url.startswith("https://github.com/xinntao/") for p in zoo.PRETRAINED
    )


def test_realesrgan_infers_its_release_configs() -> None:
    infer = arch_info(zoo.realesrgan).infer_kwargs
    assert infer(build_arch("realesrgan", scale=2, num_blocks=2).state_dict()) == {
        "scale": 2,
        "num_blocks": 2,
    }
    compact = build_arch("realesrgan", scale=4, net="srvgg_compact", num_conv=4).state_dict()
    assert infer(compact) == {"scale": 4, "net": "srvgg_compact", "num_conv": 4}
    with pytest.raises(WeightsError, match="use arch rrdbnet"):
        infer(build_arch("rrdbnet", scale=4, num_feat=32, num_blocks=1).state_dict())


def test_unet_discriminator_keys_shape_and_spectral_norm() -> None:
    torch.manual_seed(0)
    d = UNetDiscriminatorSN(num_feat=8)
    keys = set(d.state_dict())
    assert {"conv0.weight", "conv0.bias", "conv9.weight", "conv9.bias"} <= keys
    for i in range(1, 9):  # BasicSR / Real-ESRGAN net_d keys of torch.nn.utils.spectral_norm
        assert {f"conv{i}.weight_orig", f"conv{i}.weight_u", f"conv{i}.weight_v"} <= keys
    x = torch.rand(2, 3, 16, 24)
    for _ in range(20):  # power iterations converge in training mode
        y = d(x)
    assert y.shape == (2, 1, 16, 24)
    sigma = torch.linalg.matrix_norm(d.conv2.weight.detach().flatten(1), ord=2).item()
    assert abs(sigma - 1) < 0.05
    plain = UNetDiscriminatorSN(num_feat=8, skip_connection=False)
    plain.load_state_dict(d.state_dict())
    d.eval(), plain.eval()
    with torch.no_grad():
        assert not torch.allclose(d(x), plain(x))


@pytest.mark.slow
def test_shared_x4plus_through_the_realesrgan_arch_matches_spandrel(
    shared_weights: Path, shared_data: Path
) -> None:
    model = load_model(shared_weights, arch="realesrgan", fast=False)
    assert (
        model.card.arch == "realesrgan" and model.card.kwargs == {"num_blocks": 23} and model.card.scale == 4
    )
    sd = torch.load(shared_weights, map_location="cpu", weights_only=True)["params"]
    ref = spandrel.ModelLoader().load_from_state_dict(sd).model.eval()
    img = np.array(Image.open(shared_data / "Set5" / "LR_bicubic" / "X4" / "butterflyx4.png").convert("RGB"))
    x = torch.from_numpy(img[:32, :32]).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        a, b = model.net(x), ref(x)
    assert (a - b).abs().max().item() <= 1e-5 and a.std().item() > 0.05


def test_denoise_strength_is_an_interpolation_of_the_general_pair(tmp_path: Path) -> None:
    # Real-ESRGAN's -dn D loads [general, wdn] with dni weights [D, 1 - D]; the README says that is --alpha 1 - D
    from srzoo.inference.interpolate import interpolate_models

    torch.manual_seed(0)
    files = []
    for name in ("realesr-general-x4v3.pth", "realesr-general-wdn-x4v3.pth"):
        net = SRVGGNetCompact(scale=4, num_conv=4)
        for p in net.parameters():  # distinct PReLU slopes too, so a blend that skipped them would show
            p.data.add_(0.1 * torch.randn_like(p))
        torch.save({"params": net.state_dict()}, tmp_path / name)  # the release files' layout
        files.append(tmp_path / name)
    general, wdn = (torch.load(f, weights_only=True)["params"] for f in files)
    strength = 0.3
    net, card, _ = interpolate_models(files[0], files[1], 1 - strength)
    assert (card.arch, card.kwargs.get("net")) == ("realesrgan", "srvgg_compact")
    blended = net.state_dict()
    assert blended.keys() == general.keys()
    for key, value in general.items():
        torch.testing.assert_close(
            blended[key], strength * value + (1 - strength) * wdn[key], rtol=0, atol=1e-7
        )
