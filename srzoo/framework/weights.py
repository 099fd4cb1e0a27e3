"""Weights files: safe loading of every known container, zoo tags with download, and safetensors export."""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from srzoo.errors import DataError, UnknownNameError, WeightsError, one_line
from srzoo.framework.descriptors import PretrainedWeights, StateDict
from srzoo.framework.download import download
from srzoo.framework.files import atomic_write, cache_dir, sha256_file

META_PREFIX = "srzoo."
# Containers used by BasicSR/Real-ESRGAN (EMA first: it is the better model), Lightning and plain dumps.
_CONTAINER_KEYS = ("params_ema", "params", "generator", "state_dict", "model", "net_g", "g")
# What a training run directory offers, in order of preference.
RUN_DIR_FILES = ("last.safetensors", "best.safetensors", "generator.safetensors")


@dataclass
class WeightsFile:
    """A state dict plus what is known about where it came from."""

    state_dict: StateDict
    path: Path | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    pretrained: PretrainedWeights | None = None  # set when resolved from a zoo tag
    arch: str | None = None  # set when resolved from a zoo tag
    sha256: str | None = None

    @property
    def srzoo_meta(self) -> dict[str, Any]:
        """arch / kwargs / scale recorded by srzoo exports (empty for foreign files)."""
        meta: dict[str, Any] = {}
        expected = {"kwargs": dict, "scale": int, "extra": dict}
        for key, value in self.metadata.items():
            if key.startswith(META_PREFIX):
                name = key[len(META_PREFIX) :]
                meta[name] = value
                if name in expected:
                    try:
                        meta[name] = json.loads(value)
                    except ValueError:
                        meta[name] = None
                    if type(meta[name]) is not expected[name]:
                        raise WeightsError(
                            f"{self.path or 'weights'}: damaged srzoo metadata {key} = {value[:40]!r}; "
                            "the file is damaged; export it again"
                        )
        if "arch" in meta and not (isinstance(meta.get("scale"), int) and meta["scale"] >= 1):
            # srzoo writes arch and scale together: one without the other is a damaged header, not a foreign file.
            raise WeightsError(
                f"{self.path or 'weights'}: damaged srzoo metadata: arch {str(meta['arch'])[:40]!r} without a valid "
                "srzoo.scale; the file is damaged; export it again"
            )
        return meta


def _tensor_dict(obj: Any, where: Path) -> StateDict:
    for key in _CONTAINER_KEYS:
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            return _tensor_dict(obj[key], where)
    if not isinstance(obj, dict) or not obj:
        raise WeightsError(f"{where} holds no state dict (found {type(obj).__name__})")
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise WeightsError(f"{where} holds no tensors under any of the keys {', '.join(_CONTAINER_KEYS)}")
    odd = [k for k in tensors if not isinstance(k, str)]
    if odd:
        raise WeightsError(f"{where} is not a state dict: its keys include {odd[0]!r}, not a parameter name")
    return tensors


def check_finite(sd: StateDict, where: Path) -> StateDict:
    """Refuse NaN/Inf in floating tensors: they come from a diverged run or a damaged file, never a usable net."""
    for key, value in sd.items():
        if value.is_floating_point() or value.is_complex():
            bad = int(value.numel() - torch.isfinite(value).sum())
            if bad:
                raise WeightsError(
                    f"{where}: tensor {key!r} holds {bad} non-finite value{'s' if bad > 1 else ''} (NaN/Inf); "
                    "the file is damaged or from a diverged run — use an earlier checkpoint or export"
                )
    return sd


def strip_prefixes(sd: StateDict) -> StateDict:
    """Drop DDP / torch.compile wrappers' key prefixes (`module.`, `_orig_mod.`)."""
    out = {}
    for key, value in sd.items():
        for prefix in ("module.", "_orig_mod."):
            while key.startswith(prefix):
                key = key[len(prefix) :]
        out[key] = value
    return out


