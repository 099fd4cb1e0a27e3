"""SRVGGNetCompact (realesr-general / animevideo nets) with BasicSR's state-dict keys, loadable by spandrel."""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from srzoo import Capabilities, ConfigError, StateDict, WeightsError, describe_arch

ACTIVATIONS = ("prelu", "relu", "leakyrelu")


def _activation(kind: str, num_feat: int) -> nn.Module:
    if kind == "prelu":
        return nn.PReLU(num_parameters=num_feat)
    if kind == "relu":
        return nn.ReLU(inplace=True)
    return nn.LeakyReLU(negative_slope=0.1, inplace=True)


def infer_kwargs(sd: StateDict) -> dict[str, Any]:
    """Constructor kwargs (with `scale`) of BasicSR SRVGGNetCompact weights; PReLU nets only (others have
    no activation weights to tell them apart), as spandrel does."""
    if "body.0.weight" not in sd or "body.1.weight" not in sd or sd["body.1.weight"].ndim != 1:
        raise WeightsError("not SRVGGNetCompact weights (no body.0.weight / PReLU body.1.weight)")
    last = max(int(k.split(".")[1]) for k in sd if k.startswith("body."))
    in_ch, num_feat = sd["body.0.weight"].shape[1], sd["body.0.weight"].shape[0]
    out_planes = sd[f"body.{last}.weight"].shape[0]
    scale = round((out_planes / in_ch) ** 0.5)
    if scale * scale * in_ch != out_planes:
        raise WeightsError(f"SRVGGNetCompact: last conv has {out_planes} channels, not in_channels x scale^2")
    return {
        "scale": scale,
        "in_channels": int(in_ch),
        "out_channels": int(in_ch),
        "num_feat": int(num_feat),
        "num_conv": (last - 2) // 2,
    }


@describe_arch(
    capabilities=Capabilities(license="BSD-3-Clause"),
    infer_kwargs=infer_kwargs,
    test_kwargs={"num_feat": 8, "num_conv": 2},
)
class SRVGGNetCompact(nn.Module):
    """Real-ESRGAN's compact net: `num_conv` 3x3 convs at LR resolution, pixel shuffle, plus nearest upsampling.

    Keys: `body.{0..}` alternate conv / activation (`body.2i+1.weight` for PReLU), the last conv outputs
    out_channels * scale^2 planes. The output adds the nearest-upsampled input, so the net learns a residual.
    """

    def __init__(
        self,
        *,
        scale: int = 4,
        in_channels: int = 3,
        out_channels: int = 3,
        num_feat: int = 64,
        num_conv: int = 16,
        act_type: Literal["prelu", "relu", "leakyrelu"] = "prelu",
    ) -> None:
        super().__init__()
        if act_type not in ACTIVATIONS:
            raise ConfigError(f"srvgg_compact: act_type {act_type!r} is unknown; use one of {ACTIVATIONS}")
        if scale < 1 or num_conv < 0:
            raise ConfigError(f"srvgg_compact: need scale >= 1 and num_conv >= 0, got {scale}, {num_conv}")
        if out_channels != in_channels:
            raise ConfigError("srvgg_compact: out_channels must equal in_channels (the input is added back)")
        self.scale = int(scale)
        layers: list[nn.Module] = [nn.Conv2d(in_channels, num_feat, 3, 1, 1), _activation(act_type, num_feat)]
        for _ in range(num_conv):
            layers += [nn.Conv2d(num_feat, num_feat, 3, 1, 1), _activation(act_type, num_feat)]
        layers.append(nn.Conv2d(num_feat, out_channels * scale * scale, 3, 1, 1))
        self.body = nn.ModuleList(layers)
        self.upsampler = nn.PixelShuffle(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for layer in self.body:
            out = layer(out)
        return self.upsampler(out) + F.interpolate(x, scale_factor=self.scale, mode="nearest")
