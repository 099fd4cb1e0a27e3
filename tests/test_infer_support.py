"""Helpers for the inference/interpolation/export tests: tiny weights files and throwaway test archs."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from srzoo.framework.build import build_arch
from srzoo.framework.descriptors import Capabilities, describe_arch
from srzoo.framework.registries import ARCHS
from srzoo.framework.weights import save_weights
from tests.toy import TOY_ARCH, TOY_TINY

TINY = TOY_TINY


def tiny_net(scale: int = 4, seed: int = 0, **overrides: int) -> nn.Module:
    """A 1-block toy_sr net whose output is input-dependent and mostly inside [0, 1] (not clamped flat)."""
    torch.manual_seed(seed)
    net = build_arch(TOY_ARCH, scale=scale, **{**TINY, **overrides})
    with torch.no_grad():
        # Default init shrinks the signal through the trunk; Kaiming keeps it, so seams would show.
        for name, mod in net.named_modules():
            if isinstance(mod, nn.Conv2d) and not name.startswith("body"):
                nn.init.kaiming_normal_(mod.weight, a=0.2)
                nn.init.zeros_(mod.bias)
        net.conv_last.weight.mul_(0.3)
        net.conv_last.bias.fill_(0.5)
    return net.eval()


def tiny_net_file(
    folder: Path, scale: int = 4, seed: int = 0, name: str | None = None, **overrides: int
) -> Path:
    """Save a tiny toy_sr net as srzoo safetensors (arch and kwargs recorded)."""
    net = tiny_net(scale, seed, **overrides)
    path = folder / (name or f"toy_x{scale}_s{seed}.safetensors")
    save_weights(path, net.state_dict(), arch=TOY_ARCH, kwargs={**TINY, **overrides}, scale=scale)
    return path


@describe_arch(capabilities=Capabilities(size_multiple={1: 4, 2: 2}, license="MIT"))
class ContextNet(nn.Module):
    """Throwaway third-party-like arch: `depth` 3x3 convs (context radius `depth` LR px) + pixel shuffle.

    `nan_fp16` poisons low-precision outputs (to test the fp32 redo); `oom_above` raises CUDA-style
    out-of-memory for inputs wider than that (to test tile halving).
    """

    def __init__(self, scale: int = 2, depth: int = 6, nan_fp16: bool = False, oom_above: int = 0) -> None:
        super().__init__()
        self.scale, self.nan_fp16, self.oom_above = scale, nan_fp16, oom_above
        self.head = nn.Conv2d(3, 8, 3, 1, 1)
        self.body = nn.Sequential(*(nn.Conv2d(8, 8, 3, 1, 1) for _ in range(depth - 1)))
        self.tail = nn.Conv2d(8, 3 * scale * scale, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.oom_above and x.shape[-1] > self.oom_above:
            raise torch.OutOfMemoryError(f"CUDA out of memory (test: width {x.shape[-1]} > {self.oom_above})")
        feat = torch.tanh(self.head(x))
        for conv in self.body:
            feat = torch.tanh(conv(feat) * 2)
        y = F.interpolate(x, scale_factor=self.scale, mode="nearest") + 0.2 * F.pixel_shuffle(
            torch.tanh(self.tail(feat)), self.scale
        )
        if self.nan_fp16 and y.dtype in (torch.float16, torch.bfloat16):
            y = y * float("nan")
        return y


class NearestNet(nn.Module):
    """Throwaway arch that costs almost nothing per pixel: a 1x1 colour mix then nearest upsampling."""

    def __init__(self, scale: int = 4) -> None:
        super().__init__()
        self.scale = scale
        self.mix = nn.Conv2d(3, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self.mix(x), scale_factor=self.scale, mode="nearest")


@contextlib.contextmanager
def registered(name: str, factory: object) -> Iterator[str]:
    """Register an arch for the duration of a block (the registry is process-global)."""
    ARCHS.register(name, factory)
    try:
        yield name
    finally:
        ARCHS.unregister(name)


def context_net_file(
    folder: Path,
    arch: str,
    scale: int = 2,
    seed: int = 0,
    cls: type[nn.Module] = ContextNet,
    **kwargs: object,
) -> Path:
    torch.manual_seed(seed)
    net = cls(scale=scale, **kwargs)
    path = folder / f"{arch}_x{scale}_s{seed}.safetensors"
    save_weights(path, net.state_dict(), arch=arch, kwargs=dict(kwargs), scale=scale)
    return path


def smooth_rgb(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A uint8 image with texture at several scales (compresses fast, exercises every tile)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    planes = [
        0.5 + 0.3 * np.sin(xx / (5 + 3 * c) + yy / (7 + c)) + 0.15 * rng.standard_normal((h, w))
        for c in range(3)
    ]
    return (np.clip(np.stack(planes, axis=2), 0, 1) * 255).round().astype(np.uint8)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
