"""The `realesrgan` zoo entry: Real-ESRGAN's published generators (RRDBNet and compact nets), URLs + sha256."""

from __future__ import annotations

from typing import Any, Literal

from srzoo_esrgan import layouts
from srzoo_esrgan.rrdbnet import RRDBNet
from torch import nn

from srzoo import Capabilities, ConfigError, PretrainedWeights, StateDict, WeightsError, describe_arch
from srzoo_realesrgan import srvgg
from srzoo_realesrgan.srvgg import SRVGGNetCompact

_RELEASES = "https://github.com/xinntao/Real-ESRGAN/releases/download"
# sha256 values are those public download manifests pin for these exact release files (see the README).
PRETRAINED = (
    PretrainedWeights(
        tag="x4plus",
        url=f"{_RELEASES}/v0.1.0/RealESRGAN_x4plus.pth",
        sha256="4fa0d38905f75ac06eb49a7951b426670021be3018265fd191d2125df9d682f1",
        scale=4,
        license="BSD-3-Clause",
        description="RealESRGAN_x4plus: 23-block RRDBNet, second-order degradations, L1 + VGG + U-Net GAN",
    ),
    PretrainedWeights(
        tag="x4plus_net",
        url=f"{_RELEASES}/v0.1.1/RealESRNet_x4plus.pth",
        sha256="df35f2bff19ca942eef14a8f291e29e3b0e5a5db436f58e451968a69ad995b5c",
        scale=4,
        license="BSD-3-Clause",
        description="RealESRNet_x4plus: the same net after the L1-only phase (no GAN): smoother, higher PSNR",
    ),
    PretrainedWeights(
        tag="x2plus",
        url=f"{_RELEASES}/v0.2.1/RealESRGAN_x2plus.pth",
        sha256="49fafd45f8fd7aa8d31ab2a22d14d91b536c34494a5cfe31eb5d89c2fa266abb",
        scale=2,
        license="BSD-3-Clause",
        description="RealESRGAN_x2plus: 23-block RRDBNet x2 (pixel-unshuffled input)",
    ),
    PretrainedWeights(
        tag="x4plus_anime_6b",
        url=f"{_RELEASES}/v0.2.2.4/RealESRGAN_x4plus_anime_6B.pth",
        sha256="f872d837d3c90ed2e05227bed711af5671a6fd1c9f7d7e91c911a61f155e99da",
        scale=4,
        kwargs={"num_blocks": 6},
        license="BSD-3-Clause",
        description="RealESRGAN_x4plus_anime_6B: 6-block RRDBNet for anime illustrations",
    ),
    PretrainedWeights(
        tag="general_x4v3",
        url=f"{_RELEASES}/v0.2.5.0/realesr-general-x4v3.pth",
        sha256="8dc7edb9ac80ccdc30c3a5dca6616509367f05fbc184ad95b731f05bece96292",
        scale=4,
        kwargs={"net": "srvgg_compact", "num_conv": 32},
        license="BSD-3-Clause",
        description="realesr-general-x4v3: compact SRVGGNet (32 convs, 1.2 M parameters) for general scenes",
    ),
    PretrainedWeights(
        tag="general_wdn_x4v3",
        url=f"{_RELEASES}/v0.2.5.0/realesr-general-wdn-x4v3.pth",
        sha256="1641f8c4464b9f097c9fdda5589273713f67cf59f3d909e0bd688f0cee269dca",
        scale=4,
        kwargs={"net": "srvgg_compact", "num_conv": 32},
        license="BSD-3-Clause",
        description="realesr-general-wdn-x4v3: general_x4v3 trained to denoise weakly; blend the two to set "
        "the denoise strength (Real-ESRGAN's -dn)",
    ),
    PretrainedWeights(
        tag="animevideo_v3",
        url=f"{_RELEASES}/v0.2.5.0/realesr-animevideov3.pth",
        sha256="b8a8376811077954d82ca3fcf476f1ac3da3e8a68a4f4d71363008000a18b75d",
        scale=4,
        kwargs={"net": "srvgg_compact", "num_conv": 16},
        license="BSD-3-Clause",
        description="realesr-animevideov3: compact SRVGGNet (16 convs) for anime video",
    ),
)
NETS = ("rrdbnet", "srvgg_compact")
RRDB_SCALES = (2, 4)


def _is_compact(sd: StateDict) -> bool:
    return "body.0.weight" in sd and "conv_first.weight" not in sd


def convert_state_dict(sd: StateDict) -> StateDict:
    """Compact weights are already in BasicSR keys; RRDBNet weights go through the esrgan plugin's converter."""
    return sd if _is_compact(sd) else layouts.convert_state_dict(sd)


def infer_kwargs(sd: StateDict) -> dict[str, Any]:
    """The `realesrgan` kwargs (with scale) of a Real-ESRGAN release file: 64/32-wide RRDBNet or a compact net."""
    if _is_compact(sd):
        found = srvgg.infer_kwargs(sd)
        if found["num_feat"] != 64 or found["in_channels"] != 3:
            raise WeightsError("realesrgan: compact nets here are 64 features, RGB; use arch srvgg_compact")
        return {"scale": found["scale"], "net": "srvgg_compact", "num_conv": found["num_conv"]}
    found = layouts.infer_kwargs(sd)
    expected = {"num_feat": 64, "num_grow": 32, "in_channels": 3, "out_channels": 3, "upsampler": "nearest"}
    differs = {k: found.get(k) for k, v in expected.items() if found.get(k) != v}
    if differs or found["scale"] not in RRDB_SCALES:
        raise WeightsError(
            f"realesrgan: not a Real-ESRGAN RRDBNet ({differs or found['scale']}); use arch rrdbnet"
        )
    return {"scale": found["scale"], "num_blocks": found["num_blocks"]}


@describe_arch(
    capabilities=Capabilities(scales=(2, 4), size_multiple={2: 2, 4: 1}, license="BSD-3-Clause"),
    pretrained=PRETRAINED,
    convert_state_dict=convert_state_dict,
    infer_kwargs=infer_kwargs,
    test_kwargs={"num_blocks": 1},
)
def realesrgan(
    scale: int = 4,
    *,
    net: Literal["rrdbnet", "srvgg_compact"] = "rrdbnet",
    num_blocks: int = 23,
    num_conv: int = 32,
) -> nn.Module:
    """Real-ESRGAN's released generators: `net: rrdbnet` (64 features, growth 32, `num_blocks` RRDBs, x2/x4)
    or `net: srvgg_compact` (64 features, `num_conv` convs, PReLU, x4 in the releases).

    For other widths use the `rrdbnet` / `srvgg_compact` archs directly.
    """
    if net not in NETS:
        raise ConfigError(f"realesrgan: net {net!r} is unknown; use one of {NETS}")
    if net == "srvgg_compact":
        return SRVGGNetCompact(scale=scale, num_feat=64, num_conv=num_conv)
    if scale not in RRDB_SCALES:
        raise ConfigError(f"realesrgan: the RRDBNet releases are x2 and x4, not x{scale}; use arch rrdbnet")
    return RRDBNet(scale=scale, num_feat=64, num_grow=32, num_blocks=num_blocks)
