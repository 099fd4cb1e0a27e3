"""Bench building blocks: figures, report rendering, set hashing, uint8 output, LPIPS input, tiling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srzoo.eval.bench import _to_uint8, run_bench, set_sha256
from srzoo.eval.figures import FigureRow, Tile, comparison_figure, crop, detail_box
from srzoo.eval.lpips import Lpips
from srzoo.eval.tables import BenchReport, ImageScore, SetResult, best_and_worst


def test_detail_box_finds_the_textured_square() -> None:
    img = np.full((200, 300), 128, np.uint8)
    rng = np.random.default_rng(0)
    img[120:180, 200:260] = rng.integers(0, 256, (60, 60))  # the only detail in a flat image
    top, left, side = detail_box(img, 64)
    assert side == 64
    assert top <= 120 and top + side >= 180 - 16 and left <= 200 and left + side >= 260 - 16
    assert crop(img, (top, left, side)).shape == (64, 64)
    assert detail_box(np.zeros((40, 50, 3), np.uint8), 96) == (0, 0, 40)  # small images: the whole short side


def test_comparison_figure_layout(tmp_path: Path) -> None:
    a = np.zeros((32, 32, 3), np.uint8)
    b = np.full((32, 32), 255, np.uint8)
    rows = [FigureRow("x", [Tile("bicubic 20.00 dB", a), Tile("HR", b)]), FigureRow("y", [Tile("SR", a)])]
    path = comparison_figure(rows, tmp_path / "f.png", title="set x4")
    img = np.array(Image.open(path))
    # Two columns of max(32, label width) plus a gap; a title band and two rows of label+tile+label+gap.
    cell = max(32, 6 * len("bicubic 20.00 dB") + 4)
    assert img.shape == (14 + 4 + 2 * (14 + 32 + 14 + 4), 2 * cell + 4, 3)
    assert (img[18 + 14 : 18 + 14 + 32, cell + 4 : cell + 4 + 32] == 255).all()  # the grey HR tile, as RGB
    with pytest.raises(ValueError):
        comparison_figure([], tmp_path / "g.png")


def _report(unavailable: dict[str, str] | None = None) -> BenchReport:
    metrics = ("psnr", "ssim", "lpips")
    results = []
    for model, offset in (("bicubic", 0.0), ("mynet", 1.0)):
        res = SetResult(model, "Set5", 4, metrics, seconds=2.0, megapixels=1.0)
        for i, p in enumerate((30.0, 25.0, 27.5)):
            lp = None if unavailable else 0.1 * i
            res.images.append(ImageScore(f"im{i}", {"psnr": p + offset, "ssim": 0.8, "lpips": lp}, 0.5))
        results.append(res)
    conv = {"scale": 4, "crop_border": 4, "channel": "y", "sets": {"Set5": {"lr_source": "official"}}}
    return BenchReport(conv, results, metrics, dict(unavailable or {}), show=1)


def test_markdown_table_and_json() -> None:
    report = _report()
    md = report.to_markdown()
    lines = md.splitlines()
    assert lines[0] == "| model | Set5 PSNR | Set5 SSIM | Set5 LPIPS ↓ | s/img | MP/s |"
    assert lines[2] == "| bicubic | 27.50 | 0.8000 | 0.1000 | 0.667 | 0.5 |"
    assert lines[3] == "| mynet | 28.50 | 0.8000 | 0.1000 | 0.667 | 0.5 |"
    assert "crop border 4" in md and "Set5: official" in md
    assert "| im0 | best | 31.00 | 30.00 |" in md and "| im1 | worst | 26.00 | 25.00 |" in md
    data = report.to_json()
    assert (
        data["results"][1]["psnr"] == pytest.approx(28.5) and data["results"][1]["images"][0]["name"] == "im0"
    )
    assert data["results"][0]["seconds_per_image"] == pytest.approx(2 / 3)
    assert data["results"][0]["megapixels_per_second"] == pytest.approx(0.5)


def test_unavailable_metric_cells() -> None:
    report = _report({"lpips": "lpips is not installed"})
    row = report.to_markdown().splitlines()[2]
    assert row.split(" | ")[3] == "unavailable"
    assert report.to_json()["metrics_unavailable"] == {"lpips": "lpips is not installed"}
    assert report.to_json()["results"][0]["lpips"] is None


def test_best_and_worst_never_repeats() -> None:
    res = _report().results[0]
    assert [(k, i.name) for k, i in best_and_worst(res, 1)] == [("best", "im0"), ("worst", "im1")]
    assert [i.name for _, i in best_and_worst(res, 5)] == ["im0", "im2", "im1"]


def test_set_sha256_is_order_free_and_content_bound(tmp_path: Path) -> None:
    (tmp_path / "HR").mkdir()
    a, b = tmp_path / "HR" / "a.png", tmp_path / "HR" / "b.png"
    a.write_bytes(b"1")
    b.write_bytes(b"2")
    first = set_sha256([a, b])
    assert set_sha256([b, a]) == first
    b.write_bytes(b"3")
    changed = set_sha256([a, b])
    assert changed != first
    c = b.rename(tmp_path / "HR" / "c.png")
    assert set_sha256([a, c]) not in (first, changed)  # names count, not only contents


def test_uint8_output_rounds_and_keeps_grey() -> None:
    y = torch.tensor([0.0, 0.5 / 255, 1.49 / 255, 1.51 / 255, 1.2]).reshape(1, 1, 1, 5).repeat(1, 3, 1, 1)
    out = _to_uint8(y, grey=True)
    assert out.shape == (1, 5) and out.tolist() == [[0, 0, 1, 2, 255]]  # round half to even, clamp
    y[:, 1] = 0.0  # a model that added colour to a grey image: keep its RGB, the metrics score it as RGB
    assert _to_uint8(y, grey=True).shape == (1, 5, 3)
    assert _to_uint8(y, grey=False).shape == (1, 5, 3)


def test_lpips_input_scaling() -> None:
    class Probe(torch.nn.Module):
        def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            assert a.shape == (1, 3, 2, 2) and float(a.min()) == -1.0 and float(b.max()) == 1.0
            return (a - b).abs().mean().reshape(1)

    metric = Lpips(Probe(), name="probe", device="cpu")
    sr = np.zeros((4, 4), np.uint8)
    hr = np.full((4, 4, 3), 255, np.uint8)
    assert metric(sr, hr, crop_border=1) == pytest.approx(2.0)
    assert not Lpips(None, name="alex", device="cpu", reason="offline").available


def test_tiled_bench_matches_whole_image(shared_data: Path) -> None:
    whole = run_bench(None, ["set5"], root=shared_data).results[0]
    tiled = run_bench(None, ["set5"], root=shared_data, tile=48, overlap=16).results[0]
    assert tiled.mean("psnr") == pytest.approx(whole.mean("psnr"), abs=0.01)
    assert tiled.mean("ssim") == pytest.approx(whole.mean("ssim"), abs=0.0002)


def test_a_figure_picks_its_images_by_all_the_models_not_the_last() -> None:
    from srzoo.eval.figures import figure_images

    def row(model: str, psnr: dict[str, float]) -> SetResult:
        res = SetResult(model, "set", 4, ("psnr",))
        res.images = [ImageScore(name, {"psnr": v}, 0.0) for name, v in psnr.items()]
        return res

    bicubic = row("bicubic", {"a": 45.0, "b": 10.0, "c": 25.0})  # the baseline's own ranking must not count
    two = row("two", {"a": 32.0, "b": 30.0, "c": 21.0})  # last: alone it picks a (best) and c (worst)
    rows = [bicubic, row("one", {"a": 20.0, "b": 40.0, "c": 25.0}), two]
    assert figure_images(rows, 1) == ["b", "c"]  # means: a 26, b 35, c 23
    rows = [
        bicubic,
        row("one", {"a": 30.0, "b": 40.0, "c": 20.0}),
        row("two", {"a": 32.0, "b": 20.0, "c": 21.0}),
    ]
    assert figure_images(rows, 1) == ["a", "c"]  # means: a 31, b 30, c 20.5; "two" alone: a and b
    assert figure_images(rows[:2], 1) == ["b", "c"]  # one model: its own ranking, as before
    assert figure_images(rows, 0) == ["a", "b", "c"]  # no --show: the first images, in set order
