"""Foreign RRDBNet weight layouts (ESRGAN 2018 / 2019) to BasicSR keys and back, and kwargs inference."""

from __future__ import annotations

import math
import re
from typing import Any

import torch

from srzoo import WeightsError

StateDict = dict[str, torch.Tensor]

# 2019 xinntao/ESRGAN (and BSRGAN / RealSR) names of the single convs; the dense convs are renamed by regex.
_V2019_TO_BASICSR = {
    "trunk_conv": "conv_body",
    "HRconv": "conv_hr",
    "conv_first": "conv_first",
    "conv_last": "conv_last",
}
_BASICSR_TO_V2019 = {v: k for k, v in _V2019_TO_BASICSR.items()}

_BASICSR_DENSE = re.compile(r"body\.(\d+)\.rdb(\d+)\.conv(\d+)\.(weight|bias)")
_V2019_DENSE = re.compile(r"RRDB_trunk\.(\d+)\.RDB(\d+)\.conv(\d+)\.(weight|bias)")
_V2018_DENSE = re.compile(r"model\.1\.sub\.(\d+)\.RDB(\d+)\.conv(\d+)\.0\.(weight|bias)")
_V2018_TRUNK = re.compile(r"model\.1\.sub\.(\d+)\.(weight|bias)")
_V2018_TOP = re.compile(r"model\.(\d+)\.(weight|bias)")
_SINGLE = re.compile(r"(\w+)\.(weight|bias)")
_UP = re.compile(r"(?:conv_up|upconv)(\d+)")


def detect_layout(sd: StateDict) -> str:
    """'basicsr', 'esrgan2019' or 'esrgan2018'; WeightsError for anything else."""
    if any(".conv1x1." in k for k in sd):
        raise WeightsError(
            "ESRGAN+ weights (conv1x1 layers) are not supported by rrdbnet; use a plain ESRGAN model"
        )
    if "conv_first.weight" in sd and (
        "trunk_conv.weight" in sd or any(k.startswith("RRDB_trunk.") for k in sd)
    ):
        return "esrgan2019"
    if "conv_first.weight" in sd:
        return "basicsr"
    if "model.0.weight" in sd:
        return "esrgan2018"
    sample = ", ".join(sorted(sd)[:3]) or "no keys"
    raise WeightsError(
        f"not RRDBNet/ESRGAN weights (no 'conv_first.weight' or 'model.0.weight'; found {sample}); "
        "pass weights saved from BasicSR, Real-ESRGAN or xinntao/ESRGAN"
    )


def _unknown(key: str, layout: str) -> WeightsError:
    return WeightsError(
        f"unexpected key {key!r} in {layout} RRDBNet weights; the file is not a plain ESRGAN model"
    )


def _from_2019(sd: StateDict) -> StateDict:
    out: StateDict = {}
    for key, value in sd.items():
        if m := _V2019_DENSE.fullmatch(key):
            out["body.{}.rdb{}.conv{}.{}".format(*m.groups())] = value
        elif (m := _SINGLE.fullmatch(key)) and (up := _UP.fullmatch(m[1])):
            out[f"conv_up{up[1]}.{m[2]}"] = value
        elif m and m[1] in _V2019_TO_BASICSR:
            out[f"{_V2019_TO_BASICSR[m[1]]}.{m[2]}"] = value
        else:
            raise _unknown(key, "ESRGAN-2019")
    return out


def _from_2018(sd: StateDict) -> StateDict:
    out: StateDict = {}
    top: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in sd.items():
        if m := _V2018_DENSE.fullmatch(key):
            out["body.{}.rdb{}.conv{}.{}".format(*m.groups())] = value
        elif m := _V2018_TRUNK.fullmatch(key):
            # the only non-RRDB entry inside the shortcut is the trunk conv after the last block
            out[f"conv_body.{m[2]}"] = value
        elif m := _V2018_TOP.fullmatch(key):
            top.setdefault(int(m[1]), {})[m[2]] = value
        else:
            raise _unknown(key, "ESRGAN-2018")
    # model.0 is conv_first, model.1 the shortcut; after it come the upsampling convs, then the HR conv
    # and the last conv. Their indices differ between upconv and pixel-shuffle models, so go by order.
    rest = sorted(i for i in top if i >= 2)
    if 0 not in top or len(rest) < 3:
        raise WeightsError(
            "ESRGAN-2018 weights lack the first, upsampling, HR or last conv ('model.N.weight')"
        )
    names = {0: "conv_first", rest[-1]: "conv_last", rest[-2]: "conv_hr"}
    names.update({idx: f"conv_up{i}" for i, idx in enumerate(rest[:-2], start=1)})
    for idx, params in top.items():
        if idx not in names:
            raise _unknown(f"model.{idx}.weight", "ESRGAN-2018")
        for kind, value in params.items():
            out[f"{names[idx]}.{kind}"] = value
    return out


def convert_state_dict(sd: StateDict) -> StateDict:
    """Map ESRGAN-2018 (`model.N`), ESRGAN-2019 (`RRDB_trunk`) or BasicSR weights onto BasicSR keys."""
    layout = detect_layout(sd)
    if layout == "basicsr":
        return dict(sd)
    out = _from_2019(sd) if layout == "esrgan2019" else _from_2018(sd)
    up1, first = out.get("conv_up1.weight"), out.get("conv_first.weight")
    if _num_up(out) == 1 and up1 is not None and first is not None and up1.shape[0] == first.shape[0]:
        # In the old code bases one nearest stage means x2 (e.g. BSRGAN x2) or, rarely, x3; RRDBNet's x2 is
        # the Real-ESRGAN pixel-unshuffle design, so neither reading can be loaded faithfully.
        raise WeightsError(
            f"{layout} RRDBNet weights with one nearest upsampling stage (old-style x2/x3) are not supported"
            " by rrdbnet; load them with spandrel or re-export them at x4"
        )
    return out


