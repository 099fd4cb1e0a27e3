"""RRDBNet, the ESRGAN generator, with BasicSR's exact state-dict keys and scales 1, 2, 3, 4 and 8."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from srzoo import Capabilities, ConfigError, InputError, describe_arch
from srzoo_esrgan import layouts

SCALES = (1, 2, 3, 4, 8)
UPSAMPLERS = ("nearest", "pixelshuffle")
# x1 and x2 fold the input into channels first (Real-ESRGAN), so the body runs at 1/4 or 1/2 resolution.
UNSHUFFLE = {1: 4, 2: 2}
# Upsampling stages after the trunk; x1/x2 undo their unshuffle with the same two 2x stages as x4.
STAGES = {1: (2, 2), 2: (2, 2), 3: (3,), 4: (2, 2), 8: (2, 2, 2)}
NEG_SLOPE = 0.2


def _lrelu(x: torch.Tensor) -> torch.Tensor:
    # In place: the activation input is a fresh conv output no one else holds, and leaky ReLU with a
    # positive slope is invertible, so autograd accepts it; this saves one feature map per activation.
    return F.leaky_relu(x, NEG_SLOPE, inplace=True)


class ResidualDenseBlock(nn.Module):
    """`num_convs` densely connected 3x3 convs; the last maps back to `num_feat` and is added scaled."""

    def __init__(self, num_feat: int, num_grow: int, num_convs: int, res_scale: float) -> None:
        super().__init__()
        for m in range(1, num_convs + 1):
            out_ch = num_feat if m == num_convs else num_grow
            self.add_module(f"conv{m}", nn.Conv2d(num_feat + (m - 1) * num_grow, out_ch, 3, 1, 1))
        self.res_scale = float(res_scale)
        self._names = tuple(f"conv{m}" for m in range(1, num_convs + 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        inp = x
        for name in self._names[:-1]:
            feats.append(_lrelu(getattr(self, name)(inp)))
            # torch.cat keeps autograd simple (no in-place writes into a shared buffer) and keeps
            # channels_last when every input has it.
            inp = torch.cat(feats, 1)
        # in place on the fresh conv output (conv backward does not need it): no temporaries, and the same
        # rounding as BasicSR's `out * 0.2 + x`
        return getattr(self, self._names[-1])(inp).mul_(self.res_scale).add_(x)


class RRDB(nn.Module):
    """Residual-in-residual dense block: `num_dense_blocks` RDBs in a chain with a scaled skip around them."""

    def __init__(
        self, num_feat: int, num_grow: int, num_dense_blocks: int, num_dense_convs: int, res_scale: float
    ) -> None:
        super().__init__()
        for k in range(1, num_dense_blocks + 1):
            self.add_module(f"rdb{k}", ResidualDenseBlock(num_feat, num_grow, num_dense_convs, res_scale))
        self.res_scale = float(res_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for rdb in self.children():
            out = rdb(out)
        # `out` is the last RDB's fresh output (num_dense_blocks >= 1), safe to scale in place
        return out.mul_(self.res_scale).add_(x)


@describe_arch(
    capabilities=Capabilities(
        scales=SCALES,
        # pixel_unshuffle needs the LR side divisible by its factor
        size_multiple={1: 4, 2: 2, 3: 1, 4: 1, 8: 1},
        fp16=True,
        bf16=True,
        tiling=True,
        license="BSD-3-Clause",
    ),
    convert_state_dict=layouts.convert_state_dict,
    infer_kwargs=layouts.infer_kwargs,
    test_kwargs={"num_feat": 8, "num_grow": 4, "num_blocks": 1},
)
class RRDBNet(nn.Module):
    """ESRGAN generator (Wang et al. 2018) with BasicSR / Real-ESRGAN state-dict keys.

    Input is float NCHW in [0, 1]; output is `scale` times larger. Scales 1 and 2 pixel-unshuffle the
    input by 4 and 2 (so their LR side must be a multiple of 4 and 2), scale 3 uses one 3x stage,
    scale 4 two 2x stages and scale 8 three. `upsampler="nearest"` is nearest-neighbour resize then
    conv (the published weights); `"pixelshuffle"` is conv to `num_feat * r * r` channels then
    PixelShuffle(r). `res_scale` scales every residual branch (a constant, not a parameter).
    """

    def __init__(
        self,
        *,
        scale: int = 4,
        in_channels: int = 3,
        out_channels: int = 3,
        num_feat: int = 64,
        num_grow: int = 32,
        num_blocks: int = 23,
        num_dense_blocks: int = 3,
        num_dense_convs: int = 5,
        upsampler: Literal["nearest", "pixelshuffle"] = "nearest",
        res_scale: float = 0.2,
    ) -> None:
        super().__init__()
        if scale not in SCALES:
            raise ConfigError(f"rrdbnet: scale {scale!r} is not supported; use one of {SCALES}")
        if upsampler not in UPSAMPLERS:
            raise ConfigError(f"rrdbnet: upsampler {upsampler!r} is unknown; use one of {UPSAMPLERS}")
        for arg, value in (
            ("in_channels", in_channels),
            ("out_channels", out_channels),
            ("num_feat", num_feat),
            ("num_grow", num_grow),
            ("num_dense_blocks", num_dense_blocks),
        ):
            if int(value) < 1:
                raise ConfigError(f"rrdbnet: {arg} must be >= 1, got {value!r}")
        if num_blocks < 0 or num_dense_convs < 2:
            raise ConfigError(
                f"rrdbnet: need num_blocks >= 0 and num_dense_convs >= 2, got {num_blocks}, {num_dense_convs}"
            )
        self.scale = int(scale)
        self.upsampler = upsampler
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.unshuffle = UNSHUFFLE.get(self.scale, 1)
        self.stages = STAGES[self.scale]

        self.conv_first = nn.Conv2d(in_channels * self.unshuffle**2, num_feat, 3, 1, 1)
        self.body = nn.Sequential(
            *(
                RRDB(num_feat, num_grow, num_dense_blocks, num_dense_convs, res_scale)
                for _ in range(num_blocks)
            )
        )
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        for i, r in enumerate(self.stages, start=1):
            up_out = num_feat * r * r if upsampler == "pixelshuffle" else num_feat
            self.add_module(f"conv_up{i}", nn.Conv2d(num_feat, up_out, 3, 1, 1))
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, out_channels, 3, 1, 1)
        self._up_names = tuple(f"conv_up{i}" for i in range(1, len(self.stages) + 1))
        self._init_dense_convs()

    @torch.no_grad()
    def _init_dense_convs(self) -> None:
        # ESRGAN's init: Kaiming-normal scaled by 0.1 inside the dense blocks keeps the 23x3 residual
        # branches small at the start, which the paper reports is needed to train a deep net without BN.
        for module in self.body.modules():
            if isinstance(module, ResidualDenseBlock):
                for conv in module.children():
                    nn.init.kaiming_normal_(conv.weight)
                    conv.weight.mul_(0.1)
                    nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.unshuffle > 1:
            h, w = x.shape[-2:]
            if h % self.unshuffle or w % self.unshuffle:
                raise InputError(
                    f"rrdbnet x{self.scale}: input {h}x{w} must be a multiple of {self.unshuffle} on each "
                    "side; pad it (e.g. reflect) and crop the output, or crop the input"
                )
            x = F.pixel_unshuffle(x, self.unshuffle)
        feat = self.conv_first(x)
        feat = self.conv_body(self.body(feat)).add_(feat)  # IEEE addition commutes: same bits as feat + ...
        for name, r in zip(self._up_names, self.stages):
            conv = getattr(self, name)
            if self.upsampler == "nearest":
                feat = _lrelu(conv(F.interpolate(feat, scale_factor=r, mode="nearest")))
            else:
                feat = _lrelu(F.pixel_shuffle(conv(feat), r))
        return self.conv_last(_lrelu(self.conv_hr(feat)))

    def extra_repr(self) -> str:
        return f"scale={self.scale}, upsampler={self.upsampler!r}"
