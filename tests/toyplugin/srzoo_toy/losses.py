"""toy_gan (a GAN loss in srzoo's d_loss / g_loss interface) and toy_feature (a stand-in for a perceptual loss)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from srzoo import ConfigError, InputError


class ToyGANLoss(nn.Module):
    """Standard GAN loss (BCE with logits) in srzoo's adversarial interface: d_loss and g_loss, no forward."""

    adversarial = True  # tells a training phase this is a GAN loss, not a pixel / feature loss

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise ConfigError("toy_gan is a GAN loss: call d_loss / g_loss (use it as the adversarial loss)")

    @staticmethod
    def _bce(logits: torch.Tensor, real: bool) -> torch.Tensor:
        target = torch.ones_like(logits) if real else torch.zeros_like(logits)
        return F.binary_cross_entropy_with_logits(logits, target)

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return self._bce(real_logits, True) + self._bce(fake_logits, False)

    def g_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return self._bce(fake_logits, True)


class ToyFeatureLoss(nn.Module):
    """L1 between the features of a frozen random conv layer (seeded): a stand-in for a perceptual loss."""

    def __init__(self, *, width: int = 8, seed: int = 0) -> None:
        super().__init__()
        if width < 1:
            raise ConfigError(f"toy_feature: width must be >= 1, got {width}")
        self.conv = nn.Conv2d(3, width, 3, 1, 1)
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            self.conv.weight.copy_(torch.randn(self.conv.weight.shape, generator=generator) * 0.3)
            self.conv.bias.zero_()
        self.conv.requires_grad_(False)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if pred.shape != target.shape:
            raise InputError(f"toy_feature: pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
        with torch.no_grad():
            target_feat = F.relu(self.conv(target))
        return F.l1_loss(F.relu(self.conv(pred)), target_feat)
