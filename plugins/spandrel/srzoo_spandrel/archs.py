"""Every spandrel network class as an srzoo arch factory; spandrel itself is imported only when one is used.

An entry point `swinir = "srzoo_spandrel.archs:swinir"` loads a `SpandrelArch`, a callable whose signature (what
`build_arch` validates kwargs against) is the network class's own keyword arguments, with the class's own scale
argument (`upscale`, `up_scale`, `upscaling_factor`, ...) replaced by srzoo's `scale`. Building that signature, or
calling the factory, imports the spandrel module; `srzoo list` and the ArchInfo (static, from `_specs`) do not.
"""

from __future__ import annotations

import importlib
import inspect
import re
from functools import cached_property
from typing import Any

from torch import nn

from srzoo import ArchInfo, Capabilities, ConfigError, did_you_mean
from srzoo_spandrel._specs import SPECS, Spec

__all__ = ["SpandrelArch", "network_class", *SPECS]


def _module(spec: Spec) -> Any:
    return importlib.import_module(f"spandrel.architectures.{spec.module}")


def network_class(name: str, scale: int) -> type[nn.Module]:
    """The spandrel class srzoo arch `name` builds at `scale` (spandrel's own, not srzoo's forward wrapper)."""
    spec = SPECS[name]
    cls_name = spec.cls[scale] if isinstance(spec.cls, dict) else spec.cls
    return getattr(_module(spec), cls_name)


def _settable(param: inspect.Parameter) -> bool:
    # Defaults that are classes or functions (norm_layer, act_layer, conv, ...) are code, not configuration: a
    # recipe cannot name them and srzoo's weights metadata cannot store them, so they keep the class's default.
    if param.kind not in (param.KEYWORD_ONLY, param.POSITIONAL_OR_KEYWORD):
        return False
    return param.default is param.empty or not callable(param.default)


class SpandrelArch:
    """srzoo arch factory for one spandrel network class: `SpandrelArch("swinir")(scale=4, embed_dim=60, ...)`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.spec = SPECS[name]
        self.__name__ = self.__qualname__ = name
        self.__module__ = __name__
        self.__doc__ = f"spandrel's {self.spec.module} ({self._cls_names()}) as the srzoo arch {name!r}."

    def _cls_names(self) -> str:
        cls = self.spec.cls
        return ", ".join(f"x{s}: {c}" for s, c in cls.items()) if isinstance(cls, dict) else cls

    def __repr__(self) -> str:
        return f"SpandrelArch({self.name!r})"

    @cached_property
    def __srzoo_arch__(self) -> ArchInfo:  # the attribute srzoo.arch_info reads
        spec = self.spec
        caps = Capabilities(
            scales=spec.scales,
            in_channels=spec.in_channels,
            out_channels=spec.out_channels,
            size_multiple=spec.multiple,
            min_size=max(1, spec.minimum),
            fp16=spec.fp16,
            bf16=spec.bf16,
            tiling=spec.tiling,
            license=spec.license,
        )
        return ArchInfo(capabilities=caps, test_kwargs=dict(spec.tiny))

    @cached_property
    def __signature__(self) -> inspect.Signature:  # what inspect.signature reads
        scale = self.spec.scales[0] if 4 not in self.spec.scales else 4
        params = [inspect.Parameter("scale", inspect.Parameter.KEYWORD_ONLY, default=scale, annotation=int)]
        own = inspect.signature(network_class(self.name, self.spec.scales[0])).parameters
        for pname, p in own.items():
            if pname == self.spec.scale_arg or not _settable(p):
                continue
            default = self.spec.defaults.get(pname, p.default)
            params.append(p.replace(kind=inspect.Parameter.KEYWORD_ONLY, default=default))
        return inspect.Signature(params, return_annotation=nn.Module)

    def accepted(self) -> list[str]:
        """The keyword arguments this arch takes (srzoo's `scale` first)."""
        return list(self.__signature__.parameters)

    def __call__(self, **kwargs: Any) -> nn.Module:
        accepted = self.accepted()
        for key in kwargs:
            if key not in accepted:
                raise ConfigError(
                    f"arch {self.name!r}: unknown argument {key!r}{did_you_mean(key, accepted)} "
                    f"(accepted: {', '.join(accepted)})"
                )
        bound = self.__signature__.bind(**kwargs)
        bound.apply_defaults()
        args = dict(bound.arguments)
        scale = int(args.pop("scale"))
        if scale not in self.spec.scales:
            raise ConfigError(f"arch {self.name!r} supports scales {list(self.spec.scales)}, not x{scale}")
        missing = [k for k, v in args.items() if v is inspect.Parameter.empty]
        if missing:
            raise ConfigError(f"arch {self.name!r} needs {', '.join(missing)} in its kwargs")
        cls = network_class(self.name, scale)
        if self.spec.forward is not None:
            from srzoo_spandrel._forward import with_forward

            cls = with_forward(cls, self.spec.forward)
        if self.spec.scale_arg is not None:
            args[self.spec.scale_arg] = scale
        net = cls(**args)
        for pname, param in net.named_parameters():
            if any(re.fullmatch(pattern, pname) for pattern in self.spec.frozen):
                param.requires_grad_(False)
        return net


for _name in SPECS:
    globals()[_name] = SpandrelArch(_name)
