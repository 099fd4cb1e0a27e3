"""Which precisions a device runs natively, decided once before any weights or image is read.

CPU: bf16 is native where oneDNN has bf16 convolution kernels for the CPU, which is what
`torch.ops.mkldnn._is_mkldnn_bf16_supported()` reports (x86: AVX-512 BW/VL/DQ, AVX-NE-CONVERT or AMX; Arm:
the BF16 extension). fp16 is native where oneDNN has fp16 kernels (x86: AVX512-FP16 or AMX-FP16; Arm: FP16
arithmetic). Elsewhere PyTorch still computes bf16/fp16 convolutions, but through generic fallback loops:
on a 2-core AVX2 EPYC a 3x3 conv ran 7-8x slower than fp32 in channels_last and ~60x slower in NCHW
(`benchmarks/peak.py`'s bf16 row in results/peak_cpu_avx2.md), so srzoo refuses those precisions up front
instead of emulating them. CUDA: bf16 is native from compute capability 8.0 (Ampere; ROCm always), fp16 on
every CUDA device. `srzoo infer` / `srzoo bench` / `load_model` / training call `require` and get one line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from srzoo.errors import ConfigError

PRECISIONS: tuple[str, ...] = ("fp32", "fp16", "bf16")
# the CPU flags that decide low-precision speed, as torch.cpu.get_capabilities() names them
ISA_FLAGS: tuple[str, ...] = (
    "avx2",
    "fma3",
    "avx512_f",
    "avx512_bw",
    "avx512_vl",
    "avx512_dq",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "avx_ne_convert",
    "amx_tile",
    "amx_bf16",
    "amx_fp16",
)


class PrecisionError(ConfigError):
    """A precision the device does not run natively: a usage error (`srzoo` exits 2)."""

    exit_code = 2


@dataclass(frozen=True)
class Support:
    """Whether `device` runs `precision` natively; `why` names what it has or lacks (one line)."""

    precision: str
    device: str
    native: bool
    why: str


def cpu_isa() -> str:
    """PyTorch's kernel level for this CPU: "AVX2", "AVX512", "DEFAULT" (Arm, old x86), ..."""
    return str(torch.backends.cpu.get_cpu_capability())


def cpu_flags() -> dict[str, bool]:
    """The ISA flags in ISA_FLAGS (absent ones False); {} where this torch cannot tell."""
    get = getattr(torch.cpu, "get_capabilities", None)  # torch >= 2.8
    caps: Mapping[str, Any] = get() if get is not None else {}
    return {name: bool(caps.get(name, False)) for name in ISA_FLAGS} if caps else {}


def cpu_bf16_native() -> bool:
    """oneDNN has bf16 conv kernels for this CPU (the check PyTorch's own bf16 tests skip on)."""
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(check()) if check is not None and torch.backends.mkldnn.is_available() else False


def cpu_fp16_native() -> bool:
    """oneDNN has fp16 conv kernels for this CPU (x86: AVX512-FP16 or AMX-FP16; Arm: FP16 arithmetic)."""
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_fp16_supported", None)
    if check is not None:
        return bool(check()) and torch.backends.mkldnn.is_available()
    get = getattr(torch.cpu, "get_capabilities", None)
    caps: Mapping[str, Any] = get() if get is not None else {}
    return any(bool(caps.get(name, False)) for name in ("avx512_fp16", "amx_fp16", "fp16_arith"))


def cpu_name() -> str:
    """The CPU's model name as torch's cpuinfo reads it ("" where unknown)."""
    get = getattr(torch.cpu, "get_capabilities", None)
    return str(get().get("cpu_name", "")) if get is not None else ""


def cpu_info() -> dict[str, Any]:
    """What the CPU runs natively, for result files and bench JSON: ISA level, flags, bf16/fp16 kernels."""
    return {
        "cpu_name": cpu_name(),
        "cpu_capability": cpu_isa(),
        "cpu_isa_flags": sorted(name for name, on in cpu_flags().items() if on),
        "cpu_bf16_native": cpu_bf16_native(),
        "cpu_fp16_native": cpu_fp16_native(),
    }


def _cuda_support(precision: str, device: torch.device) -> Support:
    index = device.index if device.index is not None else torch.cuda.current_device()
    props = torch.cuda.get_device_properties(index)
    where = f"{props.name}, sm_{props.major}{props.minor}"
    if precision == "bf16" and not torch.version.hip and props.major < 8:
        return Support(precision, str(device), False, f"this GPU ({where}) has no native bf16 (needs sm_80+)")
    return Support(precision, str(device), True, f"{where} runs {precision}")


def support(precision: str, device: str | torch.device = "cpu") -> Support:
    """Whether `device` runs `precision` natively (fp32 always does)."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    dev = torch.device(device)
    if precision == "fp32":
        return Support(precision, str(dev), True, "fp32 runs everywhere")
    if dev.type == "cuda" and torch.cuda.is_available():
        return _cuda_support(precision, dev)
    if dev.type != "cpu":  # mps and others: their backend decides; a missing dtype fails at .to()
        return Support(precision, str(dev), True, f"{dev.type} decides")
    native = cpu_bf16_native() if precision == "bf16" else cpu_fp16_native()
    isa = cpu_isa()
    if native:
        return Support(precision, "cpu", True, f"this CPU ({isa}) has oneDNN {precision} kernels")
    needs = "AVX-512 BW/VL/DQ, AVX-NE-CONVERT or AMX" if precision == "bf16" else "AVX512-FP16 or AMX-FP16"
    return Support(precision, "cpu", False, f"this CPU ({isa}) has no native {precision} (needs {needs})")


def require(precision: str, device: str | torch.device = "cpu", *, fix: str = "--precision fp32") -> None:
    """PrecisionError (one line, ending with `fix`) unless `device` runs `precision` natively."""
    found = support(precision, device)
    if not found.native:
        raise PrecisionError(f"{found.why}; use {fix}")


def default_precision(device: str | torch.device, *, fp16_safe: bool = True) -> str:
    """What `srzoo infer` runs when no --precision is given: fp16 on CUDA for fp16-safe archs, else fp32.

    Never a precision the device does not run natively (fp32 always is).
    """
    dev = torch.device(device)
    if dev.type == "cuda" and fp16_safe and support("fp16", dev).native:
        return "fp16"
    return "fp32"
