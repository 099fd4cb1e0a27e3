"""Exponential moving average of the generator (timm's ModelEmaV3), saved as safetensors in checkpoints."""

from __future__ import annotations

import inspect
from pathlib import Path

import torch
from timm.utils.model_ema import ModelEmaV3
from torch import nn

from srzoo.framework.files import atomic_write

_EMA_ARGS = inspect.signature(ModelEmaV3.__init__).parameters


class GeneratorEma:
    """EMA weights of a generator: `update(model, step)` once per optimizer step; `module` is the average.

    The decay is a function of the phase step only (warmup or not), so a resumed run applies exactly the
    updates an uninterrupted run would.
    """

    def __init__(self, model: nn.Module, decay: float, *, warmup: bool = False) -> None:
        # stochastic_rounding only matters for bf16 weights; fp32 EMA keeps it a plain lerp. Older timm
        # releases (< 1.0.16) have no such argument and always lerp, which is the same thing.
        extra = {"stochastic_rounding": False} if "stochastic_rounding" in _EMA_ARGS else {}
        self._ema = ModelEmaV3(model, decay=decay, use_warmup=warmup, **extra)
        self._ema.requires_grad_(False)

    @property
    def module(self) -> nn.Module:
        return self._ema.module

    def to(self, device: torch.device | str) -> GeneratorEma:
        self._ema.module.to(device)
        return self

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        """Blend `model` (the unwrapped generator) in; `step` counts optimizer steps from 1 in this phase."""
        self._ema.update(model, step=step)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().to("cpu").contiguous() for k, v in self._ema.module.state_dict().items()}

    def save(self, path: str | Path) -> None:
        from safetensors.torch import save_file

        with atomic_write(path) as tmp:
            save_file(self.state_dict(), str(tmp))

    def load(self, path: str | Path) -> None:
        from safetensors.torch import load_file

        state = load_file(str(path), device="cpu")
        self._ema.module.load_state_dict(state)
