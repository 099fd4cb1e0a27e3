"""The parameter-free MATLAB-bicubic upscaler: the baseline row of every bench and a no-plugin arch."""

from __future__ import annotations

import torch
from torch import nn

from srzoo.framework.descriptors import Capabilities, describe_arch


@describe_arch(capabilities=Capabilities(scales=None, in_channels=3, out_channels=3, license="MIT"))
class Bicubic(nn.Module):
    """MATLAB `imresize(x, scale, 'bicubic')` as an SR model; any channel count, any integer scale."""

    def __init__(self, scale: int = 4) -> None:
        super().__init__()
        if scale < 1:
            raise ValueError("scale must be >= 1")
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from srzoo.imaging.resize import imresize

        if self.scale == 1:
            return x.clone()
        return imresize(x, scale=self.scale)
