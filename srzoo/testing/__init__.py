"""Contract checks a plugin's test suite runs on its own archs and degradations (core runs the arch checks over
every registered arch)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from srzoo.framework.build import build_arch, build_discriminator
from srzoo.framework.registries import ARCHS, arch_info

DEFAULT_SCALES = (2, 3, 4)  # checked for archs that accept any scale


def _sizes(multiple: int, base: int, minimum: int = 1) -> tuple[int, int]:
    """A non-square LR size that respects the arch's size multiple and minimum (catches transposed H/W bugs)."""
    from srzoo.inference.tiling import padded_side

    h = padded_side(base, multiple, minimum)
    return h, h + multiple


def check_sr_arch(
    name: str,
    *,
    scales: Iterable[int] | None = None,
    kwargs: Mapping[str, Any] | None = None,
    lr_size: int = 12,
    batch: int = 2,
) -> None:
    """Assert the SR arch contract at every scale: shape, finiteness, gradients, state-dict round trip."""
    info = arch_info(ARCHS.get(name))
    caps = info.capabilities
    kwargs = dict(info.test_kwargs if kwargs is None else kwargs)
    for scale in scales or caps.scales or DEFAULT_SCALES:
        torch.manual_seed(0)
        model = build_arch(name, scale=scale, **kwargs)
        h, w = _sizes(caps.multiple_for(scale), lr_size, caps.min_size)
        x = torch.rand(batch, caps.in_channels, h, w)
        y = model(x)
        expected = (batch, caps.out_channels, h * scale, w * scale)
        assert tuple(y.shape) == expected, f"{name} x{scale}: output {tuple(y.shape)}, expected {expected}"
        assert torch.isfinite(y).all(), f"{name} x{scale}: non-finite output"
        _check_gradients(model, y, f"{name} x{scale}")
        model.eval()  # train-mode randomness (dropout, stochastic depth) is not part of the state dict
        _check_round_trip(model, build_arch(name, scale=scale, **kwargs).eval(), x, f"{name} x{scale}")


def check_discriminator(
    name: str, *, input_sizes: Iterable[int] = (128,), kwargs: Mapping[str, Any] | None = None, batch: int = 2
) -> None:
    """Assert a discriminator maps (N, C, s, s) to finite logits, with gradients, for each size: (N, 1) for an
    image-level D, or (N, 1, s, s) for a per-pixel one (e.g. a U-Net D; GAN losses average over the map)."""
    info = arch_info(ARCHS.get(name))
    base = dict(info.test_kwargs if kwargs is None else kwargs)
    for size in input_sizes:
        torch.manual_seed(0)
        args = {**base, "input_size": size} if "input_size" in base or not base else base
        model = build_discriminator(name, **args)
        x = torch.rand(batch, info.capabilities.in_channels, size, size)
        y = model(x)
        assert tuple(y.shape) in ((batch, 1), (batch, 1, size, size)), (
            f"{name} at {size}: output {tuple(y.shape)}, expected ({batch}, 1) or ({batch}, 1, {size}, {size})"
        )
        assert torch.isfinite(y).all(), f"{name} at {size}: non-finite logits"
        _check_gradients(model, y, f"{name} at {size}")
        model.eval()
        _check_round_trip(model, build_discriminator(name, **args).eval(), x, f"{name} at {size}")


def check_arch(name: str, **options: Any) -> None:
    """Run the contract that fits the arch's declared role."""
    if arch_info(ARCHS.get(name)).role == "discriminator":
        check_discriminator(name, **options)
    else:
        check_sr_arch(name, **options)


def check_degradation(
    name: str, *, scale: int = 4, hr_size: int = 64, batch: int = 2, kwargs: Mapping[str, Any] | None = None
) -> None:
    """Assert the degradation contract (docs/plugins.md) on a few micro-batches of random HR patches: the result
    holds an `lr` in [0, 1] at 1/scale of its `hr`; two instances given the same generators make the same
    batches (randomness only from the generator); a saved state restores the next batch exactly. A hook that
    reads pairs gets a box-downscaled `lr` beside the `hr`."""
    import torch.nn.functional as F

    from srzoo.framework.build import build_degradation, reads_pairs
    from srzoo.train.data import degrade_batch

    hr = torch.rand(batch, 3, hr_size, hr_size, generator=torch.Generator().manual_seed(0))

    def build() -> Any:
        return build_degradation(name, scale, **dict(kwargs or {}))

    def run(fn: Any, micro: int) -> dict[str, torch.Tensor]:
        given = {"hr": hr.clone(), "index": torch.arange(micro * batch, (micro + 1) * batch)}
        if reads_pairs(fn):
            given["lr"] = F.avg_pool2d(hr, scale)
        return degrade_batch(fn, given, seed=0, rank=0, micro_batch=micro)

    a, b = build(), build()
    for micro in range(3):
        x, y = run(a, micro), run(b, micro)
        lr, out_hr = x["lr"], x["hr"]
        assert lr.ndim == 4 and lr.shape[0] == batch and lr.is_floating_point(), (
            f"{name}: lr {tuple(lr.shape)}"
        )
        assert out_hr.shape[-2:] == (lr.shape[-2] * scale, lr.shape[-1] * scale), (
            f"{name}: hr {tuple(out_hr.shape)} is not x{scale} of lr {tuple(lr.shape)}"
        )
        assert torch.isfinite(lr).all() and float(lr.min()) >= 0 and float(lr.max()) <= 1, (
            f"{name}: lr outside [0, 1]"
        )
        assert x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x), (
            f"{name}: micro-batch {micro} differs between two instances given the same generator; "
            "draw only from the generator"
        )
    if hasattr(a, "state_dict"):
        state = a.state_dict()
        assert all(isinstance(v, torch.Tensor) for v in state.values()), (
            f"{name}: state_dict holds non-tensors"
        )
        restored = build()
        restored.load_state_dict({k: v.clone() for k, v in state.items()})
        x, y = run(a, 3), run(restored, 3)
        assert all(torch.equal(x[k], y[k]) for k in x), f"{name}: a restored state makes another next batch"


def _check_gradients(model: nn.Module, y: torch.Tensor, what: str) -> None:
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not params:
        return
    model.zero_grad()
    (y.float() ** 2).mean().backward()
    dead = [n for n, p in params if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not dead, f"{what}: no finite gradient reaches {dead[:5]}"


def _check_round_trip(model: nn.Module, fresh: nn.Module, x: torch.Tensor, what: str) -> None:
    fresh.load_state_dict(model.state_dict())
    with torch.no_grad():
        a, b = model(x), fresh(x)
    assert torch.equal(a, b), f"{what}: outputs differ after a state-dict round trip"


def shared_root() -> Path:
    """The `../shared` folder beside the checkout (or $SRZOO_SHARED)."""
    here = Path(__file__).resolve().parents[2]  # the checkout (srzoo/testing/__init__.py)
    return Path(os.environ.get("SRZOO_SHARED", here.parent / "shared"))


def shared_datasets() -> Path:
    """Where tests find the benchmark datasets: $SRZOO_DATA, else ../shared/datasets."""
    return Path(os.environ.get("SRZOO_DATA", shared_root() / "datasets")).resolve()
