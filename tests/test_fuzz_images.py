"""Hostile image files: truncated, bit-flipped and header-edited PNG/JPEG/WebP/TIFF/BMP/GIF, extreme sizes and modes.

Every reader a user's file reaches (`srzoo infer`'s read_image, the dataset loader and header probe) must return
an image or raise srzoo's InputError with one line; any other exception is a bug.
"""

from __future__ import annotations

import io
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from srzoo import InputError, load_model
from srzoo.imaging.datafiles import load_image, probe_image
from srzoo.imaging.files import read_image
from srzoo.imaging.wide import write_png16
from srzoo.inference.runner import InferOptions, output_path, upscale_file
from tests.fuzz_support import budget, outcome, record

LIMIT = 4_000_000  # pixels: header edits may claim huge sizes; keep what a decoder may allocate small


def _rgb(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 7 % 256, yy * 5 % 256, (xx + yy) * 3 % 256], axis=2)
    return (base + rng.integers(0, 30, (h, w, 3))).clip(0, 255).astype(np.uint8)


def _save(im: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **options)
    return buf.getvalue()


def _exif_rotated() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6
    return _save(Image.fromarray(_rgb(12, 20)), "JPEG", exif=exif.tobytes())


def _png16_rgba(tmp: Path) -> bytes:
    rgb = _rgb(10, 14).astype(np.uint16) * 257
    write_png16(tmp / "rgba16.png", rgb, np.full((10, 14), 40000, np.uint16))
    return (tmp / "rgba16.png").read_bytes()


def _animated_gif() -> bytes:
    frames = [Image.fromarray(_rgb(10, 12, s)).convert("P") for s in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    return buf.getvalue()


def _seeds(tmp: Path) -> dict[str, bytes]:
    """Valid files of every format and the modes users send, small enough to mutate quickly."""
    rgb = Image.fromarray(_rgb(16, 24))
    rgba = Image.fromarray(np.dstack([_rgb(16, 24), np.tile(np.arange(24, dtype=np.uint8) * 10, (16, 1))]))
    palette = rgb.convert("P")
    palette.info["transparency"] = 3
    grey16 = Image.fromarray(np.arange(16 * 24, dtype=np.uint16).reshape(16, 24) * 150)
    return {
        "png-rgb": _save(rgb, "PNG"),
        "png-rgba": _save(rgba, "PNG"),
        "png-palette-transparent": _save(palette, "PNG"),
        "png-grey16": _save(grey16, "PNG"),
        "png-rgba16": _png16_rgba(tmp),
        "png-1bit": _save(rgb.convert("1"), "PNG"),
        "jpeg-rgb": _save(rgb, "JPEG", quality=90),
        "jpeg-grey": _save(rgb.convert("L"), "JPEG"),
        "jpeg-cmyk": _save(rgb.convert("CMYK"), "JPEG"),
        "jpeg-progressive": _save(rgb, "JPEG", progressive=True),
        "jpeg-exif-rotated": _exif_rotated(),
        "webp-rgb": _save(rgb, "WEBP", quality=80),
        "webp-rgba-lossless": _save(rgba, "WEBP", lossless=True),
        "tiff-rgb": _save(rgb, "TIFF"),
        "tiff-lzw-rgba": _save(rgba, "TIFF", compression="tiff_lzw"),
        "tiff-cmyk": _save(rgb.convert("CMYK"), "TIFF"),
        "tiff-grey16": _save(grey16, "TIFF"),
        "bmp-rgb": _save(rgb, "BMP"),
        "bmp-palette": _save(palette, "BMP"),
        "gif-palette": _save(palette, "GIF"),
        "gif-animated": _animated_gif(),
    }


with tempfile.TemporaryDirectory() as _tmp:
    SEEDS = _seeds(Path(_tmp))
SUFFIX = {"png": ".png", "jpeg": ".jpg", "webp": ".webp", "tiff": ".tif", "bmp": ".bmp", "gif": ".gif"}


# -- mutations --------------------------------------------------------------------------------------------------
def _png_with_ihdr(data: bytes, width: int, height: int, depth: int, colour: int) -> bytes:
    """The same PNG with its IHDR fields replaced and the chunk's CRC fixed (so decoders look past the CRC)."""
    ihdr = struct.pack(">IIBB", width, height, depth, colour) + data[16 + 10 : 16 + 13]
    chunk = b"IHDR" + ihdr
    return data[:12] + chunk + struct.pack(">I", zlib.crc32(chunk)) + data[33:]


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str, bytes]:
    """(seed name, what was done, bytes) — the mutation kinds of a hostile or damaged file."""
    name = draw(st.sampled_from(sorted(SEEDS)))
    data = bytearray(SEEDS[name])
    kind = draw(
        st.sampled_from(["truncate", "bit flips", "header bytes", "insert", "png IHDR", "size fields"])
    )
    if kind == "truncate":
        cut = draw(st.integers(1, len(data) - 1))
        return name, kind, bytes(data[:cut])
    if kind == "bit flips":
        for _ in range(draw(st.integers(1, 8))):
            pos = draw(st.integers(0, len(data) - 1))
            data[pos] ^= 1 << draw(st.integers(0, 7))
        return name, kind, bytes(data)
    if kind == "header bytes":  # where the format's size, depth and layout fields live
        for _ in range(draw(st.integers(1, 6))):
            pos = draw(st.integers(0, min(len(data), 96) - 1))
            data[pos] = draw(st.integers(0, 255))
        return name, kind, bytes(data)
    if kind == "insert":
        pos = draw(st.integers(0, len(data)))
        return name, kind, bytes(data[:pos]) + draw(st.binary(min_size=1, max_size=64)) + bytes(data[pos:])
    if kind == "png IHDR" and name.startswith("png"):
        width = draw(st.sampled_from([0, 1, 3, 2**16, 2**31 - 1, 2**32 - 1]) | st.integers(0, 2**32 - 1))
        height = draw(st.sampled_from([0, 1, 7, 2**16, 2**31 - 1, 2**32 - 1]) | st.integers(0, 2**32 - 1))
        depth = draw(st.sampled_from([1, 2, 4, 8, 16, 0, 3, 255]))
        colour = draw(st.sampled_from([0, 2, 3, 4, 6, 1, 5, 7, 255]))
        return name, kind, _png_with_ihdr(bytes(data), width, height, depth, colour)
    # size fields at each format's fixed offsets (BMP, GIF) or anywhere in the first bytes (others)
    value = draw(st.sampled_from([0, 1, 0xFFFF, 0x7FFF, 0xFFFFFFFF, 0x80000000]))
    offsets = {"bmp": [18, 22, 28], "gif": [6, 8]}.get(name.split("-")[0], [draw(st.integers(0, 60))])
    pos = draw(st.sampled_from(offsets))
    width = 4 if name.startswith("bmp") else 2
    data[pos : pos + width] = (value & (2 ** (8 * width) - 1)).to_bytes(width, "little")
    return name, "size fields", bytes(data[: len(SEEDS[name])])


