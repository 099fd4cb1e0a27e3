"""Tiny RRDBNet weights for the plugin's tests: input-dependent outputs mostly inside [0, 1]."""

from __future__ import annotations

from pathlib import Path

import torch
from srzoo_esrgan.rrdbnet import RRDBNet
from torch import nn

TINY = {"num_feat": 8, "num_grow": 4, "num_blocks": 1}


def tiny_rrdbnet(scale: int = 4, seed: int = 0, **overrides: int) -> nn.Module:
    """A 1-block RRDBNet whose output is input-dependent and mostly inside [0, 1] (not clamped flat)."""
    torch.manual_seed(seed)
    net = RRDBNet(scale=scale, **{**TINY, **overrides})
    with torch.no_grad():
        # Default init shrinks the signal through the trunk; Kaiming keeps it, so seams would show.
        for name, mod in net.named_modules():
            if isinstance(mod, nn.Conv2d) and not name.startswith("body"):
                nn.init.kaiming_normal_(mod.weight, a=0.2)
                nn.init.zeros_(mod.bias)
        net.conv_last.weight.mul_(0.3)
        net.conv_last.bias.fill_(0.5)
    return net.eval()


def tiny_rrdbnet_file(folder: Path, scale: int = 4, seed: int = 0, **overrides: int) -> Path:
    """A tiny RRDBNet saved as a BasicSR .pth ({"params": state dict}); srzoo infers arch and settings."""
    path = folder / f"rrdb_x{scale}_s{seed}.pth"
    torch.save({"params": tiny_rrdbnet(scale, seed, **overrides).state_dict()}, path)
    return path
