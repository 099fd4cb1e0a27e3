"""Self-ensemble (the 8 symmetries, independent mean, tiling, auto tile, CLI, bench) and Real-ESRGAN's pre-pad."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import Tensor

from srzoo import load_model
from srzoo.cli import main
from srzoo.errors import ConfigError
from srzoo.eval.bench import run_bench
from srzoo.imaging.files import read_image
from srzoo.inference import upscaling
from srzoo.inference.ensemble import TRANSFORMS, forward, inverse
from srzoo.inference.runner import InferOptions, TileStats, choose_tile, upscale, upscale_image
from tests.test_infer_support import ContextNet, context_net_file, registered, smooth_rgb, tiny_net_file

ONE_LEVEL = 1 / 255


def _symmetries() -> list[tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]]:
    """The 8 symmetries of the square written another way: flips of H and/or W, each with or without a
    transpose after them; (transform, its inverse)."""

    def flips(fh: bool, fw: bool) -> Callable[[Tensor], Tensor]:
        dims = [d for d, on in ((-2, fh), (-1, fw)) if on]
        return (lambda t: t.flip(dims)) if dims else (lambda t: t)

    out = []
    for fh in (False, True):
        for fw in (False, True):
            f = flips(fh, fw)
            out.append((f, f))  # a flip undoes itself
            out.append((lambda t, f=f: f(t).transpose(-2, -1), lambda t, f=f: f(t.transpose(-2, -1))))
    return out


def test_the_eight_transforms_are_distinct_and_invert() -> None:
    x = torch.rand(1, 3, 5, 7, generator=torch.Generator().manual_seed(0))
    images = [forward(x, k, flip) for k, flip in TRANSFORMS]
    assert len(TRANSFORMS) == 8 and TRANSFORMS[0] == (0, False)
    for (k, flip), y in zip(TRANSFORMS, images):
        assert y.shape[-2:] == ((5, 7) if k % 2 == 0 else (7, 5))
        assert torch.equal(inverse(y, k, flip), x)
    for i, a in enumerate(images):  # no two transforms give the same image
        assert all(a.shape != b.shape or not torch.equal(a, b) for b in images[i + 1 :])
    # the same group as flips + transpose: each of those images is one of ours
    for f, f_inv in _symmetries():
        assert any(y.shape == f(x).shape and torch.equal(y, f(x)) for y in images)
        assert torch.equal(f_inv(f(x)), x)


def test_bicubic_is_symmetric_so_its_ensemble_is_itself() -> None:
    model = load_model(None, arch="bicubic", scale=4)
    x = torch.rand(1, 3, 13, 21, generator=torch.Generator().manual_seed(1))
    plain = upscale(model, x, tile=None)
    both = upscale(model, x, tile=None, self_ensemble=True)
    assert float((both - plain).abs().max()) < 1e-5


@pytest.mark.parametrize(("scale", "size"), [(4, (23, 31)), (2, (37, 53))])
def test_ensemble_is_the_mean_over_independently_written_symmetries(
    tmp_path: Path, scale: int, size: tuple[int, int]
) -> None:
    """x2 toy_sr needs even sides: the odd input is padded per pass, after its transform."""
    model = load_model(tiny_net_file(tmp_path, scale))
    x = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(scale))
    stats = TileStats()
    got = upscale(model, x, tile=None, self_ensemble=True, stats=stats)
    want = sum(f_inv(upscale(model, f(x), tile=None)) for f, f_inv in _symmetries()) / 8
    plain = upscale(model, x, tile=None)
    assert got.shape == plain.shape == (1, 3, size[0] * scale, size[1] * scale)
    assert stats.tiles == 8
    assert float((got - want).abs().max()) < 1e-5
    assert float((got - plain).abs().max()) > 0.01  # the random net is far from symmetric: the test can fail


def test_tiled_ensemble_equals_untiled_within_one_level(tmp_path: Path) -> None:
    model = load_model(tiny_net_file(tmp_path, 4))
    x = torch.rand(1, 3, 45, 71, generator=torch.Generator().manual_seed(3))
    stats = TileStats()
    tiled = upscale(model, x, tile=40, overlap=16, self_ensemble=True, stats=stats)
    whole = upscale(model, x, tile=None, self_ensemble=True)
    assert stats.tiles >= 16 and stats.tile == 40
    assert float((tiled - whole).abs().max()) <= ONE_LEVEL


def test_auto_tile_keeps_the_reserved_memory_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import psutil

    model = load_model(tiny_net_file(tmp_path, 4))
    real = psutil.virtual_memory()
    monkeypatch.setattr(psutil, "virtual_memory", lambda: real._replace(available=2 << 30))
    roomy = choose_tile(model, 1000, 1000)
    tight = choose_tile(model, 1000, 1000, reserve_bytes=3 << 29)
    assert roomy is not None and tight is not None and 32 <= tight < roomy


def test_outscale_and_ensemble_buffers_are_reserved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """upscale_image tells the tile chooser about the --outscale copy and the ensemble's accumulator."""
    seen: list[int] = []
    real = upscaling.choose_tile

    def spy(model, h, w, overlap=16, reserve_bytes=0):
        seen.append(reserve_bytes)
        return real(model, h, w, overlap, reserve_bytes)

    monkeypatch.setattr(upscaling, "choose_tile", spy)
    Image.fromarray(smooth_rgb(10, 12)).save(src := tmp_path / "a.png")
    model = load_model(tiny_net_file(tmp_path, 4))
    image = read_image(src)
    upscale_image(model, image, InferOptions(outscale=2))
    upscale_image(model, image, InferOptions(outscale=2, self_ensemble=True))
    upscale_image(model, image, InferOptions())
    outscaled, hr_buffer = 4 * 3 * 20 * 24, 4 * 3 * 40 * 48  # float32 RGB at x2 and at x4
    assert seen == [outscaled, outscaled + 2 * hr_buffer, 0]  # the ensemble's sum and a turned-back output


