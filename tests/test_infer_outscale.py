"""`--outscale` / `InferOptions.outscale`: the final size as a multiple of the input's (Real-ESRGAN's option)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srzoo import load_model
from srzoo.cli import main
from srzoo.errors import ConfigError, InputError
from srzoo.imaging.resize import imresize
from srzoo.imaging.wide import write_png16
from srzoo.inference.runner import InferOptions, output_path, output_size, upscale_file


@pytest.fixture(scope="module")
def bicubic2():
    return load_model(None, arch="bicubic", scale=2)


def waves(h: int, w: int) -> np.ndarray:
    """A noiseless uint8 image: slow sinusoids, so two resampling routes to one size agree to a few levels."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    planes = [0.5 + 0.35 * np.sin(xx / (6 + 2 * c) + yy / (9 + c)) for c in range(3)]
    return (np.stack(planes, axis=2) * 255).round().astype(np.uint8)


def run(model, src: Path, **opts: object) -> np.ndarray:
    dst = output_path(src)
    upscale_file(model, src, dst, InferOptions(**opts))
    return np.asarray(Image.open(dst))


def test_output_size_floors_like_real_esrgan_without_float_noise() -> None:
    assert output_size(10, 7, 3.5) == (35, 24)  # int(7 * 3.5) = 24
    assert output_size(100, 7, 2.3) == (230, 16)  # 2.3 * 100 is 229.99999999999997 in floats
    assert output_size(1, 1, 1.0) == (1, 1)
    with pytest.raises(InputError, match="use a larger one"):
        output_size(10, 7, 0.1)  # 7 * 0.1 -> 0 pixels wide
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="outscale"):
            output_size(10, 7, bad)


def test_outscale_equal_to_the_model_scale_changes_nothing(tmp_path: Path, bicubic2) -> None:
    Image.fromarray(waves(20, 30)).save(src := tmp_path / "a.png")
    plain = run(bicubic2, src)
    (tmp_path / "a_sr.png").unlink()
    assert np.array_equal(run(bicubic2, src, outscale=2.0), plain)


def test_outscale_resizes_the_model_output_before_it_is_quantised(tmp_path: Path, bicubic2) -> None:
    rgb = waves(20, 30)
    Image.fromarray(rgb).save(src := tmp_path / "a.png")
    out = run(bicubic2, src, outscale=3.0)
    assert out.shape == (60, 90, 3)
    # the same route by hand: the model's float output resized, quantised once at the end
    x = torch.from_numpy(rgb.astype(np.float32) / 255).permute(2, 0, 1)[None]
    with torch.no_grad():
        by_hand = imresize(bicubic2(x), size=(60, 90))[0].permute(1, 2, 0)
    by_hand = by_hand.mul(255).round().clamp(0, 255).numpy().astype(np.int64)
    assert np.array_equal(out.astype(np.int64), by_hand)
    # and close to resampling x3 in one go: this image is smooth, so the routes differ by a few levels at most
    direct = imresize(x, scale=3)[0].permute(1, 2, 0).mul(255).round().clamp(0, 255).numpy()
    assert np.abs(out.astype(np.int64) - direct.astype(np.int64)).max() <= 3


def test_downscaling_outscale_keeps_a_flat_colour_exact(tmp_path: Path, bicubic2) -> None:
    Image.fromarray(np.full((16, 24, 3), (200, 40, 90), np.uint8)).save(src := tmp_path / "flat.png")
    out = run(bicubic2, src, outscale=0.5)  # x2 model, then shrunk to half the input: antialiased bicubic
    assert out.shape == (8, 12, 3)
    assert (out == np.array([200, 40, 90], np.uint8)).all()


@pytest.mark.parametrize("alpha_mode", ["model", "bicubic"])
def test_alpha_comes_out_at_the_same_size(tmp_path: Path, bicubic2, alpha_mode: str) -> None:
    alpha = np.zeros((20, 30), np.uint8)
    alpha[:, 15:] = 255
    Image.fromarray(np.dstack([waves(20, 30), alpha]), "RGBA").save(src := tmp_path / "a.png")
    out = run(bicubic2, src, outscale=1.5, alpha_mode=alpha_mode)
    assert out.shape == (30, 45, 4)
    assert (out[:, :18, 3] <= 2).all() and (out[:, 27:, 3] >= 253).all()  # the edge stays where it was
    Image.fromarray(np.dstack([waves(20, 30), np.full((20, 30), 255, np.uint8)]), "RGBA").save(
        opaque := tmp_path / "opaque.png"
    )
    assert (run(bicubic2, opaque, outscale=1.5, alpha_mode=alpha_mode)[..., 3] == 255).all()


def test_16bit_stays_16bit_at_the_new_size(tmp_path: Path, bicubic2) -> None:
    rgb16 = waves(12, 16).astype(np.uint16) * 257 + 3
    write_png16(src := tmp_path / "deep.png", rgb16, None)
    dst = output_path(src)
    upscale_file(bicubic2, src, dst, InferOptions(outscale=2.5))
    from srzoo.imaging.files import read_image

    back = read_image(dst)
    assert back.bits == 16 and back.pixels.shape == (30, 40, 3)
    assert back.pixels.max() > 255  # not squeezed through 8 bits


def test_cli_outscale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Image.fromarray(waves(12, 16)).save(src := tmp_path / "a.png")
    code = main(["infer", str(src), "--arch", "bicubic", "--scale", "4", "--outscale", "2"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert Image.open(tmp_path / "a_sr.png").size == (32, 24)
    assert "x4 (resized to x2)" in out
    code = main(["infer", str(src), "--arch", "bicubic", "--outscale", "0.05", "--suffix", "_tiny"])
    out, err = capsys.readouterr()
    assert code == 1 and "Traceback" not in err
    lines = [line for line in err.splitlines() if "use a larger one" in line]
    assert len(lines) == 1 and lines[0].startswith(str(src))
    assert not (tmp_path / "a_tiny.png").exists()
    with pytest.raises(SystemExit) as exit_info:  # argparse: a usage error naming the option, exit 2
        main(["infer", str(src), "--arch", "bicubic", "--outscale", "0"])
    assert exit_info.value.code == 2
    assert "--outscale" in capsys.readouterr().err
