"""Image modes through `upscale_file`: RGB, RGBA, grey, palette, 16-bit, EXIF orientation, ICC, formats."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms

from srzoo import load_model
from srzoo.imaging.files import _orient, read_image, to_tensor
from srzoo.imaging.resize import imresize_levels
from srzoo.imaging.wide import write_png16
from srzoo.inference.runner import InferOptions, output_path, upscale_file
from tests.test_infer_support import smooth_rgb

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.fixture(scope="module")
def bicubic2():
    return load_model(None, arch="bicubic", scale=2)


def expected(array: np.ndarray, bits: int = 8) -> np.ndarray:
    """MATLAB `imresize(x, 2)` of a uint array in its own class (rounded and saturated after each pass, as
    MATLAB does for uint8/uint16): what the bicubic model must give."""
    peak = 65535 if bits == 16 else 255
    levels = torch.from_numpy(array.astype(np.float64))
    levels = levels[None] if levels.ndim == 2 else levels.permute(2, 0, 1)
    t = imresize_levels(levels, scale=2, peak=peak)
    out = t[0] if t.shape[0] == 1 else t.permute(1, 2, 0)
    return out.numpy().astype(np.int64)


def run(model, src: Path, fmt: str | None = None, **opts: object) -> Path:
    dst = output_path(src, format=fmt)
    upscale_file(model, src, dst, InferOptions(**opts))
    return dst


def test_rgb_png(tmp_path: Path, bicubic2) -> None:
    rgb = smooth_rgb(20, 30)
    Image.fromarray(rgb).save(src := tmp_path / "a.png")
    out = Image.open(run(bicubic2, src))
    assert out.mode == "RGB" and out.size == (60, 40)
    assert np.abs(np.asarray(out).astype(np.int64) - expected(rgb)).max() <= 1


@pytest.mark.parametrize("alpha_mode", ["model", "bicubic"])
def test_rgba_alpha_upscaled_separately(tmp_path: Path, bicubic2, alpha_mode: str) -> None:
    rgb = smooth_rgb(20, 30)
    alpha = np.zeros((20, 30), np.uint8)
    alpha[:, 15:] = 255
    alpha[5:9, :] = 128
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(src := tmp_path / "rgba.png")
    out = np.asarray(Image.open(run(bicubic2, src, alpha_mode=alpha_mode)))
    assert out.shape == (40, 60, 4)
    assert np.abs(out[..., :3].astype(np.int64) - expected(rgb)).max() <= 1
    assert np.abs(out[..., 3].astype(np.int64) - expected(alpha)).max() <= 1


def test_greyscale_processed_as_rgb_saved_as_l(tmp_path: Path, bicubic2) -> None:
    grey = smooth_rgb(16, 24)[..., 0]
    Image.fromarray(grey, "L").save(src := tmp_path / "g.png")
    out = Image.open(run(bicubic2, src))
    assert out.mode == "L"
    assert np.abs(np.asarray(out).astype(np.int64) - expected(grey)).max() <= 1


def test_palette_becomes_rgb_or_rgba(tmp_path: Path, bicubic2) -> None:
    pal = Image.fromarray(smooth_rgb(16, 24)).convert("P", palette=Image.Palette.ADAPTIVE, colors=32)
    pal.save(src := tmp_path / "p.png")
    assert Image.open(run(bicubic2, src)).mode == "RGB"
    pal.save(src2 := tmp_path / "pt.png", transparency=0)
    out = Image.open(run(bicubic2, src2))
    assert out.mode == "RGBA" and np.asarray(out)[..., 3].min() < 255


def test_16bit_grey_png_round_trip(tmp_path: Path, bicubic2) -> None:
    grey = (np.linspace(0, 65535, 16 * 24).reshape(16, 24) * 0.9 + 1000).astype(np.uint16)
    Image.fromarray(grey).save(src := tmp_path / "g16.png")
    assert read_image(src).pixels.dtype == np.uint16
    out = Image.open(run(bicubic2, src))
    assert out.mode.startswith("I;16")
    values = np.asarray(out).astype(np.int64)
    assert np.abs(values - expected(grey, 16)).max() <= 1
    assert np.any(values % 257 != 0)  # real 16-bit precision, not 8-bit values widened


@pytest.mark.parametrize("with_alpha", [False, True])
def test_16bit_rgb_png_round_trip(tmp_path: Path, bicubic2, with_alpha: bool) -> None:
    import cv2

    rgb = smooth_rgb(16, 24).astype(np.uint16) * 257 + 7
    alpha = np.full((16, 24), 40000, np.uint16) if with_alpha else None
    write_png16(src := tmp_path / "c16.png", rgb, alpha, SRGB, None)
    loaded = read_image(src)
    assert loaded.pixels.dtype == np.uint16 and np.array_equal(loaded.pixels, rgb)
    assert loaded.icc_profile == SRGB
    dst = run(bicubic2, src)
    data = cv2.imdecode(np.fromfile(dst, np.uint8), cv2.IMREAD_UNCHANGED)
    assert data.dtype == np.uint16 and data.shape == (32, 48, 4 if with_alpha else 3)
    assert np.abs(data[..., 2::-1].astype(np.int64) - expected(rgb, 16)).max() <= 1
    if with_alpha:
        assert np.abs(data[..., 3].astype(np.int64) - 40000).max() <= 1
    assert Image.open(dst).info.get("icc_profile") == SRGB


def test_exif_orientation_applied_and_tag_dropped(tmp_path: Path, bicubic2) -> None:
    rgb = smooth_rgb(10, 30)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    exif[0x010F] = "srzoo-test"  # Make: other tags survive
    Image.fromarray(rgb).save(src := tmp_path / "o.jpg", exif=exif.tobytes(), quality=100)
    out = Image.open(run(bicubic2, src))
    assert out.size == (20, 60)  # (w, h): upright is 30 high, 10 wide → x2
    kept = out.getexif()
    assert 0x0112 not in kept and kept.get(0x010F) == "srzoo-test"
    upright = np.asarray(Image.open(src).transpose(Image.Transpose.ROTATE_270))
    assert np.abs(np.asarray(out).astype(np.int64) - expected(upright)).mean() < 3


def test_orientation_matches_pillow_for_all_eight() -> None:
    from PIL import ImageOps

    arr = smooth_rgb(5, 7)
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, "PNG", exif=exif.tobytes())
        buf.seek(0)
        want = np.asarray(ImageOps.exif_transpose(Image.open(buf)))
        assert np.array_equal(_orient(arr, orientation), want), orientation


@pytest.mark.parametrize(("fmt", "ext", "save"), [("JPEG", ".jpg", {"quality": 95}), ("PNG", ".png", {})])
def test_icc_profile_kept(tmp_path: Path, bicubic2, fmt: str, ext: str, save: dict) -> None:
    Image.fromarray(smooth_rgb(16, 16)).save(src := tmp_path / f"icc{ext}", fmt, icc_profile=SRGB, **save)
    assert Image.open(run(bicubic2, src)).info.get("icc_profile") == SRGB


@pytest.mark.parametrize(
    ("ext", "fmt"),
    [(".jpg", "JPEG"), (".jpeg", "JPEG"), (".webp", "WEBP"), (".tif", "TIFF"), (".bmp", "BMP")],
)
def test_same_format_out(tmp_path: Path, bicubic2, ext: str, fmt: str) -> None:
    Image.fromarray(smooth_rgb(16, 20)).save(src := tmp_path / f"in{ext}")
    dst = run(bicubic2, src)
    assert dst.name == f"in_sr{ext}"
    with Image.open(dst) as out:
        assert out.format == fmt and out.size == (40, 32)


def test_format_override(tmp_path: Path, bicubic2) -> None:
    Image.fromarray(smooth_rgb(16, 20)).save(src := tmp_path / "in.png")
    dst = run(bicubic2, src, fmt="webp")
    assert dst.name == "in_sr.webp" and Image.open(dst).format == "WEBP"


def test_cmyk_jpeg_becomes_rgb_without_its_profile(tmp_path: Path, bicubic2) -> None:
    cmyk = Image.fromarray(smooth_rgb(16, 20)).convert("CMYK")
    cmyk.save(src := tmp_path / "cmyk.jpg", quality=95)
    out = Image.open(run(bicubic2, src))
    assert out.mode == "RGB" and out.size == (40, 32)
    rgb = np.asarray(Image.open(src).convert("RGB"))
    assert np.abs(np.asarray(out).astype(np.int64) - expected(rgb)).mean() < 4


def test_alpha_flattened_when_the_format_has_none(tmp_path: Path, bicubic2) -> None:
    rgba = np.dstack([np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8)])
    Image.fromarray(rgba, "RGBA").save(src := tmp_path / "t.png")
    out = np.asarray(Image.open(run(bicubic2, src, fmt="jpg")))
    assert out.shape == (16, 16, 3) and out.min() > 250  # transparent black → white


def test_python_api_is_what_the_cli_runs(tmp_path: Path, bicubic2) -> None:
    from srzoo.cli import main

    Image.fromarray(smooth_rgb(20, 30)).save(src := tmp_path / "a.png")
    assert (
        main(["infer", str(src), "--arch", "bicubic", "--scale", "2", "--out-dir", str(tmp_path / "cli")])
        == 0
    )
    api = run(bicubic2, src)
    assert np.array_equal(np.asarray(Image.open(api)), np.asarray(Image.open(tmp_path / "cli" / "a_sr.png")))
    assert torch.equal(to_tensor(np.asarray(Image.open(api))), to_tensor(np.asarray(Image.open(api))))


def test_16bit_rgb_tiff_stays_16bit(tmp_path: Path, bicubic2) -> None:
    import cv2

    rgb = smooth_rgb(16, 24).astype(np.uint16) * 257 + 3
    cv2.imwrite(str(src := tmp_path / "c16.tif"), rgb[..., ::-1])
    data = cv2.imread(str(run(bicubic2, src)), cv2.IMREAD_UNCHANGED)
    assert data.dtype == np.uint16 and data.shape == (32, 48, 3)
    assert np.abs(data[..., ::-1].astype(np.int64) - expected(rgb, 16)).max() <= 1