def _check_loaded(img) -> None:
    assert img.pixels.dtype in (np.uint8, np.uint16) and img.pixels.ndim in (2, 3) and img.pixels.size > 0
    if img.pixels.ndim == 3:
        assert img.pixels.shape[2] == 3
    if img.alpha is not None:
        assert img.alpha.shape == img.pixels.shape[:2] and img.alpha.dtype == img.pixels.dtype


@budget(150)
@given(case=mutated())
def test_damaged_files_decode_or_raise_input_error(tmp_path_factory: pytest.TempPathFactory, case) -> None:
    name, kind, data = case
    path = tmp_path_factory.mktemp("img") / f"fuzz{SUFFIX[name.split('-')[0]]}"
    path.write_bytes(data)
    got = outcome("image file", kind, lambda: read_image(path, max_pixels=LIMIT), InputError)
    if not isinstance(got, InputError):
        _check_loaded(got)
    # The dataset readers see the same files (a damaged training image must be named, not crash a worker).
    probed = outcome("dataset image", kind, lambda: probe_image(path), InputError)
    if not isinstance(probed, InputError):
        assert all(isinstance(v, int) for v in probed)
    if not isinstance(probed, InputError) and probed[0] * probed[1] <= LIMIT:
        array = outcome("dataset image", kind, lambda: load_image(path), InputError)
        if not isinstance(array, InputError):
            assert array.dtype == np.uint8 and array.ndim in (2, 3)


@budget(40)
@given(data=st.binary(max_size=2048), suffix=st.sampled_from(sorted(set(SUFFIX.values()))))
def test_arbitrary_bytes_with_an_image_suffix(tmp_path_factory, data: bytes, suffix: str) -> None:
    path = tmp_path_factory.mktemp("img") / f"junk{suffix}"
    path.write_bytes(data)
    outcome("image file", "random bytes", lambda: read_image(path, max_pixels=LIMIT), InputError)


