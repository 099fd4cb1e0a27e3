"""Network interpolation (ESRGAN's net_interpolation): theta = (1 - alpha) * theta_A + alpha * theta_B."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from srzoo.errors import ConfigError, WeightsError
from srzoo.framework.descriptors import StateDict
from srzoo.framework.weights import resolve_weights, save_weights
from srzoo.inference.cpu_kernels import CpuConv
from srzoo.inference.model import DTYPES, ModelCard, Precision, SRModel, build_from_weights
from srzoo.inference.precision import require as require_precision

__all__ = ["interpolate_models", "interpolate_state_dicts", "load_interpolated_model", "save_interpolation"]


def _check_alpha(alpha: float) -> float:
    alpha = float(alpha)
    if not 0.0 <= alpha <= 1.0:
        raise ConfigError(f"alpha {alpha} is outside [0, 1]; 0 gives the PSNR model, 1 the GAN model")
    return alpha


def interpolate_state_dicts(
    a: StateDict, b: StateDict, alpha: float, *, names: tuple[str, str] = ("A", "B")
) -> StateDict:
    """Blend every tensor; keys and shapes must match. alpha 0 and 1 return exact copies of A and B."""
    alpha = _check_alpha(alpha)
    only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    if only_a or only_b:
        parts = [
            f"only in {n}: {', '.join(k[:4])}{' …' if len(k) > 4 else ''}"
            for n, k in zip(names, (only_a, only_b))
            if k
        ]
        raise WeightsError(
            f"{names[0]} and {names[1]} have different keys ({'; '.join(parts)}); they are not the same arch"
        )
    out: StateDict = {}
    for key, ta in a.items():
        tb = b[key]
        if ta.shape != tb.shape:
            raise WeightsError(
                f"{key} is {tuple(ta.shape)} in {names[0]} but {tuple(tb.shape)} in {names[1]}; "
                "interpolation needs two weights of the same arch and size"
            )
        if not ta.is_floating_point():
            if not torch.equal(ta, tb):  # counters and indices cannot be blended
                raise WeightsError(f"non-float tensor {key} differs between {names[0]} and {names[1]}")
            out[key] = ta.clone()
        elif alpha == 0.0:
            out[key] = ta.clone()
        elif alpha == 1.0:
            out[key] = tb.to(ta.dtype).clone()
        else:
            # float64 arithmetic, rounded once, so the result does not depend on the inputs' order of ops
            out[key] = ((1 - alpha) * ta.double() + alpha * tb.double()).to(ta.dtype)
    return out


def _describe(card: ModelCard) -> str:
    return f"{card.arch} x{card.scale} {card.kwargs}"


def interpolate_models(
    psnr_model: str | os.PathLike, gan_model: str | os.PathLike, alpha: float, *, arch: str | None = None
) -> tuple[torch.nn.Module, ModelCard, dict[str, object]]:
    """Load both weights (file, run dir or tag), check they are one arch, and return the blended net + card.

    The third item records alpha and both sources, for metadata.
    """
    alpha = _check_alpha(alpha)
    wa, wb = resolve_weights(psnr_model), resolve_weights(gan_model)
    net_a, card_a = build_from_weights(wa, arch)
    try:
        net_b, card_b = build_from_weights(wb, arch)
    except WeightsError:
        if arch is not None:
            raise
        net_b, card_b = build_from_weights(wb, card_a.arch)  # a foreign file: read it as A's arch
    if (card_a.arch, card_a.scale, card_a.kwargs) != (card_b.arch, card_b.scale, card_b.kwargs):
        raise WeightsError(
            f"cannot interpolate {psnr_model} ({_describe(card_a)}) with {gan_model} ({_describe(card_b)}): "
            "both must be the same arch, scale and size"
        )
    sd = interpolate_state_dicts(
        net_a.state_dict(), net_b.state_dict(), alpha, names=(str(psnr_model), str(gan_model))
    )
    net_a.load_state_dict(sd)
    record: dict[str, object] = {
        "alpha": alpha,
        "psnr_model": str(psnr_model),
        "psnr_sha256": wa.sha256,
        "gan_model": str(gan_model),
        "gan_sha256": wb.sha256,
    }
    card = ModelCard(
        card_a.arch,
        dict(card_a.kwargs),
        card_a.scale,
        card_a.capabilities,
        source=f"interpolation({psnr_model}, {gan_model}, alpha={alpha:g})",
        extra={"interpolation": record},
    )
    return net_a, card, record


def save_interpolation(
    out: str | os.PathLike,
    psnr_model: str | os.PathLike,
    gan_model: str | os.PathLike,
    alpha: float,
    *,
    arch: str | None = None,
) -> Path:
    """Write the blend as srzoo safetensors; metadata `srzoo.extra` = {"interpolation": {alpha, sources}}."""
    net, card, record = interpolate_models(psnr_model, gan_model, alpha, arch=arch)
    return save_weights(
        out,
        net.state_dict(),
        arch=card.arch,
        kwargs=card.kwargs,
        scale=card.scale,
        extra={"interpolation": record},
    )


def load_interpolated_model(
    psnr_model: str | os.PathLike,
    gan_model: str | os.PathLike,
    alpha: float,
    *,
    arch: str | None = None,
    device: str | torch.device = "cpu",
    precision: Precision = "fp32",
    fast: bool = True,
    cpu_conv: CpuConv | None = None,
) -> SRModel:
    """The blend as an SRModel in memory (`srzoo infer --interpolate B --alpha X`), no file written."""
    if precision not in DTYPES:
        raise ConfigError(f"precision {precision!r} is not one of {', '.join(DTYPES)}")
    require_precision(precision, device)  # before the two weights files are read
    net, card, _ = interpolate_models(psnr_model, gan_model, alpha, arch=arch)
    caps = card.capabilities
    if (precision == "fp16" and not caps.fp16) or (precision == "bf16" and not caps.bf16):
        raise ConfigError(f"arch {card.arch!r} is not declared {precision}-safe; use --precision fp32")
    return SRModel(net, card, precision=precision, fast=fast, cpu_conv=cpu_conv).to(device)
