"""Real-ESRGAN's U-Net discriminator with spectral norm: per-pixel real/fake logits, BasicSR's keys."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm

from srzoo import Capabilities, ConfigError, InputError, describe_arch

NEG_SLOPE = 0.2


@describe_arch(
    capabilities=Capabilities(out_channels=1, tiling=False, size_multiple=8, license="BSD-3-Clause"),
    role="discriminator",
    test_kwargs={"num_feat": 8},
)
class UNetDiscriminatorSN(nn.Module):
    """UNetDiscriminatorSN: three stride-2 4x4 convs down, three bilinear 2x stages up with 3x3 convs, skips
    from the matching encoder level (`skip_connection`), two more 3x3 convs and a 1-channel 3x3 head.

    Every conv except the first and the head is spectrally normalised with torch.nn.utils.spectral_norm
    (keys `weight_orig`, `weight_u`, `weight_v`), so Real-ESRGAN's `net_d` files load unchanged. Input
    (N, C, H, W) with H, W multiples of 8; output (N, 1, H, W) logits, one per pixel.
    """

    def __init__(self, *, in_channels: int = 3, num_feat: int = 64, skip_connection: bool = True) -> None:
        super().__init__()
        if num_feat < 1:
            raise ConfigError(f"unet_discriminator: num_feat must be >= 1, got {num_feat}")
        self.skip_connection = bool(skip_connection)
        f = num_feat
        self.conv0 = nn.Conv2d(in_channels, f, 3, 1, 1)
        self.conv1 = spectral_norm(nn.Conv2d(f, f * 2, 4, 2, 1, bias=False))
        self.conv2 = spectral_norm(nn.Conv2d(f * 2, f * 4, 4, 2, 1, bias=False))
        self.conv3 = spectral_norm(nn.Conv2d(f * 4, f * 8, 4, 2, 1, bias=False))
        self.conv4 = spectral_norm(nn.Conv2d(f * 8, f * 4, 3, 1, 1, bias=False))
        self.conv5 = spectral_norm(nn.Conv2d(f * 4, f * 2, 3, 1, 1, bias=False))
        self.conv6 = spectral_norm(nn.Conv2d(f * 2, f, 3, 1, 1, bias=False))
        self.conv7 = spectral_norm(nn.Conv2d(f, f, 3, 1, 1, bias=False))
        self.conv8 = spectral_norm(nn.Conv2d(f, f, 3, 1, 1, bias=False))
        self.conv9 = nn.Conv2d(f, 1, 3, 1, 1)

    @staticmethod
    def _act(x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x, NEG_SLOPE)

    @staticmethod
    def _up(x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % 8 or x.shape[-2] % 8:
            raise InputError(
                f"unet_discriminator: input {tuple(x.shape[-2:])} must have sides divisible by 8"
            )
        x0 = self._act(self.conv0(x))
        x1 = self._act(self.conv1(x0))
        x2 = self._act(self.conv2(x1))
        x3 = self._act(self.conv3(x2))
        skips = (x2, x1, x0) if self.skip_connection else (None, None, None)
        out = x3
        for conv, skip in zip((self.conv4, self.conv5, self.conv6), skips):
            out = self._act(conv(self._up(out)))
            if skip is not None:
                out = out + skip
        out = self._act(self.conv7(out))
        out = self._act(self.conv8(out))
        return self.conv9(out)
