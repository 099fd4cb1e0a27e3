"""The one place where registered names become objects: archs, losses, optimizers, schedulers, phases."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from srzoo.errors import ConfigError, did_you_mean
from srzoo.framework.registries import ARCHS, DEGRADATIONS, LOSSES, PHASES, arch_info
from srzoo.recipes.schema import OptimizerSpec, PhaseSpec, Recipe, SchedulerSpec


def check_kwargs(fn: Callable[..., Any], kwargs: dict[str, Any], what: str) -> None:
    """Reject keyword arguments `fn` does not accept, with a did-you-mean, before calling it."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins without signatures: let the call itself complain
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    accepted = [n for n, p in params.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
    for key in kwargs:
        if key not in accepted:
            raise ConfigError(
                f"unknown argument {key!r} for {what}{did_you_mean(key, accepted)} (accepted: {', '.join(accepted)})"
            )


def _call(fn: Callable[..., Any], kwargs: dict[str, Any], what: str) -> Any:
    check_kwargs(fn, kwargs, what)
    try:
        return fn(**kwargs)
    # torch's own argument checks (e.g. a negative size) raise RuntimeError
    except (TypeError, ValueError, RuntimeError) as exc:
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise ConfigError(f"cannot build {what} with {kwargs}: {reason}") from None


def build_arch(name: str, scale: int = 4, **kwargs: Any) -> nn.Module:
    """Instantiate a registered arch: the arch contract is `callable(**kwargs, scale=scale) -> nn.Module`."""
    factory = ARCHS.get(name)
    scales = arch_info(factory).capabilities.scales
    if scales is not None and scale not in scales:
        raise ConfigError(f"arch {name!r} supports scales {list(scales)}, not x{scale}")
    if "scale" in kwargs:
        raise ConfigError(f"arch {name!r}: give the scale once, as the recipe's `scale`, not in its kwargs")
    model = _call(factory, {**kwargs, "scale": scale}, f"arch {name!r}")
    if not isinstance(model, nn.Module):
        raise ConfigError(f"arch {name!r} returned {type(model).__name__}, not a torch.nn.Module")
    return model


def build_discriminator(name: str, **kwargs: Any) -> nn.Module:
    """Discriminators are archs without a scale (they map images to logits)."""
    factory = ARCHS.get(name)
    return _call(factory, kwargs, f"arch {name!r}")


def build_loss(name: str, **kwargs: Any) -> nn.Module:
    """Instantiate a registered loss module."""
    return _call(LOSSES.get(name), kwargs, f"loss {name!r}")


def build_degradation(name: str, scale: int, **kwargs: Any) -> Any:
    """A registered degradation: `factory(scale=scale, **kwargs)` returns `fn(batch, generator) -> batch`.

    `batch` holds "hr" (N, C, H, W) on the training device; the result holds "lr" and "hr" and may add targets
    (docs/plugins.md, "The degradation contract"). Unknown kwargs fail here, with a did-you-mean.
    """
    if "scale" in kwargs:
        raise ConfigError(f"degradation {name!r}: the scale is the recipe's `scale`, not a kwarg")
    fn = _call(DEGRADATIONS.get(name), {**kwargs, "scale": scale}, f"degradation {name!r}")
    if not callable(fn):
        raise ConfigError(f"degradation {name!r} returned {type(fn).__name__}, which is not callable")
    return fn


def reads_pairs(degradation: Any) -> bool:
    """Whether a built degradation declares `reads_pairs = True`: it takes the dataset's LR/HR pairs as they come
    and adds targets or alters them, rather than making the LR from the HR (docs/plugins.md)."""
    return bool(getattr(degradation, "reads_pairs", False))


def build_optimizer(
    spec: OptimizerSpec, params: Iterable[nn.Parameter], *, fused: bool = False
) -> torch.optim.Optimizer:
    """`fused`: Adam/AdamW's fused kernel, SGD's multi-tensor one (compiled CUDA steps); else torch's default."""
    params = [p for p in params if p.requires_grad]
    if spec.name == "sgd":
        kernel = {"foreach": True} if fused else {}
        return torch.optim.SGD(
            params, lr=spec.lr, momentum=spec.momentum, weight_decay=spec.weight_decay, **kernel
        )
    cls = torch.optim.AdamW if spec.name == "adamw" else torch.optim.Adam
    kernel = {"fused": True} if fused else {}
    return cls(params, lr=spec.lr, betas=spec.betas, weight_decay=spec.weight_decay, **kernel)


def build_scheduler(
    spec: SchedulerSpec, optimizer: torch.optim.Optimizer, total_iters: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """Iteration-based schedulers (stepped once per optimizer step)."""
    sched = torch.optim.lr_scheduler
    if spec.name == "multistep":
        return sched.MultiStepLR(optimizer, milestones=sorted(spec.milestones), gamma=spec.gamma)
    if spec.name == "step":
        if spec.step_size <= 0:
            raise ConfigError("scheduler 'step' needs step_size > 0")
        return sched.StepLR(optimizer, step_size=spec.step_size, gamma=spec.gamma)
    if spec.name == "cosine":
        return sched.CosineAnnealingLR(optimizer, T_max=max(total_iters, 1), eta_min=spec.eta_min)
    return sched.LambdaLR(optimizer, lambda _: 1.0)


def build_phase(spec: PhaseSpec, recipe: Recipe, generator: nn.Module) -> Any:
    """A training phase from the `srzoo.phases` registry: `cls(spec, recipe, generator)` (see docs)."""
    return PHASES.get(spec.type)(spec, recipe, generator)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def to_channels_last(module: nn.Module) -> nn.Module:
    """`module`'s 4-D parameters and buffers in channels_last, in place (optimizers keep their tensors).

    `nn.Module.to(memory_format=channels_last)` fails on a 5-D tensor (FFTformer keeps its FFT filters 5-D);
    those, and every tensor that is not 4-D, stay as they are.
    """
    with torch.no_grad():
        for tensor in [*module.parameters(), *module.buffers()]:
            if tensor.dim() == 4:
                tensor.data = tensor.data.contiguous(memory_format=torch.channels_last)
    return module
