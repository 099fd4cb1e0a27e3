"""Image-to-image forwards for the nets spandrel calls through a wrapper (its descriptor's `call_fn`).

srzoo runs `net(image)`; these subclasses give the spandrel class that contract without changing its state-dict
keys, so the weights stay loadable by spandrel itself.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import torch
from torch import nn

NOISE_LEVEL = 15 / 255  # DRUNet / FDnCNN: the noise level spandrel (and KAIR's test scripts) feed by default


def _noise_map(base: Callable[..., torch.Tensor], self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    sigma = torch.full_like(x[:, :1], NOISE_LEVEL)
    return base(self, torch.cat([x, sigma], dim=1))


def _noise_map_fdncnn(base: Callable[..., torch.Tensor], self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    # plain DnCNN takes the image alone; only the FDnCNN variant has the extra noise-level channel
    return _noise_map(base, self, x) if getattr(self, "mode", "DnCNN") == "FDnCNN" else base(self, x)


def _first(base: Callable[..., torch.Tensor], self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    # FBCNN returns (image, predicted quality), MMRealSR (image, degradation scores): keep the image
    return base(self, x)[0]


def _copy_input(base: Callable[..., torch.Tensor], self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    # RCAN scales its input in place (`x *= rgb_range`): that would corrupt the caller's image or tile
    return base(self, x.clone())


def _per_image(base: Callable[..., torch.Tensor], self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    # SeemoRe's eval-mode mixture of experts routes with `topk_experts.squeeze(0)`, which only holds for one image:
    # a batch (several images, or several tiles) runs image by image; training mode mixes all experts batched
    if self.training or x.shape[0] == 1:
        return base(self, x)
    return torch.cat([base(self, x[i : i + 1]) for i in range(x.shape[0])])


WRAPPERS: dict[str, Callable[..., torch.Tensor]] = {
    "noise_map": _noise_map,
    "noise_map_fdncnn": _noise_map_fdncnn,
    "first": _first,
    "copy_input": _copy_input,
    "per_image": _per_image,
}


@cache
def with_forward(cls: type[nn.Module], wrapper: str) -> type[nn.Module]:
    """A subclass of `cls` whose forward(x) is `WRAPPERS[wrapper]` around cls.forward."""
    call = WRAPPERS[wrapper]
    base = cls.forward

    def forward(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return call(base, self, x)

    return type(cls.__name__, (cls,), {"forward": forward, "__module__": __name__, "__doc__": cls.__doc__})