def _num_up(sd: StateDict) -> int:
    return sum(1 for k in sd if re.fullmatch(r"conv_up\d+\.weight", k))


def to_legacy_2019(sd: StateDict) -> StateDict:
    """BasicSR keys → xinntao/ESRGAN 2019 keys (`RRDB_trunk`, `trunk_conv`, `upconvN`, `HRconv`)."""
    out: StateDict = {}
    for key, value in sd.items():
        if m := _BASICSR_DENSE.fullmatch(key):
            out["RRDB_trunk.{}.RDB{}.conv{}.{}".format(*m.groups())] = value
        elif (m := _SINGLE.fullmatch(key)) and (up := _UP.fullmatch(m[1])):
            out[f"upconv{up[1]}.{m[2]}"] = value
        elif m and m[1] in _BASICSR_TO_V2019:
            out[f"{_BASICSR_TO_V2019[m[1]]}.{m[2]}"] = value
        else:
            raise _unknown(key, "BasicSR")
    return out


def to_legacy_2018(sd: StateDict) -> StateDict:
    """BasicSR keys → the 2018 ESRGAN `model.N` layout (upconv: convs at 3, 6, …; pixel-shuffle: 2, 5, …)."""
    kwargs = infer_kwargs(sd)
    n_up, nb = _num_up(sd), kwargs["num_blocks"]
    # a pixel-shuffle stage is [conv, shuffle, act], an upconv stage [upsample, conv, act]
    offset = -1 if kwargs["upsampler"] == "pixelshuffle" else 0
    names = {"conv_first": "model.0", "conv_body": f"model.1.sub.{nb}"}
    names.update({f"conv_up{i}": f"model.{3 * i + offset}" for i in range(1, n_up + 1)})
    names.update({"conv_hr": f"model.{3 * n_up + 2}", "conv_last": f"model.{3 * n_up + 4}"})
    out: StateDict = {}
    for key, value in sd.items():
        if m := _BASICSR_DENSE.fullmatch(key):
            out["model.1.sub.{}.RDB{}.conv{}.0.{}".format(*m.groups())] = value
        elif (m := _SINGLE.fullmatch(key)) and m[1] in names:
            out[f"{names[m[1]]}.{m[2]}"] = value
        else:
            raise _unknown(key, "BasicSR")
    return out


def _require(sd: StateDict, key: str) -> torch.Tensor:
    if key not in sd:
        raise WeightsError(
            f"RRDBNet weights lack {key!r}; the file is incomplete or not an ESRGAN/RRDBNet model"
        )
    return sd[key]


def infer_kwargs(sd: StateDict) -> dict[str, Any]:
    """RRDBNet constructor kwargs (scale included) from weights in any supported layout.

    One upsampling stage is x3: the only RRDBNet scale with one stage (x2 here uses pixel-unshuffle and
    two stages, like Real-ESRGAN). Old single-stage legacy models are refused by convert_state_dict.
    """
    sd = convert_state_dict(sd)
    first = _require(sd, "conv_first.weight")
    last = _require(sd, "conv_last.weight")
    _require(sd, "conv_body.weight")
    _require(sd, "conv_hr.weight")
    up1 = _require(sd, "conv_up1.weight")
    num_feat, in_first, out_ch = first.shape[0], first.shape[1], last.shape[0]

    dense = [tuple(int(g) for g in m.groups()[:3]) for k in sd if (m := _BASICSR_DENSE.fullmatch(k))]
    num_blocks = max((d[0] for d in dense), default=-1) + 1
    num_dense_blocks = max((d[1] for d in dense), default=3)
    num_dense_convs = max((d[2] for d in dense), default=5)
    num_grow = int(sd["body.0.rdb1.conv1.weight"].shape[0]) if num_blocks else 32

    n_up = _num_up(sd)
    ratio = up1.shape[0] // num_feat
    r = math.isqrt(ratio)
    if up1.shape[0] % num_feat or r * r != ratio or r not in (1, 2, 3):
        raise WeightsError(f"RRDBNet weights: conv_up1 has {up1.shape[0]} outputs for {num_feat} features")
    upsampler = "nearest" if r == 1 else "pixelshuffle"
    in_channels = in_first
    if n_up == 1 and r in (1, 3):
        scale = 3
    elif n_up == 3 and r in (1, 2):
        scale = 8
    elif n_up == 2 and r in (1, 2):
        # x1/x2 fold the input into 16x / 4x channels (Real-ESRGAN); same rule as spandrel's detection
        if in_first == 16 * out_ch:
            scale, in_channels = 1, in_first // 16
        elif in_first == 4 * out_ch:
            scale, in_channels = 2, in_first // 4
        else:
            scale = 4
    else:
        raise WeightsError(
            f"RRDBNet weights: {n_up} upsampling convs with factor {r} match no supported scale"
        )
    return {
        "scale": scale,
        "in_channels": int(in_channels),
        "out_channels": int(out_ch),
        "num_feat": int(num_feat),
        "num_grow": num_grow,
        "num_blocks": num_blocks,
        "num_dense_blocks": num_dense_blocks,
        "num_dense_convs": num_dense_convs,
        "upsampler": upsampler,
    }
