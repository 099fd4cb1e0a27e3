"""VGG-style ESRGAN discriminator with BasicSR's VGGStyleDiscriminator keys, for any input size >= 32."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from srzoo import Capabilities, ConfigError, InputError, describe_arch

NORMS = ("batch", "spectral", "none")
NEG_SLOPE = 0.2


def default_channels(num_feat: int, input_size: int) -> tuple[int, ...]:
    """BasicSR's widths (nf, 2nf, 4nf, 8nf, 8nf) plus one 8nf level per extra halving above 128 px.

    128 → 5 levels (4x4 map), 256 → 6 levels (4x4), 192 → 5 levels (6x6), 512 → 7 levels (4x4).
    """
    levels, side = 5, input_size // 32
    while side >= 8:  # keep the final map at 4..7 px, as BasicSR's 128 and 256 variants do
        side //= 2
        levels += 1
    return tuple(num_feat * min(2**i, 8) for i in range(levels))


def _strided(side: int) -> int:
    return (side + 2 - 4) // 2 + 1  # 4x4 conv, stride 2, padding 1


@describe_arch(
    capabilities=Capabilities(out_channels=1, tiling=False, license="BSD-3-Clause"),
    role="discriminator",
    test_kwargs={"num_feat": 8, "input_size": 128},
)
class VGGDiscriminator(nn.Module):
    """ESRGAN's VGG-style discriminator: per level a 3x3 conv and a 4x4 stride-2 conv, then linear layers.

    Level i has `conv{i}_0` (3x3) and `conv{i}_1` (4x4, stride 2), each followed by `bn{i}_0` / `bn{i}_1`
    when norm="batch" (level 0 has no bn0_0 and its first conv keeps its bias), then `linear1 …` with
    LeakyReLU(0.2) between them and one output. With norm="batch" and input_size 128 or 256 the state
    dict is exactly BasicSR's VGGStyleDiscriminator. Input (N, C, input_size, input_size); output (N, 1)
    logits.
    """

    def __init__(
        self,
        *,
        in_channels: int = 3,
        num_feat: int = 64,
        input_size: int = 128,
        channels: Sequence[int] | None = None,
        fc_features: Sequence[int] = (100,),
        norm: Literal["batch", "spectral", "none"] = "batch",
    ) -> None:
        super().__init__()
        if norm not in NORMS:
            raise ConfigError(f"vgg_discriminator: norm {norm!r} is unknown; use one of {NORMS}")
        if input_size < 32:
            raise ConfigError(f"vgg_discriminator: input_size must be >= 32, got {input_size}")
        widths = (
            tuple(int(c) for c in channels)
            if channels is not None
            else default_channels(num_feat, input_size)
        )
        side = input_size
        for _ in widths:
            side = _strided(side)
        if not widths or side < 1:
            raise ConfigError(
                f"vgg_discriminator: {len(widths)} stride-2 levels do not fit input_size {input_size}; "
                "give fewer channels or a larger input_size"
            )
        self.input_size, self.norm, self.final_side = int(input_size), norm, side

        wrap = spectral_norm if norm == "spectral" else (lambda m: m)
        # batch norm absorbs a conv bias: only the un-normalised first conv (or every conv without BN) has one
        bias = norm != "batch"
        prev = in_channels
        for i, width in enumerate(widths):
            if i == 0:
                self.add_module("conv0_0", wrap(nn.Conv2d(prev, width, 3, 1, 1, bias=True)))
            else:
                self.add_module(f"conv{i}_0", wrap(nn.Conv2d(prev, width, 3, 1, 1, bias=bias)))
                if norm == "batch":
                    self.add_module(f"bn{i}_0", nn.BatchNorm2d(width))
            self.add_module(f"conv{i}_1", wrap(nn.Conv2d(width, width, 4, 2, 1, bias=bias)))
            if norm == "batch":
                self.add_module(f"bn{i}_1", nn.BatchNorm2d(width))
            prev = width
        feats = (prev * side * side, *(int(f) for f in fc_features), 1)
        for j in range(len(feats) - 1):
            self.add_module(f"linear{j + 1}", wrap(nn.Linear(feats[j], feats[j + 1])))
        # (conv, norm-or-None) pairs in forward order, resolved once so forward does no name lookups
        self._convs = tuple(
            (f"conv{i}_{k}", f"bn{i}_{k}" if norm == "batch" and (i, k) != (0, 0) else None)
            for i in range(len(widths))
            for k in (0, 1)
        )
        self._linears = tuple(f"linear{j + 1}" for j in range(len(feats) - 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.input_size, self.input_size):
            raise InputError(
                f"vgg_discriminator: input is {tuple(x.shape[-2:])}, expected {self.input_size}x"
                f"{self.input_size}; set input_size to the training patch size (gt_size)"
            )
        feat = x
        for conv_name, bn_name in self._convs:
            feat = getattr(self, conv_name)(feat)
            if bn_name is not None:
                feat = getattr(self, bn_name)(feat)
            feat = F.leaky_relu(feat, NEG_SLOPE, inplace=True)
        feat = feat.flatten(1)
        for name in self._linears[:-1]:
            feat = F.leaky_relu(getattr(self, name)(feat), NEG_SLOPE, inplace=True)
        return getattr(self, self._linears[-1])(feat)