def load_weights_file(path: str | Path) -> WeightsFile:
    """Read a .pth/.pt/.ckpt (weights_only unpickling), .safetensors, or a training run/checkpoint directory."""
    path = Path(path)
    if path.is_dir():
        for name in RUN_DIR_FILES:
            if (path / name).is_file():
                return load_weights_file(path / name)
        raise WeightsError(f"{path} is a directory without {' or '.join(RUN_DIR_FILES)}; pass a weights file")
    if not path.is_file():
        raise WeightsError(f"weights file {path} does not exist")
    if path.stat().st_size == 0:
        raise WeightsError(f"weights file {path} is empty")
    if path.suffix == ".safetensors":
        return _load_safetensors(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        reason = str(exc).splitlines()[-1].strip() or "unsupported pickle content"
        raise WeightsError(
            f"refused to load {path}: it needs unsafe unpickling ({reason[:160]}); "
            "only tensors and plain containers are accepted — convert it to safetensors with trusted code"
        ) from None
    except MemoryError:
        raise
    except (
        Exception
    ) as exc:  # a damaged zip or pickle stream surfaces as any type (IndexError, struct.error ...)
        raise WeightsError(f"cannot read weights file {path}: {one_line(exc, 200)}") from None
    sd = check_finite(strip_prefixes(_tensor_dict(obj, path)), path)
    return WeightsFile(sd, path, sha256=sha256_file(path))


def _load_safetensors(path: Path) -> WeightsFile:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            metadata = dict(f.metadata() or {})
            sd = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is not a dict)
    except MemoryError:
        raise
    except Exception as exc:  # SafetensorError, or what a damaged header makes torch raise
        raise WeightsError(f"cannot read safetensors file {path}: {one_line(exc, 200)}") from None
    if not sd:
        raise WeightsError(f"{path} holds no tensors")
    return WeightsFile(check_finite(strip_prefixes(sd), path), path, metadata, sha256=sha256_file(path))


def split_tag(ref: str) -> tuple[str, str | None]:
    """'esrgan' → ('esrgan', None) for the default tag; 'esrgan.psnr' → ('esrgan', 'psnr')."""
    arch, _, tag = ref.partition(".")
    return arch, tag or None


def pretrained_file(arch: str, tag: str | None = None) -> tuple[PretrainedWeights, Path]:
    """Download (once, into $SRZOO_CACHE/weights) and hash-check a zoo tag's file."""
    from srzoo.framework.registries import ARCHS, arch_info

    entry = arch_info(ARCHS.get(arch)).weights_for(tag)
    dest = cache_dir() / "weights" / entry.cache_name
    try:
        download(
            entry.url,
            dest,
            sha256=entry.sha256,
            what=f"weights {arch}.{entry.tag}",
            hint=f"download it yourself and pass --weights PATH (expected at {dest})",
        )
    except DataError as exc:
        raise WeightsError(str(exc)) from None
    return entry, dest


def resolve_weights(ref: str | Path) -> WeightsFile:
    """A path (file or run directory) or a zoo tag (`arch` or `arch.tag`) → loaded weights."""
    from srzoo.framework.registries import ARCHS, arch_info

    path = Path(ref)
    if path.exists():
        return load_weights_file(path)
    text = str(ref)
    arch, tag = split_tag(text)
    if "/" in text or "\\" in text or path.suffix in (".pth", ".pt", ".ckpt", ".safetensors", ".bin"):
        raise WeightsError(f"weights file {text} does not exist")
    tags = [f"{a}.{p.tag}" for a in ARCHS.names() for p in _safe_pretrained(a)]
    if arch not in ARCHS or not arch_info(ARCHS.get(arch)).pretrained:
        raise UnknownNameError("weights file or tag", text, tags + [t.split(".")[0] for t in tags])
    entry, file = pretrained_file(arch, tag)
    weights = load_weights_file(file)
    weights.pretrained, weights.arch = entry, arch
    return weights


def _safe_pretrained(arch: str) -> tuple[PretrainedWeights, ...]:
    from srzoo.framework.registries import ARCHS, arch_info

    try:
        return arch_info(ARCHS.get(arch)).pretrained
    except Exception:  # a broken plugin must not break the listing of the others' tags
        return ()


def save_weights(
    path: str | Path,
    state_dict: StateDict,
    *,
    arch: str,
    kwargs: dict[str, Any],
    scale: int,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write generator weights as safetensors with srzoo metadata (arch, kwargs, scale, versions), atomically."""
    from safetensors.torch import save_file

    from srzoo._version import __version__

    metadata = {
        f"{META_PREFIX}arch": arch,
        f"{META_PREFIX}kwargs": json.dumps(kwargs, sort_keys=True),
        f"{META_PREFIX}scale": json.dumps(scale),
        f"{META_PREFIX}version": __version__,
        f"{META_PREFIX}torch": torch.__version__,
        f"{META_PREFIX}extra": json.dumps(extra or {}, sort_keys=True, default=str),
    }
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
    with atomic_write(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return Path(path)


def save_basicsr(path: str | Path, state_dict: StateDict) -> Path:
    """Write `{'params': state_dict}` as .pth, the layout BasicSR, Real-ESRGAN, spandrel and chaiNNer read."""
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
    with atomic_write(path) as tmp:
        torch.save({"params": tensors}, tmp)
    return Path(path)
