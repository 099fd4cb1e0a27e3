"""Model files made by spandrel's own classes (not srzoo's) run through `srzoo infer`, `bench` and `export`.

srzoo identifies them with this plugin's detector; every output is checked against spandrel's own model on the
same input: within 1e-5 as floats (CPU fp32), and written images within that plus their rounding.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file
from srzoo_spandrel._specs import SPECS
from srzoo_spandrel.archs import network_class
from srzoo_spandrel.detect import detect

from srzoo import ARCHS, WeightsError, load_model
from srzoo.cli import main
from srzoo.data.sets import open_eval_set

TOLERANCE = 1e-5  # CPU fp32, stated before measuring (the same bound as the export round trip)
# SR archs at x2 (their cheapest head), restoration archs at x1; one x3 and one x4 so each head is seen
CASES = {
    "swinir": 2,
    "span": 4,
    "omnisr": 2,
    "realcugan": 3,
    "plksr": 2,
    "dat": 2,
    "scunet": 1,
    "nafnet": 1,
}


def spandrel_net(name: str, scale: int, seed: int = 0) -> torch.nn.Module:
    """spandrel's own network class for srzoo arch `name`, tiny, built without srzoo."""
    spec = SPECS[name]
    cls = network_class(name, scale)
    params = inspect.signature(cls).parameters
    args = {k: v for k, v in {**spec.defaults, **spec.tiny}.items() if k in params}
    if spec.scale_arg is not None:
        args[spec.scale_arg] = scale
    torch.manual_seed(seed)
    return cls(**args).eval()


def save_both(net: torch.nn.Module, folder: Path, stem: str) -> tuple[Path, Path]:
    """The state dict as a plain .pth (BasicSR's {'params': ...}) and as .safetensors, no srzoo metadata."""
    sd = {k: v.detach().clone().contiguous() for k, v in net.state_dict().items()}
    pth, st = folder / f"{stem}.pth", folder / f"{stem}.safetensors"
    torch.save({"params": sd}, pth)
    save_file(sd, str(st))
    return pth, st


def lr_size(name: str) -> tuple[int, int]:
    """(h, w) meeting spandrel's minimum and multiple, not square, so neither side pads; >= 16 for SSIM's window."""
    spec = SPECS[name]
    return spec.lr_side(16), spec.lr_side(16) + spec.multiple


def theirs(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """spandrel's own call of its model (its call_fn, padding and clamp), as its loader returns it."""
    from spandrel import ModelLoader

    desc = ModelLoader(device="cpu").load_from_state_dict(dict(net.state_dict()))
    with torch.inference_mode():
        return desc(x)


def hr_folder(folder: Path, name: str, scale: int, count: int = 2) -> Path:
    """`count` smooth HR images whose bicubic LR at `scale` has the arch's LR size."""
    h, w = lr_size(name)
    folder.mkdir(parents=True)
    yy, xx = np.mgrid[0 : h * scale, 0 : w * scale]
    for i in range(count):
        rgb = [np.sin(xx / (5 + i + c) + yy / (7 + c)) * 0.4 + 0.5 for c in range(3)]
        Image.fromarray((np.stack(rgb, -1) * 255).round().astype(np.uint8)).save(folder / f"img{i}.png")
    return folder


@pytest.mark.parametrize("name", CASES)
def test_detected_and_identical_to_spandrel(name: str, tmp_path: Path) -> None:
    scale = CASES[name]
    net = spandrel_net(name, scale)
    h, w = lr_size(name)
    x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(1))
    want = theirs(net, x)
    with torch.inference_mode():
        raw = net(x)  # unclamped too: random tiny nets leave [0, 1] often, and clamping would hide that
    for path in save_both(net, tmp_path, name):
        model = load_model(path)
        assert (model.card.arch, model.card.scale) == (name, scale), path
        assert model.card.detected_by.startswith("spandrel ") and SPECS[name].module in model.card.detected_by
        got = model(x)
        assert got.shape == want.shape == (1, 3, h * scale, w * scale)
        assert float((got - want).abs().max()) <= TOLERANCE
        with torch.inference_mode():
            raw_ours = model.net(model.prepare(x)).float()
        # relative to the range: random tiny nets (SPAN's img_range 255) reach |y| ~ 10, where fp32 steps are 1e-6
        assert float((raw_ours - raw).abs().max()) <= TOLERANCE * max(1.0, float(raw.abs().max()))


