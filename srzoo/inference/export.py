"""Export models for other tools: ONNX (dynamic size, checked in onnxruntime), safetensors, BasicSR .pth."""

from __future__ import annotations

import copy
import json
import math
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from srzoo.errors import ConfigError, InputError, WeightsError
from srzoo.framework.files import atomic_write
from srzoo.framework.weights import save_basicsr, save_weights
from srzoo.inference.model import SRModel

__all__ = ["EXPORT_FORMATS", "ONNX_TOLERANCE", "ExportReport", "export_model", "export_onnx"]

EXPORT_FORMATS = ("onnx", "safetensors", "basicsr")
ONNX_TOLERANCE = 1e-4  # max abs difference to PyTorch on a [0, 1] image, checked at export time
Exporter = Literal["dynamo", "torchscript"]


@dataclass
class ExportReport:
    """What was written; for ONNX, how far onnxruntime's output is from PyTorch's and at which input shape."""

    path: Path
    format: str
    seconds: float
    max_abs_diff: float | None = None
    checked_shape: tuple[int, ...] | None = None
    exporter: str | None = None

    def summary(self) -> str:
        line = f"wrote {self.path} ({self.format}, {self.seconds:.1f} s)"
        if self.max_abs_diff is not None:
            shape = "x".join(map(str, self.checked_shape or ()))
            line += f"; onnxruntime vs PyTorch at {shape}: max abs diff {self.max_abs_diff:.2e}"
            line += f" ({self.exporter} exporter)"
        return line


class _Clamped(nn.Module):
    """The graph users run: the net, then srzoo's clamp to [0, 1] (so outputs match `srzoo infer`)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).clamp(0, 1)


def _round_up(value: int, multiple: int) -> int:
    return multiple * math.ceil(value / multiple)


def _torch_export(
    wrapper: nn.Module, sample: torch.Tensor, path: Path, multiple: int, exporter: str, opset: int | None
) -> None:
    names = {"input_names": ["input"], "output_names": ["output"]}
    if exporter == "dynamo":
        dim = torch.export.Dim
        height, width = dim("height", min=1, max=16384), dim("width", min=1, max=16384)
        h, w = (multiple * height, multiple * width) if multiple > 1 else (height, width)
        shapes = {"x": {0: dim("batch", min=1, max=1024), 2: h, 3: w}}
        torch.onnx.export(
            wrapper,
            (sample,),
            str(path),
            dynamo=True,
            dynamic_shapes=shapes,
            opset_version=opset,
            verbose=False,
            **names,
        )
    else:
        axes = {
            "input": {0: "batch", 2: "height", 3: "width"},
            "output": {0: "batch", 2: "out_height", 3: "out_width"},
        }
        torch.onnx.export(
            wrapper, (sample,), str(path), dynamo=False, dynamic_axes=axes, opset_version=opset or 17, **names
        )


def _annotate(path: Path, model: SRModel, multiple: int) -> None:
    """Record what a caller needs (scale, size multiple, arch) in the ONNX file's metadata_props."""
    import onnx

    proto = onnx.load(str(path))
    card = model.card
    props = {
        "srzoo.arch": card.arch,
        "srzoo.scale": str(card.scale),
        "srzoo.kwargs": json.dumps(card.kwargs, sort_keys=True),
        "srzoo.size_multiple": str(multiple),
        "srzoo.io": "float32 NCHW RGB in [0, 1] -> float32 NCHW in [0, 1]",
    }
    for key, value in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(path))


