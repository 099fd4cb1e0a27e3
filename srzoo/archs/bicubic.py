"""The parameter-free MATLAB-bicubic upscaler: the baseline row of every bench and a no-plugin arch."""

from __future__ import annotations

import torch
from torch import nn

from srzoo.errors import ConfigError, did_you_mean
from srzoo.framework.descriptors import Capabilities, describe_arch

ROUNDINGS = ("auto", "uint8", "uint16", "none")
_PEAKS = {"uint8": 255, "uint16": 65535}
# fp16/bf16 hold k/255 to within 0.07 of a level; a float image's value lands within a tenth of a level of the
# grid one time in five, so a whole image never does unless it really is an 8-bit (or 16-bit) image. fp32 holds
# k/255 to ~1e-5 of a level: there the tolerance is tight, so a 16-bit image whose values happen to sit near the
# 8-bit grid (e.g. 257k + 7) is not mistaken for an 8-bit one.
_GRID_TOL = {torch.float16: 0.1, torch.bfloat16: 0.1}
_GRID_TOL_WIDE = 0.01


def grid_peak(x: torch.Tensor) -> int | None:
    """255 (65535) when every value of `x` is k/255 (k/65535) to a tenth of a level, 0 <= k <= peak; else None."""
    if x.numel() == 0 or x.requires_grad or not torch.is_floating_point(x):
        return None  # a tensor that needs gradients is not an image file's pixels: keep it differentiable
    tol = _GRID_TOL.get(x.dtype, _GRID_TOL_WIDE)
    for peak in (255, 65535):
        v = x.detach().double() * peak
        if (
            float(v.amin()) >= -tol
            and float(v.amax()) <= peak + tol
            and float((v - v.round()).abs().amax()) <= tol
        ):
            return peak
    return None


@describe_arch(capabilities=Capabilities(scales=None, in_channels=3, out_channels=3, license="MIT"))
class Bicubic(nn.Module):
    """MATLAB `imresize(x, scale, 'bicubic')` as an SR model; any channel count, any integer scale.

    Takes and returns [0, 1] floats. MATLAB rounds to the image's integer class after each 1-D pass, so the
    result depends on the class: `rounding="auto"` treats input on the 8-bit grid (k/255: every 8-bit image
    the bench, `srzoo infer` and validation feed) as MATLAB's uint8, input on the 16-bit grid as uint16, and
    anything else (or input that needs gradients) as double, with no rounding. `"uint8"` / `"uint16"` force
    the class (input is rounded to it first), `"none"` forces double.
    """

    def __init__(self, scale: int = 4, rounding: str = "auto") -> None:
        super().__init__()
        if scale < 1:
            raise ValueError("scale must be >= 1")
        if rounding not in ROUNDINGS:
            raise ConfigError(
                f"bicubic: rounding {rounding!r} is not one of {', '.join(ROUNDINGS)}"
                f"{did_you_mean(rounding, ROUNDINGS)}"
            )
        self.scale = scale
        self.rounding = rounding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from srzoo.imaging.resize import imresize, imresize_levels

        if self.scale == 1:
            return x.clone()
        peak = grid_peak(x) if self.rounding == "auto" else _PEAKS.get(self.rounding)
        if peak is None:
            return imresize(x, scale=self.scale)
        levels = x.detach().double().mul(peak).round_().clamp_(0, peak)
        return imresize_levels(levels, scale=self.scale, peak=peak).div_(peak).to(x.dtype)
