"""Initial weights for a recipe's generator or discriminator (`weights:`): fine-tuning from a file, run or zoo tag."""

from __future__ import annotations

from torch import nn

from srzoo.errors import WeightsError
from srzoo.framework.descriptors import StateDict
from srzoo.framework.registries import ARCHS, arch_info
from srzoo.framework.weights import resolve_weights
from srzoo.inference.model import first_items, load_into, state_fit


def load_initial_weights(
    net: nn.Module, arch: str, ref: str, role: str, scale: int | None = None, *, strict: bool = True
) -> str | None:
    """Load `ref` (weights file, training run directory or zoo tag) into `net`; a note when `strict` is off.

    Foreign key layouts are converted by the arch's own `convert_state_dict` (as `srzoo infer` does), so
    BasicSR / Real-ESRGAN release files work; what does not fit is one WeightsError naming the keys. This is
    Real-ESRGAN's `pretrain_network_g` / `pretrain_network_d`: Real-ESRNet starts from an ESRGAN PSNR model.
    `strict=False` (`weights_strict: false`) loads what fits by name and shape and returns a note naming the
    rest, as BasicSR's strict_load_g: false (RealESRNet x2plus starts from the x4plus weights).
    """
    weights = resolve_weights(ref)
    meta = weights.srzoo_meta
    if "arch" in meta and meta["arch"] != arch:
        raise WeightsError(
            f"{role}.weights {ref} holds arch {meta['arch']!r}, but the recipe's {role} is {arch!r}"
        )
    if strict and scale is not None and "scale" in meta and int(meta["scale"]) != scale:
        raise WeightsError(
            f"{role}.weights {ref} are x{meta['scale']}, but the recipe trains x{scale} "
            f"(set {role}.weights_strict: false to load the tensors that fit)"
        )
    info = arch_info(ARCHS.get(arch))
    state_dict = weights.state_dict
    if info.convert_state_dict is not None and "arch" not in meta:
        try:
            state_dict = info.convert_state_dict(state_dict)
        except WeightsError:
            raise  # already one line that says what does not fit
        except Exception as exc:  # an arch's layout converter on a file it was not written for
            raise WeightsError(f"{role}.weights {ref}: not in a layout arch {arch!r} reads ({exc})") from None
    if strict:
        load_into(net, state_dict, f"the recipe's {role} (arch {arch!r}) from {ref}")
        return None
    return _load_fitting(net, state_dict, f"{role}.weights {ref}", f"the recipe's {role} (arch {arch!r})")


def _load_fitting(net: nn.Module, state_dict: StateDict, source: str, target: str) -> str:
    fit = state_fit(net, state_dict)
    if not fit.fits:
        raise WeightsError(f"{source}: no tensor fits {target} by name and shape; is it the same arch?")
    own = net.state_dict()
    net.load_state_dict({**own, **{k: v.to(own[k].dtype) for k, v in fit.fits.items()}})
    note = f"note: {source}: loaded {len(fit.fits)} of {len(own)} tensors (weights_strict: false)"
    kept = [f"{k} (not in the file)" for k in fit.missing] + fit.shapes + fit.dtypes
    if kept:
        note += f"; initialised: {first_items(kept)}"
    if fit.unexpected:
        note += f"; unused from the file: {first_items(fit.unexpected)}"
    return note
