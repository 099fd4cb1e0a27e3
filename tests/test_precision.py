"""Precision capability: both branches (native / not) decided up front, on any machine by patching the check."""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srzoo.cli import main
from srzoo.errors import WeightsError
from srzoo.inference import fastpath, precision
from srzoo.inference.fastpath import FusedConv2d
from srzoo.inference.model import load_model
from srzoo.inference.precision import PrecisionError, default_precision, require, support

CL = torch.channels_last


@pytest.fixture(params=[False, True], ids=["avx2-like", "bf16-native"])
def native(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Pretend this CPU has / lacks oneDNN bf16 kernels (the one check everything else asks)."""
    monkeypatch.setattr(precision, "cpu_bf16_native", lambda: request.param)
    monkeypatch.setattr(precision, "cpu_isa", lambda: "AVX512" if request.param else "AVX2")
    return request.param


def test_fp32_always_runs_and_unknown_precisions_are_config_errors() -> None:
    assert support("fp32", "cpu").native
    require("fp32", "cpu")
    with pytest.raises(precision.ConfigError, match="not one of fp32, fp16, bf16"):
        support("fp8", "cpu")


def test_cpu_bf16_support_follows_the_check(native: bool) -> None:
    found = support("bf16", "cpu")
    assert found.native is native
    if native:
        require("bf16", "cpu")
        return
    assert found.why == ("this CPU (AVX2) has no native bf16 (needs AVX-512 BW/VL/DQ, AVX-NE-CONVERT or AMX)")
    with pytest.raises(PrecisionError) as err:
        require("bf16", "cpu")
    assert str(err.value).endswith("; use --precision fp32") and "\n" not in str(err.value)
    assert err.value.exit_code == 2


def test_load_model_decides_before_reading_weights(native: bool, tmp_path: Path) -> None:
    missing = tmp_path / "nothing_here.pth"
    # refused: the precision error comes first; allowed: the check passes and the missing file is reported
    with pytest.raises(WeightsError if native else PrecisionError):
        load_model(missing, precision="bf16")


def _one_image(folder: Path) -> Path:
    folder.mkdir()
    Image.fromarray(np.full((8, 8, 3), 128, np.uint8)).save(folder / "a.png")
    return folder


def test_infer_refuses_up_front_with_exit_2(
    native: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from srzoo.inference import runner

    src = _one_image(tmp_path / "in")
    reads: list[Path] = []
    real = runner.upscale_file
    monkeypatch.setattr(runner, "upscale_file", lambda m, s, *a, **k: reads.append(s) or real(m, s, *a, **k))
    argv = ["infer", str(src), "--arch", "bicubic", "--precision", "bf16", "--device", "cpu"]
    code = main([*argv, "--out-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    if native:  # bicubic has no convs: bf16 runs anywhere once the check lets it
        assert code == 0 and (tmp_path / "out" / "a_sr.png").is_file()
        return
    assert code == 2 and reads == [] and not (tmp_path / "out").exists()
    assert err == (
        "srzoo infer: error: this CPU (AVX2) has no native bf16 (needs AVX-512 BW/VL/DQ, AVX-NE-CONVERT "
        "or AMX); use --precision fp32"
    )


def test_bench_refuses_before_opening_sets(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(precision, "cpu_bf16_native", lambda: False)
    argv = ["bench", "--arch", "bicubic", "--sets", str(tmp_path / "no_such_set"), "--precision", "bf16"]
    assert main([*argv, "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "no native bf16" in err and "no_such_set" not in err and len(err.strip().splitlines()) == 1


def test_default_precision_never_picks_what_the_device_cannot_run(monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_precision("cpu") == "fp32"
    ok = {"fp16": True}
    monkeypatch.setattr(precision, "support", lambda p, d: types.SimpleNamespace(native=ok[p]))
    assert default_precision("cuda") == "fp16"
    assert default_precision("cuda", fp16_safe=False) == "fp32"
    ok["fp16"] = False
    assert default_precision("cuda") == "fp32"


@pytest.mark.parametrize(("major", "bf16"), [(7, False), (8, True), (9, True)])
def test_cuda_bf16_needs_ampere(monkeypatch: pytest.MonkeyPatch, major: int, bf16: bool) -> None:
    props = types.SimpleNamespace(name="Some GPU", major=major, minor=5)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda index: props)
    monkeypatch.setattr(torch.version, "hip", None)
    assert support("fp16", "cuda").native
    found = support("bf16", "cuda:0")
    assert found.native is bf16
    if not bf16:
        assert found.why == f"this GPU (Some GPU, sm_{major}5) has no native bf16 (needs sm_80+)"


def test_fast_path_packs_bf16_only_where_onednn_can(monkeypatch: pytest.MonkeyPatch, native: bool) -> None:
    monkeypatch.setattr(fastpath, "_onednn_bf16", lambda: native)
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(8, 8, 3, 1, 1).requires_grad_(False)
    w, b = conv.weight.clone(), conv.bias.clone()  # fp32 copies: the fused module shares (and casts) conv's
    fused = FusedConv2d(conv.to(memory_format=CL), act="relu").to(torch.bfloat16)
    x = torch.rand(1, 8, 10, 10).to(torch.bfloat16).contiguous(memory_format=CL)
    assert fused._kernel(x, None) == ("onednn" if native else "reference")
    if not native:  # the plain bf16 ops run on any CPU: close to fp32
        with torch.inference_mode():
            ref = torch.relu(torch.nn.functional.conv2d(x.float(), w, b, padding=1))
            assert (fused(x).float() - ref).abs().max() < 0.05


@pytest.mark.native_bf16
def test_bf16_weights_are_packed_for_onednn_where_native() -> None:
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(8, 8, 3, 1, 1).requires_grad_(False)
    w, b = conv.weight.clone(), conv.bias.clone()  # fp32 copies: the fused module shares (and casts) conv's
    fused = FusedConv2d(conv.to(memory_format=CL), act="relu").to(torch.bfloat16)
    x = torch.rand(1, 8, 10, 10).to(torch.bfloat16).contiguous(memory_format=CL)
    with torch.inference_mode():
        y = fused(x)
        ref = torch.relu(torch.nn.functional.conv2d(x.float(), w, b, padding=1))
    assert fastpath._PACKED[fused][0][0] == torch.bfloat16  # the oneDNN kernel ran, not the fallback
    assert (y.float() - ref).abs().max() < 0.05


def test_training_refuses_emulated_bf16_at_start(monkeypatch: pytest.MonkeyPatch, native: bool) -> None:
    from srzoo.train.accel import make_accelerator

    assert make_accelerator("no").mixed_precision == "no"
    if native:
        assert make_accelerator("bf16").mixed_precision == "bf16"
        return
    with pytest.raises(PrecisionError, match=r"no native bf16 .*; use train.mixed_precision: no"):
        make_accelerator("bf16")


def test_cpu_info_names_the_isa() -> None:
    info = precision.cpu_info()
    assert info["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert info["cpu_bf16_native"] is precision.cpu_bf16_native()
    assert set(info["cpu_isa_flags"]) <= set(precision.ISA_FLAGS)