def export_onnx(
    model: SRModel,
    out: str | os.PathLike,
    *,
    exporter: Exporter = "dynamo",
    opset: int | None = None,
    tolerance: float = ONNX_TOLERANCE,
) -> ExportReport:
    """ONNX with dynamic batch/height/width, run in onnxruntime at another size; fails beyond `tolerance`.

    The file appears only when the check passes. Input sides must be multiples of the arch's size multiple.
    """
    try:
        import onnx  # noqa: F401 - needed by both exporters
        import onnxruntime as ort
    except ImportError as exc:
        raise ConfigError(
            f"ONNX export needs the onnx extra ({exc.name} missing): pip install 'srzoo[onnx]'"
        ) from None
    start = time.perf_counter()
    # A private fp32 CPU copy: the caller's model keeps its device, precision and memory format.
    net = copy.deepcopy(model.net).float().cpu().to(memory_format=torch.contiguous_format).eval()
    wrapper = _Clamped(net).eval()
    caps = model.card.capabilities
    m = max(1, caps.multiple_for(model.scale))
    sample = torch.rand(2, caps.in_channels, _round_up(32, m), _round_up(40, m))
    used = exporter
    with atomic_write(out) as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                _torch_export(wrapper, sample, tmp, m, exporter, opset)
            except Exception as exc:  # dynamo cannot trace every arch; the TorchScript exporter often can
                if exporter != "dynamo":
                    raise ConfigError(
                        f"ONNX export of {model.card.arch!r} failed: {str(exc).splitlines()[0][:200]}"
                    ) from None
                used = "torchscript"
                try:
                    _torch_export(wrapper, sample, tmp, m, used, opset)
                except Exception as exc2:
                    first = str(exc2).splitlines()[0][:200] if str(exc2) else type(exc2).__name__
                    raise ConfigError(
                        f"ONNX export of {model.card.arch!r} failed with both exporters: {first}"
                    ) from None
        _annotate(tmp, model, m)
        # Check at a size (and batch) other than the traced one: catches shapes baked in as constants.
        check = torch.rand(
            1,
            caps.in_channels,
            _round_up(24, m),
            _round_up(56, m),
            generator=torch.Generator().manual_seed(0),
        )
        try:
            options = ort.SessionOptions()
            options.log_severity_level = 4  # failures are reported below as one line, not as ORT's log
            session = ort.InferenceSession(str(tmp), options, providers=["CPUExecutionProvider"])
            got = torch.from_numpy(session.run(None, {session.get_inputs()[0].name: check.numpy()})[0])
        except Exception as exc:  # onnxruntime's own error types; a shape baked in at trace time lands here
            first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            raise ConfigError(
                f"the ONNX export of {model.card.arch!r} fails in onnxruntime at input {tuple(check.shape)} "
                f"({first}); nothing written"
            ) from None
        with torch.inference_mode():
            ref = wrapper(check)
        if got.shape != ref.shape:
            raise ConfigError(
                f"ONNX export of {model.card.arch!r} gives shape {tuple(got.shape)} "
                f"at input {tuple(check.shape)}, "
                f"PyTorch {tuple(ref.shape)}: the arch bakes its input size into the graph; nothing written"
            )
        diff = float((got - ref).abs().max())
        if not diff <= tolerance:
            raise ConfigError(
                f"ONNX output differs from PyTorch by {diff:.2e} > {tolerance:g} at {tuple(check.shape)}; "
                "nothing written"
            )
    return ExportReport(Path(out), "onnx", time.perf_counter() - start, diff, tuple(check.shape), used)


def export_model(
    model: SRModel,
    out: str | os.PathLike,
    format: str,
    *,
    exporter: Exporter = "dynamo",
    overwrite: bool = False,
) -> ExportReport:
    """Write `model` as onnx, srzoo safetensors (arch/kwargs/scale metadata) or BasicSR `{'params': ...}`."""
    out = Path(out)
    if format not in EXPORT_FORMATS:
        raise ConfigError(f"unknown export format {format!r}; use one of {', '.join(EXPORT_FORMATS)}")
    if out.exists() and not overwrite:
        raise InputError(f"{out} exists; pass --overwrite to replace it")
    if out.is_dir():
        raise InputError(f"{out} is a folder; give a file name")
    if format == "onnx":
        return export_onnx(model, out, exporter=exporter)
    start = time.perf_counter()
    sd = {k: v.float() if v.is_floating_point() else v for k, v in model.net.state_dict().items()}
    if not sd:
        raise WeightsError(f"arch {model.card.arch!r} has no weights to export; use --format onnx")
    card = model.card
    if format == "safetensors":
        extra = {"exported_from": card.source, "source_sha256": card.weights_sha256, **card.extra}
        save_weights(out, sd, arch=card.arch, kwargs=card.kwargs, scale=card.scale, extra=extra)
    else:
        save_basicsr(out, sd)
    return ExportReport(out, format, time.perf_counter() - start)
