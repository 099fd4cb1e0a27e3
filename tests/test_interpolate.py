"""Network interpolation: exact endpoints, formula, metadata, mismatch errors, CLI, infer --interpolate."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from srzoo import load_model
from srzoo.cli import main
from srzoo.errors import ConfigError, WeightsError
from srzoo.framework.weights import load_weights_file, save_basicsr
from srzoo.inference.interpolate import interpolate_state_dicts, load_interpolated_model, save_interpolation
from tests.test_infer_support import (
    ContextNet,
    context_net_file,
    registered,
    smooth_rgb,
    tiny_net,
    tiny_net_file,
)
from tests.toy import TOY_ARCH


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    return tiny_net_file(tmp_path, 4, seed=1, name="psnr.safetensors"), tiny_net_file(
        tmp_path, 4, seed=2, name="gan.safetensors"
    )


def tensors(path: Path) -> dict[str, torch.Tensor]:
    return load_weights_file(path).state_dict


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_endpoints_reproduce_the_inputs_exactly(
    tmp_path: Path, pair: tuple[Path, Path], alpha: float
) -> None:
    out = save_interpolation(tmp_path / "blend.safetensors", *pair, alpha)
    want = tensors(pair[int(alpha)])
    got = tensors(out)
    assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)


def test_blend_is_the_formula_and_metadata_records_it(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    out = save_interpolation(tmp_path / "blend.safetensors", *pair, 0.8)
    a, b, got = tensors(pair[0]), tensors(pair[1]), tensors(out)
    for key in a:
        assert torch.allclose(got[key], 0.2 * a[key] + 0.8 * b[key], atol=1e-6), key
    assert any(not torch.equal(got[k], a[k]) and not torch.equal(got[k], b[k]) for k in a)
    meta = load_weights_file(out).srzoo_meta
    record = meta["extra"]["interpolation"]
    assert (
        record["alpha"] == 0.8
        and record["psnr_model"] == str(pair[0])
        and record["gan_model"] == str(pair[1])
    )
    assert record["psnr_sha256"] and record["gan_sha256"] and meta["arch"] == TOY_ARCH and meta["scale"] == 4


def test_foreign_basicsr_files_blend_too(tmp_path: Path) -> None:
    save_basicsr(a := tmp_path / "a.pth", tiny_net(4, seed=1).state_dict())
    save_basicsr(b := tmp_path / "b.pth", tiny_net(4, seed=2).state_dict())
    out = save_interpolation(tmp_path / "ab.safetensors", a, b, 0.5, arch=TOY_ARCH)
    assert load_model(out).card.kwargs["num_feat"] == 8


def test_other_arch_or_size_is_a_clear_error(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    wider = tiny_net_file(tmp_path, 4, seed=3, name="wide.safetensors", num_feat=12)
    with pytest.raises(WeightsError, match=r"same arch, scale and size"):
        save_interpolation(tmp_path / "x.safetensors", pair[0], wider, 0.5)
    x2 = tiny_net_file(tmp_path, 2, seed=3)
    with pytest.raises(WeightsError, match=r"toy_sr x4 .*toy_sr x2"):
        save_interpolation(tmp_path / "x.safetensors", pair[0], x2, 0.5)
    with registered("ctx_interp", ContextNet):
        other = context_net_file(tmp_path, "ctx_interp", scale=4)
        with pytest.raises(WeightsError, match=r"ctx_interp"):
            save_interpolation(tmp_path / "x.safetensors", pair[0], other, 0.5)
    assert not (tmp_path / "x.safetensors").exists()


def test_state_dict_key_and_shape_checks() -> None:
    a = {"w": torch.zeros(2, 2), "b": torch.zeros(2)}
    with pytest.raises(WeightsError, match=r"only in B: c"):
        interpolate_state_dicts(a, {**a, "c": torch.zeros(1)}, 0.5)
    with pytest.raises(WeightsError, match=r"w is \(2, 2\) in A but \(3, 2\) in B"):
        interpolate_state_dicts(a, {**a, "w": torch.zeros(3, 2)}, 0.5)
    with pytest.raises(ConfigError, match="outside"):
        interpolate_state_dicts(a, a, 1.5)


def test_cli_and_infer_interpolate_match(tmp_path: Path, pair: tuple[Path, Path], capsys) -> None:
    out = tmp_path / "blend.safetensors"
    args = [
        "interpolate",
        "--psnr-model",
        str(pair[0]),
        "--gan-model",
        str(pair[1]),
        "--alpha",
        "0.3",
        str(out),
    ]
    assert main(args) == 0 and out.is_file()
    assert main(args) == 1 and "--overwrite" in capsys.readouterr().err
    Image.fromarray(smooth_rgb(12, 16)).save(src := tmp_path / "a.png")
    assert main(["infer", str(src), "--model", str(out), "--suffix", "_file"]) == 0
    assert (
        main(["infer", str(src), "--model", str(pair[0]), "--interpolate", str(pair[1]), "--alpha", "0.3"])
        == 0
    )
    from_file = Image.open(tmp_path / "a_file.png").tobytes()
    assert from_file == Image.open(tmp_path / "a_sr.png").tobytes()
    in_memory = load_interpolated_model(*pair, 0.3)
    assert in_memory.card.extra["interpolation"]["alpha"] == 0.3
    assert main(["infer", str(src), "--model", str(pair[0]), "--alpha", "0.3"]) == 1
    assert "--interpolate WEIGHTS and --alpha X go together" in capsys.readouterr().err
