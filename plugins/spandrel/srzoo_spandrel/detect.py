"""The `spandrel` detector (entry point group `srzoo.detectors`): spandrel names the arch of a file no srzoo arch claims.

srzoo first lets every registered arch's `infer_kwargs` read a weights file; only a file none of them claims reaches
the detectors. This one asks spandrel's registry what the state dict is, maps spandrel's architecture id and class
to the srzoo arch that builds that class (`swinir`, `span`, `realcugan`, ...), takes the constructor arguments
spandrel recorded on its instance (`store_hyperparameters`), turns spandrel's scale argument into srzoo's `scale`,
and hands srzoo the state dict in that class's own keys.

Routing of the architectures other srzoo plugins implement natively: ESRGAN / RRDBNet files are read by
srzoo-esrgan's `rrdbnet` (its infer_kwargs), SRVGGNetCompact files by srzoo-realesrgan's `srvgg_compact`, both before
any detector is asked. This detector never claims them; when such a file does reach it (that plugin is not
installed, or its reader refused the file) it fails with a reason naming the plugin, which srzoo shows.

It also refuses, with a reason, rather than run something other than what spandrel would: an architecture or class
this plugin does not register, a scale the srzoo arch does not support, a class that records no constructor
arguments, and an argument the srzoo arch cannot take whose value is not the class's default.
"""

from __future__ import annotations

import inspect
from importlib import metadata
from typing import Any

from torch import nn

from srzoo import Detection, StateDict, WeightsError
from srzoo_spandrel._specs import SPECS

# spandrel architecture id -> the srzoo plugin and arch that own it
NATIVE = {"ESRGAN": "srzoo-esrgan's arch 'rrdbnet'", "Compact": "srzoo-realesrgan's arch 'srvgg_compact'"}


def _srzoo_name(arch_id: str, cls: type[nn.Module], scale: int) -> str:
    """The registered arch whose class at `scale` is exactly `cls` (PLKSR and KBNet hold two classes each)."""
    from srzoo_spandrel.archs import network_class

    names = [name for name, spec in SPECS.items() if spec.module == arch_id]
    if not names:
        raise WeightsError(f"spandrel identifies it as {arch_id}, which srzoo-spandrel does not register")
    for name in names:
        if scale in SPECS[name].scales and network_class(name, scale) is cls:
            return name
    scales = sorted({s for n in names for s in SPECS[n].scales})
    raise WeightsError(
        f"spandrel identifies it as {arch_id} ({cls.__name__} x{scale}); srzoo-spandrel registers "
        f"{', '.join(names)} at x{', x'.join(map(str, scales))} only"
    )


def _same(a: Any, b: Any) -> bool:
    try:
        return a is b or bool(a == b)
    except Exception:  # e.g. tensors: not comparable as one bool, so not provably the default
        return False


def _kwargs(name: str, model: nn.Module, scale: int) -> dict[str, Any]:
    """srzoo kwargs for `model`: spandrel's recorded arguments, scale removed, code-valued defaults dropped."""
    from srzoo_spandrel.archs import SpandrelArch

    cls = type(model).__name__
    recorded = getattr(model, "hyperparameters", None)
    if not isinstance(recorded, dict):
        raise WeightsError(f"spandrel's {cls} does not record its constructor arguments; cannot rebuild it")
    hp, spec = dict(recorded), SPECS[name]
    # the class's own scale argument, or (RealCUGAN) the scale its class is fixed to
    given = hp.pop(spec.scale_arg if spec.scale_arg is not None else "scale", scale)
    if given != scale:
        raise WeightsError(f"spandrel's {cls} says x{scale} but was built with scale {given!r}")
    accepted = set(SpandrelArch(name).accepted()) - {"scale"}
    own = inspect.signature(type(model)).parameters
    kwargs: dict[str, Any] = {}
    for key, value in hp.items():
        if key in accepted:
            kwargs[key] = value
            continue
        param = own.get(key)
        if param is not None and param.default is not param.empty and _same(param.default, value):
            continue  # a class-valued default (norm_layer, act_layer, conv): srzoo builds the same
        raise WeightsError(
            f"spandrel built {cls} with {key}={value!r}, which srzoo arch {name!r} cannot set; "
            "not claiming it rather than running a different model"
        )
    return kwargs


def detect(sd: StateDict) -> Detection | None:
    """What spandrel says `sd` is, as an srzoo Detection; None when spandrel does not know the file at all."""
    from spandrel import MAIN_REGISTRY, UnsupportedModelError

    try:
        desc = MAIN_REGISTRY.load(sd)
    except UnsupportedModelError:
        return None
    except Exception as exc:  # spandrel recognised the layout but could not build it (damaged or odd file)
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise WeightsError(f"spandrel could not load it: {type(exc).__name__}: {reason}") from None
    arch_id, model, scale = desc.architecture.id, desc.model, int(desc.scale)
    if arch_id in NATIVE:
        raise WeightsError(
            f"spandrel identifies it as {arch_id}, which {NATIVE[arch_id]} runs natively; "
            "install that plugin (or its reader refused this file)"
        )
    name = _srzoo_name(arch_id, type(model), scale)
    kwargs = _kwargs(name, model, scale)
    # the keys of spandrel's instance are those of the class srzoo builds (the forward wrappers add none)
    state = {k: v.detach() for k, v in model.state_dict().items()}
    version = metadata.version("spandrel")
    return Detection(name, kwargs, scale, state, f"spandrel {version}: {arch_id} ({type(model).__name__})")
