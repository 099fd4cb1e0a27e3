"""Initial weights for a recipe's generator or discriminator (`weights:`): fine-tuning from a file, run or zoo tag."""

from __future__ import annotations

from torch import nn

from srzoo.errors import WeightsError
from srzoo.framework.registries import ARCHS, arch_info
from srzoo.framework.weights import resolve_weights
from srzoo.inference.model import load_into


def load_initial_weights(net: nn.Module, arch: str, ref: str, role: str, scale: int | None = None) -> None:
    """Load `ref` (weights file, training run directory or zoo tag) into `net`, strictly.

    Foreign key layouts are converted by the arch's own `convert_state_dict` (as `srzoo infer` does), so
    BasicSR / Real-ESRGAN release files work; what does not fit is one WeightsError naming the keys. This is
    Real-ESRGAN's `pretrain_network_g` / `pretrain_network_d`: Real-ESRNet starts from an ESRGAN PSNR model.
    """
    weights = resolve_weights(ref)
    meta = weights.srzoo_meta
    if "arch" in meta and meta["arch"] != arch:
        raise WeightsError(
            f"{role}.weights {ref} holds arch {meta['arch']!r}, but the recipe's {role} is {arch!r}"
        )
    if scale is not None and "scale" in meta and int(meta["scale"]) != scale:
        raise WeightsError(f"{role}.weights {ref} are x{meta['scale']}, but the recipe trains x{scale}")
    info = arch_info(ARCHS.get(arch))
    state_dict = weights.state_dict
    if info.convert_state_dict is not None and "arch" not in meta:
        try:
            state_dict = info.convert_state_dict(state_dict)
        except WeightsError:
            raise  # already one line that says what does not fit
        except Exception as exc:  # an arch's layout converter on a file it was not written for
            raise WeightsError(f"{role}.weights {ref}: not in a layout arch {arch!r} reads ({exc})") from None
    load_into(net, state_dict, f"the recipe's {role} (arch {arch!r}) from {ref}")