def test_cli_writes_the_ensemble_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Image.fromarray(smooth_rgb(24, 20, seed=4)).save(src := tmp_path / "a.png")
    weights = tiny_net_file(tmp_path, 4)
    code = main(["infer", str(src), "--model", str(weights), "--self-ensemble", "--device", "cpu"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "with 8-way self-ensemble" in out
    model = load_model(weights)
    x = torch.from_numpy(np.asarray(Image.open(src)).transpose(2, 0, 1).copy()).float()[None] / 255
    want = (upscale(model, x, self_ensemble=True)[0] * 255).round().byte().permute(1, 2, 0).numpy()
    got = np.asarray(Image.open(tmp_path / "a_sr.png"))
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1
    plain = (upscale(model, x)[0] * 255).round().byte().permute(1, 2, 0).numpy()
    assert np.abs(got.astype(int) - plain.astype(int)).max() > 2


def test_bench_scores_the_ensemble_and_marks_the_row(tmp_path: Path, shared_data: Path) -> None:
    weights = tiny_net_file(tmp_path, 4)
    model = load_model(weights)
    report = run_bench(
        model, ["set5"], root=shared_data, self_ensemble=True, save_images_dir=tmp_path / "images"
    )
    labels = [r.model for r in report.results]
    assert labels == ["bicubic", f"{model.card.arch}+"]
    assert report.convention["self_ensemble"] is True
    assert "rows marked + are the mean over 8 flips/rotations" in report.to_markdown()
    assert report.results[0].mean("psnr") == pytest.approx(28.43, abs=0.005)  # bicubic: run once, golden
    saved = sorted((tmp_path / "images" / labels[1] / "Set5").glob("*.png"))
    assert len(saved) == 5
    from srzoo.data.sets import open_eval_set

    first = next(iter(open_eval_set("set5", 4, root=shared_data)))
    x = torch.from_numpy(first.lr.transpose(2, 0, 1).copy()).float()[None] / 255
    want = (upscale(model, x, tile=None, self_ensemble=True)[0] * 255).round().byte().permute(1, 2, 0)
    got = np.asarray(Image.open(tmp_path / "images" / labels[1] / "Set5" / f"{first.name}.png"))
    assert np.abs(got.astype(int) - want.numpy().astype(int)).max() <= 1


# -- pre-pad (Real-ESRGAN's --pre_pad) ------------------------------------------------------------------------
def test_pre_pad_is_real_esrgans_reflect_then_crop(tmp_path: Path) -> None:
    """Real-ESRGAN: F.pad(img, (0, p, 0, p), 'reflect'), the net, then crop to (h * s, w * s)."""
    import torch.nn.functional as F

    with registered("ctx_prepad", ContextNet):  # 3 convs: 3 LR pixels of context; x2 pads to even sides
        model = load_model(context_net_file(tmp_path, "ctx_prepad", scale=2, depth=3))
        x = torch.rand(1, 3, 27, 33, generator=torch.Generator().manual_seed(5))
        got = upscale(model, x, tile=None, pre_pad=10)
        padded = F.pad(x, (0, 10, 0, 10), mode="reflect")
        want = upscale(model, padded, tile=None)[..., : 27 * 2, : 33 * 2]
        plain = upscale(model, x, tile=None)
    assert got.shape == plain.shape == (1, 3, 54, 66)
    assert float((got - want).abs().max()) < 1e-6
    # only the last 3 (+1 of padding to even) LR pixels of the bottom and right edges see the padding
    assert float((got - plain)[..., : 2 * (27 - 4), : 2 * (33 - 4)].abs().max()) == 0.0
    assert float((got - plain)[..., 2 * (27 - 4) :, :].abs().max()) > 1e-3
    assert float((got - plain)[..., :, 2 * (33 - 4) :].abs().max()) > 1e-3


def test_pre_pad_on_an_image_smaller_than_the_pad_and_in_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = load_model(tiny_net_file(tmp_path, 4))
    out = upscale(model, torch.rand(1, 3, 3, 5), pre_pad=10)  # reflect needs pad < side: replicated instead
    assert out.shape == (1, 3, 12, 20)
    with pytest.raises(ConfigError, match="pre_pad must be >= 0"):
        upscale(model, torch.rand(1, 3, 8, 8), pre_pad=-1)
    Image.fromarray(smooth_rgb(20, 24, seed=6)).save(src := tmp_path / "a.png")
    weights = tiny_net_file(tmp_path, 4)
    assert main(["infer", str(src), "--model", str(weights), "--pre-pad", "10", "--device", "cpu"]) == 0
    x = torch.from_numpy(np.asarray(Image.open(src)).transpose(2, 0, 1).copy()).float()[None] / 255
    want = (upscale(model, x, pre_pad=10)[0] * 255).round().byte().permute(1, 2, 0).numpy()
    got = np.asarray(Image.open(tmp_path / "a_sr.png"))
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:  # argparse: a usage error naming the option
        main(["infer", str(src), "--model", str(weights), "--pre-pad", "-3"])
    assert exit_info.value.code == 2 and "--pre-pad" in capsys.readouterr().err
