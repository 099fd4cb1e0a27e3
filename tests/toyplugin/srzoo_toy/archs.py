"""toy_sr (a tiny SR net with the patterns srzoo's fast path fuses) and toy_discriminator (image -> logit).

toy_sr: conv + leaky ReLU, a dense concat, a scaled residual conv, a trunk skip and one PixelShuffle; x1/x2
pixel-unshuffle the input first (like RRDBNet), so their LR sides must be multiples of 4 / 2.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from srzoo import Capabilities, ConfigError, InputError, StateDict, WeightsError, describe_arch

SCALES = (1, 2, 3, 4)
UNSHUFFLE = {1: 4, 2: 2}  # x1/x2 fold the input into channels, so the body runs at 1/4 or 1/2 resolution
NEG_SLOPE = 0.2
RES_SCALE = 0.2


class DenseBlock(nn.Module):
    """conv1 + leaky ReLU, concat with the input, conv2 back to `num_feat`, added scaled to the input."""

    def __init__(self, num_feat: int, num_grow: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_grow, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat + num_grow, num_feat, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.leaky_relu(self.conv1(x), NEG_SLOPE, inplace=True)
        return self.conv2(torch.cat([x, y], 1)).mul_(RES_SCALE).add_(x)


def infer_kwargs(sd: StateDict) -> dict[str, Any]:
    """ToySR constructor kwargs (scale included) from its state dict; assumes in_channels == out_channels."""
    for key in ("conv_first.weight", "conv_body.weight", "conv_up.weight", "conv_last.weight"):
        if key not in sd:
            raise WeightsError(f"toy_sr weights: missing {key}")
    first, up, last = sd["conv_first.weight"], sd["conv_up.weight"], sd["conv_last.weight"]
    num_feat, out_channels = int(first.shape[0]), int(last.shape[0])
    fold, rem = divmod(int(first.shape[1]), out_channels)
    unshuffle, shuffle = round(fold**0.5), round((int(up.shape[0]) / num_feat) ** 0.5)
    if rem or unshuffle**2 != fold or shuffle**2 * num_feat != up.shape[0] or shuffle % unshuffle:
        raise WeightsError(
            f"toy_sr weights: conv_first {tuple(first.shape)} / conv_up {tuple(up.shape)} do not fit"
        )
    blocks = sorted({int(k.split(".")[1]) for k in sd if k.startswith("body.")})
    if blocks != list(range(len(blocks))):
        raise WeightsError(f"toy_sr weights: body blocks {blocks} are not numbered 0..n-1")
    kwargs: dict[str, Any] = {"scale": shuffle // unshuffle, "num_feat": num_feat, "num_blocks": len(blocks)}
    if blocks:
        kwargs["num_grow"] = int(sd["body.0.conv1.weight"].shape[0])
    if out_channels != 3:
        kwargs["in_channels"] = kwargs["out_channels"] = out_channels
    return kwargs


@describe_arch(
    capabilities=Capabilities(scales=SCALES, size_multiple={1: 4, 2: 2}, license="MIT"),
    infer_kwargs=infer_kwargs,
    test_kwargs={"num_feat": 8, "num_grow": 4, "num_blocks": 1},
)
class ToySR(nn.Module):
    """conv_first, `num_blocks` dense blocks, conv_body + trunk skip, one conv + PixelShuffle, conv_last."""

    def __init__(
        self,
        *,
        scale: int = 4,
        in_channels: int = 3,
        out_channels: int = 3,
        num_feat: int = 16,
        num_grow: int = 8,
        num_blocks: int = 2,
    ) -> None:
        super().__init__()
        if scale not in SCALES:
            raise ConfigError(f"toy_sr: scale {scale!r} is not supported; use one of {SCALES}")
        self.scale, self.unshuffle = int(scale), UNSHUFFLE.get(int(scale), 1)
        shuffle = self.scale * self.unshuffle
        self.conv_first = nn.Conv2d(in_channels * self.unshuffle**2, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*(DenseBlock(num_feat, num_grow) for _ in range(num_blocks)))
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up = nn.Conv2d(num_feat, num_feat * shuffle**2, 3, 1, 1)
        self.shuffle = nn.PixelShuffle(shuffle)
        self.conv_last = nn.Conv2d(num_feat, out_channels, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.unshuffle > 1:
            h, w = x.shape[-2:]
            if h % self.unshuffle or w % self.unshuffle:  # a Python check: torch.fx cannot trace past it
                raise InputError(
                    f"toy_sr x{self.scale}: input {h}x{w} must be a multiple of {self.unshuffle}"
                )
            x = F.pixel_unshuffle(x, self.unshuffle)
        feat = self.conv_first(x)
        feat = self.conv_body(self.body(feat)).add_(feat)
        feat = F.leaky_relu(self.shuffle(self.conv_up(feat)), NEG_SLOPE, inplace=True)
        return self.conv_last(feat)


@describe_arch(
    capabilities=Capabilities(out_channels=1, tiling=False, license="MIT"),
    role="discriminator",
    test_kwargs={"num_feat": 4, "input_size": 32},
)
class ToyDiscriminator(nn.Module):
    """Two stride-2 convs and a linear layer: (N, C, input_size, input_size) -> (N, 1) logits."""

    def __init__(self, *, in_channels: int = 3, num_feat: int = 8, input_size: int = 32) -> None:
        super().__init__()
        if input_size < 4 or input_size % 4:
            raise ConfigError(f"toy_discriminator: input_size must be a multiple of 4, got {input_size}")
        self.input_size = int(input_size)
        self.conv0 = nn.Conv2d(in_channels, num_feat, 4, 2, 1)
        self.conv1 = nn.Conv2d(num_feat, num_feat, 4, 2, 1)
        self.linear = nn.Linear(num_feat * (input_size // 4) ** 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.input_size, self.input_size):
            raise InputError(f"toy_discriminator: input is {tuple(x.shape[-2:])}, expected {self.input_size}")
        feat = F.leaky_relu(self.conv0(x), NEG_SLOPE)
        feat = F.leaky_relu(self.conv1(feat), NEG_SLOPE)
        return self.linear(feat.flatten(1))
