"""`srzoo bench`: golden bicubic numbers, a third-party arch, on-the-fly LR, optional metrics, bad input."""

from __future__ import annotations

import json
import shutil
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from srzoo.cli import main
from srzoo.errors import ConfigError, DataError, SrzooError, UnknownNameError, WeightsError
from srzoo.eval.bench import run_bench, set_sha256
from srzoo.eval.metrics import psnr
from srzoo.framework.descriptors import Capabilities, PretrainedWeights, describe_arch
from srzoo.framework.registries import ARCHS
from srzoo.framework.weights import save_weights
from srzoo.inference.model import load_model

# x4 bicubic baseline, official LR files, MATLAB bicubic up, Y, border 4 (../shared/README.md).
GOLDEN = {"set5": (28.43, 0.8111, 5), "set14": (26.09, 0.7048, 14), "bsd100": (25.96, 0.6681, 100)}
TINY = "tiny_thirdparty_sr"


def test_golden_bicubic_x4(shared_data: Path) -> None:
    report = run_bench(None, list(GOLDEN), scale=4, root=shared_data)
    assert report.models == ["bicubic"]
    assert len(report.results) == 3
    for result, (name, (want_psnr, want_ssim, count)) in zip(report.results, GOLDEN.items()):
        assert result.set.lower() == name
        assert len(result.images) == count
        assert result.mean("psnr") == pytest.approx(want_psnr, abs=0.005), name
        assert result.mean("ssim") == pytest.approx(want_ssim, abs=0.0005), name
        assert report.convention["sets"][result.set]["lr_source"] == "official"
    conv = report.convention
    assert (conv["channel"], conv["crop_border"], conv["scale"], conv["precision"]) == ("y", 4, 4, "fp32")
    assert conv["weights_sha256"] is None and conv["device"] == "cpu"
    assert conv["plugins"]["srzoo-toy"] == "1.0"  # every installed plugin distribution, with its version