@pytest.mark.parametrize("name", CASES)
def test_cli_infer_and_bench_match_spandrel(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scale = CASES[name]
    net = spandrel_net(name, scale, seed=2)
    pth, st = save_both(net, tmp_path, name)
    h, w = lr_size(name)
    # a 16-bit input: the output's quantisation step (1/65535) is below the tolerance's order
    pixels = (np.random.default_rng(3).random((h, w, 3)) * 65535).round().astype(np.uint16)
    src = tmp_path / "in.png"
    cv2.imwrite(str(src), pixels[:, :, ::-1])
    want = theirs(net, torch.from_numpy(pixels.astype(np.float32) / 65535).permute(2, 0, 1)[None])
    want16 = want[0].permute(1, 2, 0).numpy().astype(np.float64) * 65535
    for path in (pth, st):
        out = tmp_path / path.suffix[1:]
        args = [str(src), "--model", str(path), "--out-dir", str(out), "--device", "cpu", "--tile", "0"]
        assert main(["infer", *args]) == 0, capsys.readouterr().err
        got = cv2.imread(str(out / "in_sr.png"), cv2.IMREAD_UNCHANGED)[:, :, ::-1]
        assert got.dtype == np.uint16 and got.shape == (h * scale, w * scale, 3)
        # within TOLERANCE before rounding to 16 bits
        assert float(np.abs(got - want16).max()) <= 0.5 + TOLERANCE * 65535

    folder = hr_folder(tmp_path / "tiny", name, scale)
    bench_dir = tmp_path / "bench"
    args = ["bench", "--weights", str(st), "--sets", str(folder), "--device", "cpu", "--quiet"]
    assert main([*args, "--out-dir", str(bench_dir), "--save-images"]) == 0, capsys.readouterr().err
    data = json.loads((bench_dir / "results.json").read_text())
    models = data["convention"]["models"]
    assert list(models) == ["bicubic", name]
    assert models[name]["arch"] == name and models[name]["detected_by"].startswith("spandrel ")
    set_name = data["results"][0]["set"]
    for image in open_eval_set(str(folder), scale):
        lr = torch.from_numpy(image.lr.astype(np.float32) / 255).permute(2, 0, 1)[None]
        ref = theirs(net, lr)[0].permute(1, 2, 0).numpy().astype(np.float64) * 255
        saved = np.array(Image.open(bench_dir / "images" / name / set_name / f"{image.name}.png"))
        assert saved.shape == ref.shape
        assert float(np.abs(saved - ref).max()) <= 0.5 + TOLERANCE * 255, image.name


@pytest.mark.parametrize("name", ["scunet", "nafnet"])
def test_restoration_model_exports(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Scale-1 files: `srzoo export` writes srzoo safetensors and BasicSR .pth that reload to the same model."""
    net = spandrel_net(name, 1, seed=4)
    pth, _ = save_both(net, tmp_path, name)
    h, w = lr_size(name)
    x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(5))
    want = theirs(net, x)
    for fmt, out in (("safetensors", tmp_path / "o.safetensors"), ("basicsr", tmp_path / "o.pth")):
        assert main(["export", str(out), "--model", str(pth), "--format", fmt]) == 0, capsys.readouterr().err
        model = load_model(out)
        assert (model.card.arch, model.card.scale) == (name, 1)
        assert float((model(x) - want).abs().max()) <= TOLERANCE
        # srzoo's own file says what it is; the BasicSR one is identified again
        how = model.card.detected_by
        assert how == "srzoo metadata" if fmt == "safetensors" else how.startswith("spandrel ")


def test_native_archs_are_not_claimed(tmp_path: Path) -> None:
    """ESRGAN / Compact files: srzoo-esrgan / -realesrgan read them first; the detector itself refuses them."""
    from spandrel.architectures.Compact import Compact
    from spandrel.architectures.ESRGAN import ESRGAN

    for cls, args, arch, owner in (
        (
            ESRGAN,
            {"in_nc": 3, "out_nc": 3, "num_filters": 8, "num_blocks": 1, "scale": 4},
            "rrdbnet",
            "srzoo-esrgan",
        ),
        (Compact, {"num_feat": 8, "num_conv": 2, "upscale": 4}, "srvgg_compact", "srzoo-realesrgan"),
    ):
        torch.manual_seed(0)
        sd = dict(cls(**args).state_dict())
        with pytest.raises(WeightsError, match="runs natively; install that plugin"):
            detect(dict(sd))
        torch.save(sd, tmp_path / f"{arch}.pth")
        if arch in ARCHS:
            model = load_model(tmp_path / f"{arch}.pth")
            assert model.card.arch == arch and model.card.detected_by.startswith(f"infer_kwargs of {arch!r}")
        else:  # that plugin is not installed: the reason names it
            with pytest.raises(WeightsError, match=owner):
                load_model(tmp_path / f"{arch}.pth")


def test_unknown_file_is_not_claimed_and_odd_kwargs_are_refused() -> None:
    assert detect({"foo.weight": torch.zeros(3, 3)}) is None
    net = spandrel_net("span", 2)
    net.hyperparameters = {**net.hyperparameters, "not_an_arg": 7}  # as a newer spandrel might record
    from unittest import mock

    from spandrel import MAIN_REGISTRY

    real = MAIN_REGISTRY.load

    def load(sd):  # spandrel's answer, with the extra recorded argument
        desc = real(sd)
        desc.model.hyperparameters = dict(net.hyperparameters)
        return desc

    with (
        mock.patch.object(MAIN_REGISTRY, "load", load),
        pytest.raises(WeightsError, match="not_an_arg=7.*not claiming it"),
    ):
        detect(dict(net.state_dict()))


def test_bench_several_spandrel_files_in_one_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`srzoo bench --weights a,b` (archs detected) and `--arch x,y --weights a,b`: one table, bicubic once."""
    span, _ = save_both(spandrel_net("span", 2), tmp_path, "span_model")
    _, omni = save_both(spandrel_net("omnisr", 2), tmp_path, "omni_model")
    folder = hr_folder(tmp_path / "tiny", "omnisr", 2)  # 16x20 LR suits both (SPAN has no size needs)
    common = ["--sets", str(folder), "--device", "cpu", "--quiet"]
    for archs in ([], ["--arch", "span,omnisr"]):
        out = tmp_path / f"out{len(archs)}"
        code = main(["bench", *archs, "--weights", f"{span},{omni}", *common, "--out-dir", str(out)])
        assert code == 0, capsys.readouterr().err
        table = capsys.readouterr().out
        assert [line.split("|")[1].strip() for line in table.splitlines()[2:5]] == [
            "bicubic",
            "span",
            "omnisr",
        ]
        data = json.loads((out / "results.json").read_text())
        models = data["convention"]["models"]
        assert [m["arch"] for m in models.values()] == ["bicubic", "span", "omnisr"]
        assert "SPAN (SPAN)" in models["span"]["detected_by"] and "OmniSR" in models["omnisr"]["detected_by"]
        assert len(list((out / "figures").glob("*.png"))) == 1
