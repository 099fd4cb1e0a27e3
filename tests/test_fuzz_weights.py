"""Hostile weight files: truncated/garbage .pth and .safetensors, wrong keys, shapes and dtypes, NaN/Inf, pickles.

`srzoo.load_model` (what `srzoo infer`, `bench` and `export` run) must give a working model or srzoo's own error
in one line; non-finite values are refused at load; a forbidden pickle global never runs.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from safetensors.torch import save_file

import srzoo
from srzoo import SrzooError, WeightsError, load_model
from srzoo.framework.weights import load_weights_file, save_weights
from tests.fuzz_support import FuzzNet, budget, outcome, record, registered_arch


@pytest.fixture(scope="module", autouse=True)
def fuzznet():
    with registered_arch() as name:
        yield name


def _state_dict() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return {k: v.clone() for k, v in FuzzNet(scale=2, width=4).state_dict().items()}


KEYS = sorted(_state_dict())
DTYPES = [torch.float16, torch.bfloat16, torch.float64, torch.int32, torch.int64, torch.uint8, torch.bool]


@st.composite
def edited_state_dict(draw: st.DrawFn) -> tuple[str, dict]:
    """(what was done, state dict) — each edit a mistake or an attack seen in the wild."""
    sd = _state_dict()
    key = draw(st.sampled_from(KEYS))
    kind = draw(
        st.sampled_from(
            [
                "missing key",
                "extra key",
                "wrong shape",
                "wrong dtype",
                "non-finite",
                "renamed",
                "prefixed",
                "scalar",
            ]
        )
    )
    if kind == "missing key":
        del sd[key]
    elif kind == "extra key":
        sd[draw(st.text(min_size=1, max_size=20))] = torch.zeros(draw(st.integers(0, 3)))
    elif kind == "wrong shape":
        shape = draw(st.lists(st.integers(0, 5), min_size=0, max_size=4))
        sd[key] = torch.zeros(shape)
    elif kind == "wrong dtype":
        sd[key] = sd[key].to(draw(st.sampled_from(DTYPES)))
    elif kind == "non-finite":
        flat = sd[key].view(-1)
        flat[draw(st.integers(0, flat.numel() - 1))] = draw(
            st.sampled_from([float("nan"), float("inf"), -float("inf")])
        )
    elif kind == "renamed":
        sd[key.replace("body", draw(st.sampled_from(["net", "model", "Body", "body.body"])))] = sd.pop(key)
    elif kind == "prefixed":  # what DDP and torch.compile add; loading strips them
        sd = {
            draw(st.sampled_from(["module.", "_orig_mod.", "module.module."])) + k: v for k, v in sd.items()
        }
    else:
        sd[key] = torch.tensor(draw(st.floats(allow_nan=False, allow_infinity=False)))
    return kind, sd


def _check_model(model, scale: int | None = 2) -> None:
    """A finite x`scale` model (`scale=None`: whatever scale it declares, which must then fit its output)."""
    scale = model.scale if scale is None else scale
    assert model.scale == scale, model.scale
    out = model(torch.rand(1, 3, 5, 6))
    assert out.shape == (1, 3, 5 * scale, 6 * scale) and torch.isfinite(out).all()


@budget(80)
@given(case=edited_state_dict(), container=st.sampled_from(["srzoo safetensors", "pth params", "pth plain"]))
def test_edited_state_dicts_load_or_raise_weights_error(tmp_path_factory, fuzznet: str, case, container: str):
    kind, sd = case
    folder = tmp_path_factory.mktemp("w")
    if container == "srzoo safetensors":
        path = save_weights(folder / "g.safetensors", sd, arch=fuzznet, kwargs={"width": 4}, scale=2)
    else:
        torch.save({"params": sd} if container == "pth params" else sd, path := folder / "g.pth")
    got = outcome("weights file", kind, lambda: load_model(path, arch=fuzznet), SrzooError)
    if isinstance(got, SrzooError):
        assert isinstance(got, WeightsError), f"{kind}: {type(got).__name__}: {got}"
    else:
        _check_model(got)
    if kind == "non-finite":
        assert isinstance(got, WeightsError) and "non-finite" in str(got), got
    if kind in ("prefixed",):
        assert not isinstance(got, SrzooError), got


@pytest.fixture(scope="module")
def valid_files(tmp_path_factory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("valid")
    sd = _state_dict()
    save_weights(folder / "a.safetensors", sd, arch="fuzznet", kwargs={"width": 4}, scale=2)
    torch.save({"params": sd}, folder / "b.pth")
    save_file(sd, str(folder / "c.safetensors"))
    buf = io.BytesIO()
    torch.save(sd, buf, _use_new_zipfile_serialization=False)  # the legacy (pre-1.6) container
    (folder / "d.pth").write_bytes(buf.getvalue())
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _header_length(safetensors: bytes) -> int:
    return int.from_bytes(safetensors[:8], "little")


@budget(120)
@given(data=st.data())
def test_damaged_weight_files_raise_weights_error(
    tmp_path_factory, valid_files: dict[str, bytes], data
) -> None:
    name = data.draw(st.sampled_from(sorted(valid_files)))
    raw = bytearray(valid_files[name])
    header_hit = False
    kind = data.draw(st.sampled_from(["truncate", "bit flips", "header bytes", "garbage"]))
    if kind == "truncate":
        raw = raw[: data.draw(st.integers(1, len(raw) - 1))]
    elif kind == "garbage":
        raw = bytearray(data.draw(st.binary(min_size=1, max_size=512)))
    else:
        span = len(raw) if kind == "bit flips" else min(len(raw), 128)
        for _ in range(data.draw(st.integers(1, 8))):
            at = data.draw(st.integers(0, span - 1))
            raw[at] ^= 1 << data.draw(st.integers(0, 7))
            # srzoo's safetensors header holds "srzoo.scale": a flipped digit ("2" -> "3") is another valid model
            header_hit = header_hit or (
                name == "a.safetensors" and at < 8 + _header_length(valid_files[name])
            )
    path = tmp_path_factory.mktemp("w") / name
    path.write_bytes(bytes(raw))
    got = outcome("weights file", kind, lambda: load_model(path, arch="fuzznet"), SrzooError)
    if not isinstance(got, SrzooError):
        # a flip in a weight's low bits still loads: it must still be a finite model of the scale it declares
        _check_model(got, None if header_hit else 2)


def test_a_flipped_scale_digit_in_the_header_loads_as_that_scale(
    tmp_path, valid_files: dict[str, bytes]
) -> None:
    # found by the fuzz test above: safetensors has no checksum, so "srzoo.scale":"2" -> "3" is a valid x3 model
    raw = valid_files["a.safetensors"].replace(b'"srzoo.scale":"2"', b'"srzoo.scale":"3"')
    assert raw != valid_files["a.safetensors"]
    (path := tmp_path / "a.safetensors").write_bytes(raw)
    _check_model(load_model(path, arch="fuzznet"), 3)


CONTAINERS = {
    "a tensor": lambda: torch.zeros(3),
    "a list of tensors": lambda: [torch.zeros(3)],
    "an empty dict": dict,
    "a dict of numbers": lambda: {"a": 1, "b": 2.0},
    "int keys": lambda: {0: torch.zeros(3), 1: torch.ones(2)},
    "nested params": lambda: {"params": {"params": {"params": _state_dict()}}},
    "None": lambda: None,
    "a string": lambda: "weights",
}


@pytest.mark.parametrize("case", sorted(CONTAINERS))
def test_containers_that_hold_no_state_dict(tmp_path: Path, case: str) -> None:
    torch.save(CONTAINERS[case](), path := tmp_path / "x.pth")
    got = outcome("weights file", f"holds {case}", lambda: load_model(path, arch="fuzznet"), WeightsError)
    if case == "nested params":
        _check_model(got)
    else:
        assert isinstance(got, WeightsError) and "x.pth" in str(got)


class _Call:
    """Pickles to `func(*args)`: unpickling would call it."""

    def __init__(self, func, *args) -> None:
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def _forbidden(marker: Path) -> dict[str, object]:
    import builtins
    import os
    import subprocess

    return {
        "os.system": _Call(os.system, f"touch {marker}"),
        "subprocess.call": _Call(subprocess.call, ["touch", str(marker)]),
        "builtins.exec": _Call(builtins.exec, f"open({str(marker)!r}, 'w').close()"),
        "builtins.eval": _Call(builtins.eval, f"open({str(marker)!r}, 'w')"),
        "pathlib.Path.touch": _Call(Path.touch, marker),
    }


@pytest.mark.parametrize("wrapper", ["raw pickle", "torch zip"])
@pytest.mark.parametrize("protocol", [0, 2, 5])
def test_pickles_with_forbidden_globals_are_refused_unrun(
    tmp_path: Path, wrapper: str, protocol: int
) -> None:
    marker = tmp_path / "pwned"
    for name, payload in _forbidden(marker).items():
        obj = {"params": {"w": torch.zeros(1), "x": payload}}
        path = tmp_path / f"{name}.pth"
        if wrapper == "raw pickle":
            path.write_bytes(pickle.dumps(obj, protocol=protocol))
        else:  # a real torch zip whose data.pkl is swapped for the hostile pickle
            torch.save({"params": {"w": torch.zeros(1)}}, path)
            with zipfile.ZipFile(path) as z:
                entries = {i.filename: z.read(i) for i in z.infolist()}
            pkl = next(n for n in entries if n.endswith("data.pkl"))
            entries[pkl] = pickle.dumps(obj, protocol=max(protocol, 2))
            with zipfile.ZipFile(path, "w") as z:
                for entry, content in entries.items():
                    z.writestr(entry, content)
        with pytest.raises(WeightsError) as info:
            load_weights_file(path)
        assert "\n" not in str(info.value) and path.name in str(info.value)
        assert not marker.exists(), f"{name} ran while loading"
        record("weights file", f"pickle calling {name}", "WeightsError")


def test_non_finite_weights_are_refused_with_the_tensor_named(tmp_path: Path) -> None:
    sd = _state_dict()
    sd["body.2.bias"][1] = float("nan")
    path = save_weights(tmp_path / "nan.safetensors", sd, arch="fuzznet", kwargs={"width": 4}, scale=2)
    with pytest.raises(WeightsError, match=r"nan.safetensors: tensor 'body.2.bias' holds 1 non-finite value"):
        srzoo.load_model(path)
