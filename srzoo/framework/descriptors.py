"""Typed metadata an arch declares about itself: capabilities and pretrained weights (torchvision-style)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

StateDict = dict[str, torch.Tensor]


@dataclass(frozen=True)
class Capabilities:
    """What inference, bench and training may assume about an arch. Defaults fit a plain conv SR net."""

    scales: tuple[int, ...] | None = None  # None: any positive integer scale
    in_channels: int = 3
    out_channels: int = 3
    size_multiple: int | Mapping[int, int] = 1  # LR side multiple; a mapping gives it per scale
    min_size: int = 1  # smallest LR side the arch accepts; smaller inputs and tiles are padded up to it
    fp16: bool = True
    bf16: bool = True
    tiling: bool = True
    license: str = "unknown"

    def multiple_for(self, scale: int) -> int:
        """LR size multiple the arch needs at `scale`."""
        if isinstance(self.size_multiple, Mapping):
            return int(self.size_multiple.get(scale, 1))
        return int(self.size_multiple)


@dataclass(frozen=True)
class PretrainedWeights:
    """A published weights file: where it lives, how to verify it, and what it was trained for."""

    tag: str
    url: str
    sha256: str | None
    scale: int
    kwargs: Mapping[str, Any] = field(default_factory=dict)  # constructor kwargs (without scale)
    license: str = "unknown"
    description: str = ""
    # scores its authors published (e.g. {"set5_psnr_y": 32.73}); `srzoo list weights` shows them
    metrics: Mapping[str, float] = field(default_factory=dict)
    filename: str | None = None  # cache file name; default: last URL component

    @property
    def cache_name(self) -> str:
        return self.filename or self.url.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class ArchInfo:
    """Everything srzoo knows about an arch callable beyond calling it."""

    capabilities: Capabilities = Capabilities()
    pretrained: tuple[PretrainedWeights, ...] = ()
    # Maps foreign key layouts (older releases, other projects) onto the arch's own state-dict keys.
    convert_state_dict: Callable[[StateDict], StateDict] | None = None
    # Recovers constructor kwargs (including `scale`) from a state dict, so weights load without a recipe.
    infer_kwargs: Callable[[StateDict], dict[str, Any]] | None = None
    # "sr": image -> image upscaled by `scale`; "discriminator": image -> (N, 1) logits, built without a scale.
    role: str = "sr"
    # Small constructor kwargs that keep srzoo.testing's contract checks fast (e.g. fewer blocks).
    test_kwargs: Mapping[str, Any] = field(default_factory=dict)

    def weights_for(self, tag: str | None) -> PretrainedWeights:
        """The pretrained entry named `tag` (the first one when None)."""
        from srzoo.errors import UnknownNameError, WeightsError

        if not self.pretrained:
            raise WeightsError("this arch publishes no pretrained weights; pass a weights file instead")
        if tag is None:
            return self.pretrained[0]
        for entry in self.pretrained:
            if entry.tag == tag:
                return entry
        raise UnknownNameError("weights tag", tag, [p.tag for p in self.pretrained])


_ATTR = "__srzoo_arch__"


def describe_arch(
    *,
    capabilities: Capabilities | None = None,
    pretrained: tuple[PretrainedWeights, ...] = (),
    convert_state_dict: Callable[[StateDict], StateDict] | None = None,
    infer_kwargs: Callable[[StateDict], dict[str, Any]] | None = None,
    role: str = "sr",
    test_kwargs: Mapping[str, Any] | None = None,
) -> Callable[[Callable[..., torch.nn.Module]], Callable[..., torch.nn.Module]]:
    """Attach an ArchInfo to an arch class or factory; registration itself is the entry point.

    Tags must be unique within an arch (a duplicate is a programming error, raised at import).
    """
    tags = [p.tag for p in pretrained]
    duplicates = sorted({t for t in tags if tags.count(t) > 1})
    if duplicates:
        raise ValueError(f"duplicate pretrained tags: {duplicates}")
    if role not in ("sr", "discriminator"):
        raise ValueError(f"role must be 'sr' or 'discriminator', not {role!r}")
    info = ArchInfo(
        capabilities or Capabilities(),
        tuple(pretrained),
        convert_state_dict,
        infer_kwargs,
        role,
        dict(test_kwargs or {}),
    )

    def decorate(obj: Callable[..., torch.nn.Module]) -> Callable[..., torch.nn.Module]:
        setattr(obj, _ATTR, info)
        return obj

    return decorate


@dataclass(frozen=True)
class Detection:
    """A detector's answer (entry-point group `srzoo.detectors`): which registered arch a foreign state dict is.

    `state_dict` is already in that arch's own key layout, `kwargs` are its constructor arguments without
    `scale`, and `detected_by` says who decided and how (recorded on the loaded model's card and by the bench).
    """

    arch: str
    kwargs: Mapping[str, Any]
    scale: int
    state_dict: StateDict = field(repr=False)
    detected_by: str = ""


def arch_info(obj: Any) -> ArchInfo:
    """The ArchInfo attached by describe_arch, or defaults."""
    info = getattr(obj, _ATTR, None)
    return info if isinstance(info, ArchInfo) else ArchInfo()
