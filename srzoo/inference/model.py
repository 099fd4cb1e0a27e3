"""Inference-ready models: `load_model` resolves weights to an arch and wraps it in SRModel (bench/infer use it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from srzoo.errors import ConfigError, WeightsError
from srzoo.framework.build import build_arch, to_channels_last
from srzoo.framework.descriptors import Capabilities, Detection, StateDict
from srzoo.framework.registries import ARCHS, arch_info
from srzoo.framework.weights import WeightsFile, resolve_weights
from srzoo.inference.cpu_kernels import CpuConv
from srzoo.inference.cpu_kernels import check_choice as check_cpu_conv
from srzoo.inference.detect import detect
from srzoo.inference.fastpath import fuse_for_inference
from srzoo.inference.kernel_choice import resolve as resolve_cpu_conv
from srzoo.inference.precision import require as require_precision

Precision = Literal["fp32", "fp16", "bf16"]
DTYPES: dict[str, torch.dtype] = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
INFERRED = "infer_kwargs of"  # how a card's detected_by starts when an arch's own infer_kwargs read the file


@dataclass
class ModelCard:
    """What an SRModel is: arch, constructor kwargs, scale, capabilities and the weights it came from."""

    arch: str
    kwargs: dict[str, Any]
    scale: int
    capabilities: Capabilities
    source: str = ""
    weights_sha256: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # how the arch was identified: "srzoo metadata", a zoo tag, an arch's infer_kwargs or a plugin's detector
    detected_by: str = ""


class SRModel(nn.Module):
    """Wraps an arch for inference: float32 [0, 1] NCHW in, float32 [0, 1] out, precision and layout inside."""

    def __init__(
        self,
        net: nn.Module,
        card: ModelCard,
        *,
        precision: Precision = "fp32",
        fast: bool = True,
        cpu_conv: CpuConv | None = None,
    ):
        super().__init__()
        self.net = net.eval().requires_grad_(False)
        self.card = card
        self.precision = precision
        self.dtype = DTYPES[precision]
        # channels_last lets oneDNN / cuDNN pick their fastest conv kernels, and on CPU conv + activation /
        # residual add run as one oneDNN kernel (srzoo.inference.fastpath); fp32 on CPU may instead keep NCHW for
        # NNPACK's Winograd convs (opt-in, srzoo.inference.cpu_kernels; None = $SRZOO_CPU_CONV). Opt out with fast=False.
        self.fast = fast
        self.cpu_conv = None if cpu_conv is None else check_cpu_conv(cpu_conv)
        self.net.to(dtype=self.dtype)
        if fast:
            to_channels_last(self.net)
            self.net = fuse_for_inference(self.net)

    @property
    def scale(self) -> int:
        return self.card.scale

    @property
    def device(self) -> torch.device:
        return next(iter(self.net.parameters()), torch.empty(0)).device

    def conv_kernel(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> str:
        """What runs the convs on `device` (default the model's): nnpack, onednn, or the device's own."""
        device = torch.device(device) if device is not None else self.device
        if device.type != "cpu":
            return device.type
        if not self.fast:
            return "onednn (unfused)"
        return resolve_cpu_conv(self.cpu_conv) if (dtype or self.dtype) == torch.float32 else "onednn"

    def prepare(self, x: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
        """`x` in `dtype` (default the model's) and in the memory layout its conv kernels want."""
        dtype = dtype or self.dtype
        x = x.to(dtype=dtype)
        if not self.fast:
            return x
        if self.conv_kernel(x.device, dtype) == "nnpack":
            return x.contiguous()
        return x.contiguous(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.prepare(x)
        with torch.inference_mode():
            return self.net(x).float().clamp_(0, 1).contiguous()


def _resolve_arch(weights: WeightsFile, arch: str | None) -> Detection:
    """Decide arch, kwargs and scale for a weights file; convert its keys to the arch's layout.

    In order: the zoo tag, srzoo's own metadata, each registered arch's `infer_kwargs` (only `arch`'s when given),
    then the plugins' detectors (srzoo.inference.detect). `detected_by` says which of them decided.
    """
    if weights.pretrained is not None and weights.arch is not None:
        entry = weights.pretrained
        info = arch_info(ARCHS.get(weights.arch))
        sd = info.convert_state_dict(weights.state_dict) if info.convert_state_dict else weights.state_dict
        return Detection(
            weights.arch, dict(entry.kwargs), entry.scale, sd, f"zoo tag {weights.arch}.{entry.tag}"
        )
    where = weights.path or "weights"
    meta = weights.srzoo_meta
    if "arch" in meta and (arch is None or arch == meta["arch"]):
        kwargs, scale = dict(meta.get("kwargs", {})), int(meta["scale"])
        return Detection(meta["arch"], kwargs, scale, weights.state_dict, "srzoo metadata")
    if "arch" in meta:
        raise WeightsError(
            f"{where} holds weights of arch {meta['arch']!r}, not {arch!r}; drop --arch or pass --arch {meta['arch']}"
        )
    if arch is not None:
        ARCHS.get(arch)  # an unknown --arch is a did-you-mean, not "cannot tell"
    errors: list[str] = []
    for name in [arch] if arch else ARCHS.names():
        try:
            info = arch_info(ARCHS.get(name))
        except Exception:  # broken plugins are reported by `srzoo list plugins`, not here
            continue
        if info.infer_kwargs is None:
            continue  # a detector may still know this arch's files
        try:
            sd = (
                info.convert_state_dict(weights.state_dict) if info.convert_state_dict else weights.state_dict
            )
            kwargs = dict(info.infer_kwargs(sd))
        except Exception as exc:  # not this arch's layout: try the next one
            errors.append(f"{name}: {exc}")
            continue
        scale = int(kwargs.pop("scale"))
        return Detection(name, kwargs, scale, sd, f"{INFERRED} {name!r} ({ARCHS.entry(name).dist})")
    # Only files no srzoo arch claims reach the detectors: an arch's own reading of its files comes first.
    detector_errors: list[str] = []
    found = detect(weights.state_dict, detector_errors)
    if found is not None and arch in (None, found.arch):
        return found
    if found is not None:
        raise WeightsError(
            f"{where} holds weights of arch {found.arch!r} ({found.detected_by}), not {arch!r}; "
            f"drop --arch or pass --arch {found.arch}"
        )
    # each arch's and each detector's reason, shortened so that the detectors' are never crowded out
    reasons = ["; ".join(errors)[:240], *(e[:160] for e in detector_errors)]
    detail = f" ({'; '.join(r for r in reasons if r)})" if errors or detector_errors else ""
    if arch is not None and arch_info(ARCHS.get(arch)).infer_kwargs is None:
        raise WeightsError(
            f"arch {arch!r} cannot infer its settings from weights and no detector recognises {where}{detail}; "
            "use weights exported by srzoo"
        )
    raise WeightsError(f"cannot tell which arch {where} belongs to{detail}; pass --arch NAME")


def _key(name: str) -> str:
    # Keys come from the file: a newline or an empty name must not break the one-line message or vanish from it.
    return name if name and name.isprintable() else repr(name)


@dataclass(frozen=True)
class StateFit:
    """How a state dict fits a net: the tensors that fit, and each kind of misfit as one-line items."""

    fits: dict[str, torch.Tensor]  # same name and shape, and floating point where the net's is
    missing: list[str]  # the net's keys the file lacks
    unexpected: list[str]  # the file's keys the net lacks
    shapes: list[str]  # "key (file shape) vs (net shape)"
    dtypes: list[str]  # "key dtype": an integer or bool tensor where the net has a float one

    def problems(self) -> str:
        """'; '-joined counts and first items of each misfit ('' when everything fits)."""
        parts = []
        labels = ("missing", "unexpected", "shape mismatch", "not floating point")
        for label, items in zip(labels, (self.missing, self.unexpected, self.shapes, self.dtypes)):
            if items:
                parts.append(f"{label} {len(items)}: {first_items(items)}")
        return "; ".join(parts)


def first_items(items: list[str], n: int = 4) -> str:
    """The first `n` items, comma-separated, with '…' when there are more (one-line messages)."""
    return f"{', '.join(items[:n])}{' …' if len(items) > n else ''}"


def state_fit(net: nn.Module, sd: StateDict) -> StateFit:
    """Compare `sd` with `net`'s own state dict by name, shape and floating-point-ness."""
    own = net.state_dict()
    shapes = [
        f"{k} {tuple(sd[k].shape)} vs {tuple(v.shape)}"
        for k, v in own.items()
        if k in sd and sd[k].shape != v.shape
    ]
    # An integer or bool tensor where the net has a float one is not a weight cast away by an export.
    dtypes = [
        f"{k} {sd[k].dtype}"
        for k, v in own.items()
        if k in sd and sd[k].shape == v.shape and v.is_floating_point() and not sd[k].is_floating_point()
    ]
    fits = {
        k: v
        for k, v in sd.items()
        if k in own and v.shape == own[k].shape and (v.is_floating_point() or not own[k].is_floating_point())
    }
    return StateFit(
        fits=fits,
        missing=[k for k in own if k not in sd],
        unexpected=[_key(k) for k in sd if k not in own],
        shapes=shapes,
        dtypes=dtypes,
    )


def load_into(net: nn.Module, sd: StateDict, what: str) -> None:
    """load_state_dict(strict) with a one-line report of missing/unexpected keys and shape mismatches."""
    problems = state_fit(net, sd).problems()
    if problems:
        raise WeightsError(f"weights do not fit {what}: {problems}")
    own = net.state_dict()
    net.load_state_dict({k: v.to(own[k].dtype) for k, v in sd.items()})


def _build(found: Detection) -> nn.Module:
    net = build_arch(found.arch, scale=found.scale, **found.kwargs)
    load_into(net, found.state_dict, f"arch {found.arch!r} x{found.scale} {dict(found.kwargs)}")
    return net


def build_from_weights(weights: WeightsFile, arch: str | None = None) -> tuple[nn.Module, ModelCard]:
    """An arch instance holding `weights`, plus its card."""
    found = _resolve_arch(weights, arch)
    try:
        net = _build(found)
    except WeightsError:
        if not found.detected_by.startswith(INFERRED):
            raise
        # An arch's infer_kwargs claimed a file its arch cannot hold (a variant with extra modules, say):
        # a detector may know that variant. Without one, the misfit is the clearest error to show.
        other = detect(weights.state_dict, [])
        if other is None or arch not in (None, other.arch):
            raise
        found, net = other, _build(other)
    name, kwargs, scale = found.arch, dict(found.kwargs), found.scale
    info = arch_info(ARCHS.get(name))
    source = str(weights.path or "")
    card = ModelCard(
        name, kwargs, scale, info.capabilities, source, weights.sha256, detected_by=found.detected_by
    )
    return net, card


def load_model(
    weights_or_tag: str | Path | None,
    arch: str | None = None,
    *,
    device: str | torch.device = "cpu",
    precision: Precision = "fp32",
    scale: int | None = None,
    fast: bool = True,
    cpu_conv: CpuConv | None = None,
) -> SRModel:
    """The model `srzoo infer` and `srzoo bench` run: weights file, run dir or zoo tag → SRModel on `device`.

    A parameter-free arch (e.g. `bicubic`) needs no weights: `load_model(None, arch="bicubic", scale=4)`.
    A `precision` the device does not run natively (bf16 on an AVX2 CPU) raises PrecisionError first
    (srzoo.inference.precision).
    `fast=False` runs the arch's plain ops; `cpu_conv` picks the fp32 CPU conv kernel (see srzoo.inference.cpu_kernels).
    """
    if precision not in DTYPES:
        raise ConfigError(f"precision {precision!r} is not one of {', '.join(DTYPES)}")
    # before any weights are read: a precision the device only emulates is refused here, not per image
    require_precision(precision, device)
    if weights_or_tag is None:
        if arch is None:
            raise ConfigError("load_model needs weights or a parameter-free arch")
        scale = 4 if scale is None else scale  # 0 is a scale to refuse, not "not given"
        net = build_arch(arch, scale=scale)
        if any(True for _ in net.parameters()):
            raise WeightsError(
                f"arch {arch!r} has parameters: give weights (a file, run directory or zoo tag)"
            )
        card = ModelCard(arch, {}, scale, arch_info(ARCHS.get(arch)).capabilities, source="(no weights)")
    else:
        net, card = build_from_weights(resolve_weights(weights_or_tag), arch)
        if scale is not None and scale != card.scale:
            raise ConfigError(f"weights {weights_or_tag} are x{card.scale}, not x{scale}")
    caps = card.capabilities
    if (precision == "fp16" and not caps.fp16) or (precision == "bf16" and not caps.bf16):
        raise ConfigError(f"arch {card.arch!r} is not declared {precision}-safe; use --precision fp32")
    return SRModel(net, card, precision=precision, fast=fast, cpu_conv=cpu_conv).to(device)


def resolve_device(name: str) -> str:
    """'auto' → cuda, else mps, else cpu; an explicit CUDA device that is not there is a one-line error."""
    if name != "auto":
        if name.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError(f"--device {name}: CUDA is not available here; use --device cpu")
        return name
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    return "mps" if mps is not None and mps.is_available() else "cpu"