def test_paths_that_are_not_image_files(tmp_path: Path) -> None:
    folder = tmp_path / "folder.png"
    folder.mkdir()
    dangling = tmp_path / "dangling.png"
    dangling.symlink_to(tmp_path / "gone.png")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    text = tmp_path / "notes.jpg"
    text.write_text("not a picture\n")
    for path, expect in [
        (folder, "is a folder"),
        (dangling, "broken link"),
        (empty, "empty file"),
        (tmp_path / "missing.png", "no such file"),
        (text, "not an image file"),
    ]:
        with pytest.raises(InputError, match=expect):
            read_image(path)
        record("image path", expect, "InputError")


def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    big = _png_with_ihdr(SEEDS["png-rgb"], 30_000, 30_000, 8, 2)  # claims 900 MP, holds 16x24 pixels
    (path := tmp_path / "bomb.png").write_bytes(big)
    with pytest.raises(InputError, match="900.0 megapixels, over the 4.0 MP limit"):
        read_image(path, max_pixels=LIMIT)
    record("image file", "decompression bomb", "InputError")


def test_header_sizes_pillow_cannot_buffer_are_one_line(tmp_path: Path) -> None:
    # 44,739,236 x 1 pixels of 16-bit RGB: under the pixel limit, but Pillow's line buffer overflows and it
    # raises MemoryError (the long fuzz profile found it: a bit flip in a 1-bit PNG's IHDR). Each reader names it.
    data = _png_with_ihdr(SEEDS["png-1bit"], 0x02AAAAA4, 1, 16, 2)
    (path := tmp_path / "wide.png").write_bytes(data)
    for read in (
        lambda: read_image(path, max_pixels=10**9),
        lambda: probe_image(path),
        lambda: load_image(path),
    ):
        with pytest.raises(InputError, match="wide.png.*not enough memory.*damaged") as info:
            read()
        assert "\n" not in str(info.value)
    record("image file", "header sizes Pillow cannot buffer", "InputError")


# -- odd but valid images: each one upscales ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def bicubic2():
    return load_model(None, arch="bicubic", scale=2)


ODD = {
    "1x1 rgb": lambda: _save(Image.fromarray(_rgb(1, 1)), "PNG"),
    "1x300 rgb": lambda: _save(Image.fromarray(_rgb(1, 300)), "PNG"),
    "300x1 grey jpeg": lambda: _save(Image.fromarray(_rgb(300, 1)).convert("L"), "JPEG"),
    "1-bit": lambda: SEEDS["png-1bit"],
    "palette + transparency": lambda: SEEDS["png-palette-transparent"],
    "CMYK jpeg": lambda: SEEDS["jpeg-cmyk"],
    "CMYK tiff": lambda: SEEDS["tiff-cmyk"],
    "EXIF rotated": lambda: SEEDS["jpeg-exif-rotated"],
    "animated gif": lambda: SEEDS["gif-animated"],
    "16-bit grey tiff": lambda: SEEDS["tiff-grey16"],
    "16-bit rgba png": lambda: SEEDS["png-rgba16"],
    "grey + alpha": lambda: _save(Image.fromarray(_rgb(5, 6)).convert("LA"), "PNG"),
    "32-bit integer tiff": lambda: _save(
        Image.fromarray(np.arange(30, dtype=np.int32).reshape(5, 6) * 999), "TIFF"
    ),
    "lossless webp + alpha": lambda: SEEDS["webp-rgba-lossless"],
    "palette bmp": lambda: SEEDS["bmp-palette"],
}


@pytest.mark.parametrize("case", sorted(ODD))
def test_odd_but_valid_images_upscale(tmp_path: Path, bicubic2, case: str) -> None:
    data = ODD[case]()
    with Image.open(io.BytesIO(data)) as im:
        fmt, (w, h) = im.format, im.size
    (src := tmp_path / f"in.{fmt.lower()}").write_bytes(data)
    if case == "EXIF rotated":
        w, h = h, w
    assert read_image(src).pixels.shape[:2] == (h, w)
    result = upscale_file(bicubic2, src, output_path(src, format="png"), InferOptions())
    assert Image.open(result.dst).size == (2 * w, 2 * h)
    record("odd valid image", case, "ok")