class TinySR(nn.Module):
    """A throwaway 'third-party' arch: nearest upsampling plus a learned residual (zeroed in tests)."""

    def __init__(self, scale: int = 4, num_feat: int = 8) -> None:
        super().__init__()
        self.scale = scale
        self.body = nn.Conv2d(3, num_feat, 3, 1, 1)
        self.tail = nn.Conv2d(num_feat, 3 * scale * scale, 3, 1, 1)
        self.shuffle = nn.PixelShuffle(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The residual needs an LR side that is a multiple of 8 (declared below), so the bench must pad.
        assert x.shape[-1] % 8 == 0 and x.shape[-2] % 8 == 0, tuple(x.shape)
        up = nn.functional.interpolate(x, scale_factor=self.scale, mode="nearest")
        return up + self.shuffle(self.tail(torch.relu(self.body(x))))


@pytest.fixture
def tiny_weights(tmp_path: Path) -> Iterator[Path]:
    """TinySR registered at run time by a pretend distribution; its zero-residual weights saved by srzoo."""
    # A subclass per registration: describe_arch annotates the class object it is given.
    arch = type("ThirdPartySR", (TinySR,), {})
    describe_arch(capabilities=Capabilities(scales=(4,), size_multiple=8, license="MIT"))(arch)
    ARCHS.register(TINY, arch, dist="thirdparty-demo")
    try:
        net = TinySR(scale=4, num_feat=8)
        for p in net.tail.parameters():
            nn.init.zeros_(
                p
            )  # output == nearest upsampling exactly, so the expected PSNR is computable by hand
        yield save_weights(
            tmp_path / "tiny.safetensors", net.state_dict(), arch=TINY, kwargs={"num_feat": 8}, scale=4
        )
    finally:
        ARCHS.unregister(TINY)


def _pil(path: Path) -> np.ndarray:
    return np.array(Image.open(path))


def test_third_party_arch_is_benched_and_padded(
    shared_data: Path, tiny_weights: Path, tmp_path: Path
) -> None:
    model = load_model(tiny_weights)
    assert model.card.arch == TINY
    report = run_bench(
        model, ["set5"], root=shared_data, save_images_dir=tmp_path / "img", figures_dir=tmp_path
    )
    assert report.models == ["bicubic", TINY]
    tiny, bicubic = report.result(TINY, report.sets[0]), report.result("bicubic", report.sets[0])
    for img in tiny.images:
        hr = _pil(shared_data / "Set5" / "HR" / f"{img.name}.png")
        lr = _pil(shared_data / "Set5" / "LR_bicubic" / "X4" / f"{img.name}x4.png")
        nearest = lr.repeat(4, axis=0).repeat(4, axis=1)
        hr = hr[: nearest.shape[0], : nearest.shape[1]]
        assert img.scores["psnr"] == pytest.approx(psnr(nearest, hr, crop_border=4), abs=1e-9), img.name
        saved = _pil(tmp_path / "img" / TINY / report.sets[0] / f"{img.name}.png")
        assert np.array_equal(saved, nearest)
    # Nearest neighbour loses to bicubic by well over a dB on Set5.
    assert bicubic.mean("psnr") - tiny.mean("psnr") > 1.0
    assert report.convention["weights_sha256"] == model.card.weights_sha256 is not None
    assert report.convention["models"][TINY]["kwargs"] == {"num_feat": 8}
    assert tiny.seconds > 0 and tiny.megapixels == pytest.approx(
        sum(h * w for h, w in _hr_sizes(shared_data)) / 1e6
    )
    figure = report.figures[report.sets[0]]
    assert figure.is_file() and figure.stat().st_size < 300_000


def _hr_sizes(shared_data: Path) -> list[tuple[int, int]]:
    out = []
    for path in sorted((shared_data / "Set5" / "HR").glob("*.png")):
        w, h = Image.open(path).size
        out.append((h - h % 4, w - w % 4))
    return out


def test_cli_benches_third_party_weights_and_writes_json(
    shared_data: Path, tiny_weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main(
        [
            *("bench", "--weights", str(tiny_weights), "--sets", "set5", "--data-root", str(shared_data)),
            *("--out-dir", str(out), "--json", str(tmp_path / "r.json"), "--show", "1", "--device", "cpu"),
            *("--cpu-conv", "onednn"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    table = capsys.readouterr().out
    data = json.loads((out / "results.json").read_text())
    assert data["convention"]["conv_kernel"] == "onednn" and "fp32, convs onednn;" in table
    assert data == json.loads((tmp_path / "r.json").read_text())
    assert (out / "results.md").read_text() == table
    rows = {r["model"]: r for r in data["results"]}
    assert set(rows) == {"bicubic", TINY}
    for model, row in rows.items():
        line = next(x for x in table.splitlines() if x.startswith(f"| {model} |"))
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[1:3] == [f"{row['psnr']:.2f}", f"{row['ssim']:.4f}"]
        assert row["psnr"] == pytest.approx(np.mean([i["psnr"] for i in row["images"]]), abs=1e-12)
        assert row["scale"] == 4 and len(row["images"]) == 5
    assert "best and worst 1 by PSNR" in table and "| best |" in table and "| worst |" in table
    assert data["convention"]["sets"][rows[TINY]["set"]]["sha256"] == set_sha256(
        sorted((shared_data / "Set5" / "HR").glob("*.png"))
        + sorted((shared_data / "Set5" / "LR_bicubic" / "X4").glob("*.png"))
    )
    assert (out / "figures" / f"{rows[TINY]['set']}.png").is_file()


def test_folder_of_hr_images_gets_lr_on_the_fly(shared_data: Path, tmp_path: Path) -> None:
    folder = tmp_path / "myset"
    folder.mkdir()
    for name in ("baby", "bird", "woman"):
        shutil.copy(shared_data / "Set5" / "HR" / f"{name}.png", folder / f"{name}.png")
    report = run_bench(None, ["set5", str(folder)], scale=4, root=shared_data)
    official, onthefly = report.results
    assert report.convention["sets"][onthefly.set]["lr_source"] != "official"
    # The official LR files are bit-exact MATLAB bicubic, so srzoo's on-the-fly LR scores the same.
    by_name = {i.name: i.scores for i in official.images}
    assert len(onthefly.images) == 3
    for img in onthefly.images:
        assert img.scores == pytest.approx(by_name[img.name], abs=1e-12)


def test_lpips_unavailable_when_package_missing(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "lpips", None)  # makes `import lpips` raise ImportError
    code = main(
        [
            "bench",
            "--arch",
            "bicubic",
            "--sets",
            "set5",
            "--data-root",
            str(shared_data),
            "--metrics",
            "psnr,lpips",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    row = next(x for x in out.splitlines() if x.startswith("| bicubic |"))
    assert [c.strip() for c in row.strip("|").split("|")][1:3] == ["28.43", "unavailable"]
    assert "LPIPS unavailable: lpips is not installed" in out


def _fake_lpips(monkeypatch: pytest.MonkeyPatch, fail: Exception | None) -> None:
    class FakeLPIPS(nn.Module):
        def __init__(self, net: str, verbose: bool) -> None:
            super().__init__()
            if fail is not None:
                raise fail

        def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return (a - b).abs().mean(dim=(1, 2, 3))

    monkeypatch.setitem(sys.modules, "lpips", types.SimpleNamespace(LPIPS=FakeLPIPS))


def test_lpips_offline_backbone_is_unavailable_not_fatal(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_lpips(monkeypatch, OSError("<urlopen error [Errno -3] Temporary failure in name resolution>"))
    report = run_bench(None, ["set5"], root=shared_data, metrics=["psnr", "ssim", "lpips"])
    assert "name resolution" in report.unavailable["lpips"]
    assert report.results[0].mean("lpips") is None
    assert report.to_json()["results"][0]["lpips"] is None
    assert report.results[0].mean("psnr") == pytest.approx(28.43, abs=0.005)


def test_lpips_column_when_available(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _fake_lpips(monkeypatch, None)
    report = run_bench(None, ["set5"], root=shared_data, metrics=["lpips"], save_images_dir=tmp_path)
    assert report.metrics == ("psnr", "lpips") and not report.unavailable
    img = report.results[0].images[0]
    sr = _pil(tmp_path / "bicubic" / report.sets[0] / f"{img.name}.png").astype(np.float64)[4:-4, 4:-4]
    hr = _pil(shared_data / "Set5" / "HR" / f"{img.name}.png")[: sr.shape[0] + 8, : sr.shape[1] + 8][
        4:-4, 4:-4
    ]
    assert img.scores["lpips"] == pytest.approx(np.abs(sr - hr).mean() / 127.5, rel=1e-5)


def test_niqe_column_and_unavailable(
    shared_data: Path, niqe_params_file: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from srzoo.eval import metrics

    monkeypatch.setenv("SRZOO_NIQE_PARAMS", str(niqe_params_file))
    report = run_bench(
        None, ["set5"], root=shared_data, metrics=["psnr", "ssim", "niqe"], save_images_dir=tmp_path
    )
    img = report.results[0].images[1]
    saved = _pil(tmp_path / "bicubic" / report.sets[0] / f"{img.name}.png")
    assert img.scores["niqe"] == pytest.approx(
        metrics.niqe(saved, crop_border=4, params=niqe_params_file), abs=1e-9
    )
    assert 4.0 < report.results[0].mean("niqe") < 15.0  # bicubic blur: far from pristine (~3)

    def offline(**_: object) -> Path:
        raise DataError("cannot download NIQE parameters: no network")

    monkeypatch.setattr(metrics, "niqe_params_path", offline)
    report = run_bench(None, ["set5"], root=shared_data, metrics=["niqe"])
    assert "no network" in report.unavailable["niqe"] and "unavailable" in report.to_markdown()


def test_bad_input_is_one_clear_error(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(UnknownNameError, match="did you mean"):
        run_bench(None, ["set55"], root=shared_data)
    with pytest.raises(UnknownNameError, match="did you mean 'ssim'"):
        run_bench(None, ["set5"], root=shared_data, metrics=["psnr", "ssmi"])
    with pytest.raises(DataError, match=str(tmp_path / "empty").replace("\\", "\\\\")):
        run_bench(None, ["set5"], root=tmp_path / "empty")
    broken = tmp_path / "broken"
    broken.mkdir()
    shutil.copy(shared_data / "Set5" / "HR" / "bird.png", broken / "bird.png")
    (broken / "zz_bad.png").write_bytes(b"this is not a png")
    with pytest.raises(SrzooError, match=r"zz_bad\.png"):
        run_bench(None, [str(broken)], root=shared_data)
    assert main(["bench", "--arch", "toy_srr", "--sets", "set5", "--data-root", str(shared_data)]) == 1
    assert "did you mean 'toy_sr'" in capsys.readouterr().err
    assert main(["bench", "--arch", "bicubic", "--sets", "set5", "--save-images"]) == 1
    assert "--save-images needs --out-dir" in capsys.readouterr().err


def test_arch_with_parameters_needs_weights(tiny_weights: Path, shared_data: Path) -> None:
    from srzoo.cli.bench import load_bench_model

    with pytest.raises(WeightsError, match=f"arch '{TINY}' has parameters .* pass --weights"):
        load_bench_model(TINY, None, scale=4, device="cpu", precision="fp32")
    with pytest.raises(ConfigError, match="x4 but the bench asks for x2"):
        run_bench(load_model(tiny_weights), ["set5"], scale=2, root=shared_data)


def test_arch_without_weights_uses_its_default_zoo_tag(tiny_weights: Path, shared_data: Path) -> None:
    from srzoo.cli.bench import load_bench_model
    from srzoo.framework.files import sha256_file

    entry = PretrainedWeights(
        tag="demo",
        url=tiny_weights.as_uri(),
        sha256=sha256_file(tiny_weights),
        scale=4,
        kwargs={"num_feat": 8},
    )
    arch = type("ZooSR", (TinySR,), {})
    describe_arch(capabilities=Capabilities(scales=(4,), size_multiple=8), pretrained=(entry,))(arch)
    ARCHS.register("tiny_zoo_sr", arch, dist="thirdparty-demo")
    try:
        model = load_bench_model("tiny_zoo_sr", None, scale=None, device="cpu", precision="fp32")
    finally:
        ARCHS.unregister("tiny_zoo_sr")
    assert model.card.arch == "tiny_zoo_sr" and model.card.weights_sha256 == entry.sha256
    assert Path(model.card.source).parent.name == "weights"  # downloaded into $SRZOO_CACHE/weights
