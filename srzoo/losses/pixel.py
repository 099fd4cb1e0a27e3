"""Pixel (content) losses: L1, L2/MSE and Charbonnier, mean-reduced over the batch."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class L1Loss(nn.Module):
    """Mean absolute error (the ESRGAN content loss)."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.l1_loss(pred, target)


class MSELoss(nn.Module):
    """Mean squared error."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(pred, target)


class CharbonnierLoss(nn.Module):
    """sqrt((x - y)^2 + eps^2): a smooth L1 used by many SR recipes."""

    def __init__(self, eps: float = 1e-3) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return torch.sqrt((pred - target) ** 2 + self.eps**2).mean()
