"""Export: ONNX parity at a dynamic size, safetensors round trip, BasicSR .pth (spandrel parity: the esrgan plugin)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from srzoo import load_model
from srzoo.cli import main
from srzoo.errors import ConfigError, InputError
from srzoo.framework.weights import load_weights_file
from srzoo.inference.export import ONNX_TOLERANCE, export_model
from tests.test_infer_support import tiny_net_file
from tests.toy import TOY_ARCH


def test_onnx_dynamic_size_matches_pytorch(tmp_path: Path) -> None:
    """x2 toy_sr (sides must be even): traced at one size, checked at another, then run at a third."""
    ort = pytest.importorskip("onnxruntime")
    model = load_model(tiny_net_file(tmp_path, 2), fast=False)
    report = export_model(model, out := tmp_path / "m.onnx", "onnx")
    assert report.max_abs_diff is not None and report.max_abs_diff <= ONNX_TOLERANCE
    assert report.checked_shape == (1, 3, 24, 56) and "max abs diff" in report.summary()
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    x = torch.rand(2, 3, 18, 30)
    got = session.run(None, {"input": x.numpy()})[0]
    assert got.shape == (2, 3, 36, 60)
    assert float(np.abs(got - model(x).numpy()).max()) <= ONNX_TOLERANCE
    meta = {p.key: p.value for p in __import__("onnx").load(str(out)).metadata_props}
    assert (
        meta["srzoo.scale"] == "2" and meta["srzoo.size_multiple"] == "2" and meta["srzoo.arch"] == TOY_ARCH
    )


def test_onnx_that_bakes_its_size_is_refused(tmp_path: Path) -> None:
    """MATLAB bicubic builds its resize matrices from the input size: the check at another size catches it."""
    pytest.importorskip("onnxruntime")
    model = load_model(None, arch="bicubic", scale=2, fast=False)
    with pytest.raises(ConfigError, match="nothing written"):
        export_model(model, tmp_path / "bicubic.onnx", "onnx", exporter="torchscript")
    assert not list(tmp_path.iterdir())


def test_safetensors_export_round_trips(tmp_path: Path) -> None:
    src = tiny_net_file(tmp_path, 4)
    model = load_model(src, fast=False)
    export_model(model, out := tmp_path / "copy.safetensors", "safetensors")
    again = load_model(out, fast=False)
    assert again.card.arch == TOY_ARCH and again.card.kwargs == model.card.kwargs
    x = torch.rand(1, 3, 10, 12)
    assert torch.equal(again(x), model(x))
    with pytest.raises(InputError, match="--overwrite"):
        export_model(model, out, "safetensors")


def test_export_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tiny_net_file(tmp_path, 4)
    assert main(["export", "--model", str(src), "--format", "basicsr", str(tmp_path / "o.pth")]) == 0
    assert "wrote" in capsys.readouterr().out
    assert set(load_weights_file(tmp_path / "o.pth").state_dict) == set(load_weights_file(src).state_dict)
    assert main(["export", "--model", str(src), "--format", "basicsr", str(tmp_path / "o.pth")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists; pass --overwrite" in err
    assert (
        main(["export", "--arch", "bicubic", "--format", "safetensors", str(tmp_path / "b.safetensors")]) == 1
    )
    assert "no weights to export" in capsys.readouterr().err
