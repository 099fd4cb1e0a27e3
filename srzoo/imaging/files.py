"""User-facing image I/O for `srzoo infer`: every common mode read with orientation and ICC, atomic writes."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from srzoo.errors import ConfigError, InputError, one_line
from srzoo.framework.files import atomic_write
from srzoo.imaging.wide import read_wide, write_png16, write_tiff16

log = logging.getLogger(__name__)

# Pillow format name → extension used when the output format differs from the input's.
EXTENSIONS = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "TIFF": ".tif", "BMP": ".bmp"}
FORMAT_NAMES = {
    "png": "PNG",
    "jpg": "JPEG",
    "jpeg": "JPEG",
    "webp": "WEBP",
    "tif": "TIFF",
    "tiff": "TIFF",
    "bmp": "BMP",
}
NO_ALPHA = ("JPEG", "BMP")  # formats Pillow writes without an alpha channel
_ORIENTATION = 0x0112
_PIL_LOCK = threading.Lock()  # Pillow's bomb limit is a global: swap it under a lock


@dataclass
class LoadedImage:
    """Decoded pixels plus what must survive into the output file."""

    pixels: np.ndarray  # uint8 or uint16, (H, W, 3) RGB or (H, W) grey, EXIF orientation applied
    alpha: np.ndarray | None  # same dtype, (H, W); None when the image is opaque by construction
    format: str  # Pillow format name of the source ("PNG", "JPEG", ...)
    icc_profile: bytes | None
    exif: bytes | None  # without the orientation tag (the pixels are already upright)
    mode: str  # source mode as Pillow reported it (for messages)

    @property
    def bits(self) -> int:
        return 16 if self.pixels.dtype == np.uint16 else 8

    @property
    def grey(self) -> bool:
        return self.pixels.ndim == 2


def max_pixels_limit(explicit: int | None = None) -> int:
    """The decompression-bomb limit: explicit, else $SRZOO_MAX_PIXELS, else Pillow's default."""
    from PIL import Image

    if explicit is not None:
        return int(explicit)
    env = os.environ.get("SRZOO_MAX_PIXELS")
    if env:
        try:
            return int(float(env))
        except ValueError:
            raise ConfigError(f"SRZOO_MAX_PIXELS={env!r} is not a number of pixels") from None
    return int(Image.MAX_IMAGE_PIXELS or 89_478_485)


def _icc_space(icc: bytes | None) -> str | None:
    """The ICC profile's data colour space ('RGB', 'GRAY', 'CMYK', ...) from its header."""
    if not icc or len(icc) < 20:
        return None
    return icc[16:20].decode("latin-1").strip()


def _orient(array: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation to an (H, W[, C]) array exactly as Pillow's exif_transpose does."""
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
        8: lambda a: np.rot90(a, 1),
    }
    op = ops.get(orientation)
    return np.ascontiguousarray(op(array)) if op else array


def _open(path: Path, limit: int):  # -> PIL.Image.Image
    from PIL import Image, UnidentifiedImageError

    if not path.exists():
        raise InputError(f"{path}: no such file" + (" (broken link)" if path.is_symlink() else ""))
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not an image")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file (0 bytes)")
    with _PIL_LOCK:
        # Pillow's own bomb check is off while opening: srzoo's below says how to raise the limit.
        saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            im = Image.open(path)
        except UnidentifiedImageError:
            raise InputError(
                f"{path}: not an image file Pillow can read (corrupt or unknown format)"
            ) from None
        except OSError as exc:
            if exc.errno is not None:  # the OS refused (permissions, I/O error)
                raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
            raise InputError(f"{path}: corrupt or truncated image ({exc})") from None
        except MemoryError:
            raise InputError(f"{path}: not enough memory to read its header; is the file damaged?") from None
        except Exception as exc:  # Pillow's format plugins raise any type on a damaged header
            raise InputError(f"{path}: corrupt image ({one_line(exc, 160)})") from None
        finally:
            Image.MAX_IMAGE_PIXELS = saved
    w, h = im.size
    if w * h > limit:
        im.close()
        raise InputError(
            f"{path}: {w}x{h} is {w * h / 1e6:.1f} megapixels, over the {limit / 1e6:.1f} MP limit that "
            "guards against decompression bombs; if you trust the file raise it with --max-pixels or "
            "SRZOO_MAX_PIXELS"
        )
    if w < 1 or h < 1:
        im.close()
        raise InputError(f"{path}: image has no pixels ({w}x{h})")
    return im


def _is_wide_colour(im) -> bool:
    """16-bit RGB/RGBA/LA files, which Pillow would silently truncate to 8 bits."""
    if im.mode not in ("RGB", "RGBA", "LA") or not im.tile:
        return False
    args = im.tile[0][3]  # (codec, extents, offset, args): a plain tuple before Pillow 11
    rawmode = args[0] if isinstance(args, tuple) else args
    return isinstance(rawmode, str) and ";16" in rawmode


def _decode(im, path: Path) -> tuple[np.ndarray, np.ndarray | None, bool]:
    """Pillow image → (pixels, alpha, icc_still_valid) in one of srzoo's layouts."""
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(im).astype(np.uint16), None, True
    if mode == "I":  # 16-bit greyscale some decoders widen to 32 bits
        return np.clip(np.asarray(im), 0, 65535).astype(np.uint16), None, True
    if mode == "F":
        raise InputError(f"{path}: floating-point images (mode F) are not supported; convert to 16-bit PNG")
    if mode in ("1", "L"):
        return np.asarray(im.convert("L")), None, True
    if mode in ("LA", "La"):
        la = np.asarray(im.convert("LA"))
        return np.ascontiguousarray(la[..., 0]), np.ascontiguousarray(la[..., 1]), True
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in im.info
        im = im.convert("RGBA" if has_alpha else "RGB")
        mode = im.mode
    if mode in ("RGBA", "RGBa"):
        rgba = np.asarray(im.convert("RGBA"))
        alpha = np.ascontiguousarray(rgba[..., 3])
        return np.ascontiguousarray(rgba[..., :3]), alpha, True
    # RGB, RGBX, CMYK, YCbCr, LAB, HSV: a CMYK/LAB profile no longer describes the converted RGB pixels.
    return np.asarray(im.convert("RGB")), None, mode not in ("CMYK", "LAB")


def read_image(path: str | os.PathLike, *, max_pixels: int | None = None) -> LoadedImage:
    """Decode any mode Pillow opens (16-bit colour via OpenCV); InputError with one line on any problem."""

    path = Path(path)
    im = _open(path, max_pixels_limit(max_pixels))
    try:
        fmt, mode = im.format or "PNG", im.mode
        if getattr(im, "n_frames", 1) > 1:
            log.warning("%s: %d frames; srzoo upscales the first one only", path, im.n_frames)
        icc = im.info.get("icc_profile") or None
        wide = _is_wide_colour(im)  # before getexif(): for PNG that decodes the pixels and drops im.tile
        exif = im.getexif()
        orientation = int(exif.get(_ORIENTATION, 1) or 1)
        exif.pop(_ORIENTATION, None)
        # A TIFF's "EXIF" is its own image directory (sizes, strips): never copy that into another file.
        exif_bytes = exif.tobytes() if len(exif) and fmt != "TIFF" else None
        if wide:
            pixels, alpha = read_wide(path, mode)
            icc_ok = True
        else:
            im.load()
            pixels, alpha, icc_ok = _decode(im, path)
    except InputError:
        raise
    except (
        MemoryError
    ):  # Pillow's answer to a header whose sizes overflow its line buffer, or a real shortage
        raise InputError(
            f"{path}: not enough memory to decode this {im.size[0]}x{im.size[1]} image; is the file damaged, or "
            "too large for this machine's memory?"
        ) from None
    except Exception as exc:  # decoders raise OSError, ValueError, IndexError, struct.error ... on bad data
        raise InputError(
            f"{path}: corrupt or truncated {im.format or 'image'} ({one_line(exc, 160)})"
        ) from None
    finally:
        im.close()
    space = _icc_space(icc)
    if not icc_ok or space not in (None, "GRAY" if pixels.ndim == 2 else "RGB"):
        icc = None  # a profile for another colour space would mislabel the output
    pixels = _orient(pixels, orientation)
    alpha = _orient(alpha, orientation) if alpha is not None else None
    return LoadedImage(pixels, alpha, fmt, icc, exif_bytes, mode)


# -- tensors -------------------------------------------------------------------------------------------------
def to_tensor(array: np.ndarray) -> torch.Tensor:
    """uint8/uint16 (H, W[, C]) → float32 (1, C, H, W) in [0, 1]."""
    peak = 65535.0 if array.dtype == np.uint16 else 255.0
    t = torch.from_numpy(np.ascontiguousarray(array).astype(np.float32))
    t = t[None, None] if t.ndim == 2 else t.permute(2, 0, 1)[None]
    return t.div_(peak).contiguous()


def from_tensor(t: torch.Tensor, bits: int) -> np.ndarray:
    """float (1, C, H, W) in [0, 1] → uint8/uint16 (H, W[, C]); rounds in place, so `t` is consumed."""
    peak = 65535 if bits == 16 else 255
    t = t[0]
    t.mul_(peak).round_().clamp_(0, peak)
    out = t.to(torch.uint16 if bits == 16 else torch.uint8)
    arr = out[0].numpy() if out.shape[0] == 1 else out.permute(1, 2, 0).numpy()
    return np.ascontiguousarray(arr)


def to_grey(t: torch.Tensor) -> torch.Tensor:
    """(1, 3, H, W) → (1, 1, H, W) with ITU-R 601 luma weights, as Pillow's convert('L')."""
    r, g, b = t[:, 0:1], t[:, 1:2], t[:, 2:3]
    return r.mul(0.299).add_(g, alpha=0.587).add_(b, alpha=0.114)


# -- writing -------------------------------------------------------------------------------------------------
def _flatten_on_white(pixels: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    peak = 65535.0 if pixels.dtype == np.uint16 else 255.0
    a = alpha.astype(np.float32)[..., None] / peak if pixels.ndim == 3 else alpha.astype(np.float32) / peak
    flat = pixels.astype(np.float32) * a + peak * (1 - a)
    return np.clip(np.round(flat), 0, peak).astype(pixels.dtype)


def _to8(array: np.ndarray) -> np.ndarray:
    return array if array.dtype == np.uint8 else ((array.astype(np.uint32) + 128) // 257).astype(np.uint8)


def write_image(
    path: str | os.PathLike,
    pixels: np.ndarray,
    alpha: np.ndarray | None = None,
    *,
    format: str = "PNG",
    icc_profile: bytes | None = None,
    exif: bytes | None = None,
    quality: int = 95,
) -> Path:
    """Write atomically in `format`; PNG/TIFF keep 16 bits, formats without alpha are flattened on white."""
    from PIL import Image

    path = Path(path)
    fmt = FORMAT_NAMES.get(format.lower(), format.upper())
    if alpha is not None and fmt in NO_ALPHA:
        log.warning("%s: %s has no alpha channel; transparent areas are flattened onto white", path, fmt)
        pixels, alpha = _flatten_on_white(pixels, alpha), None
    wide = pixels.dtype == np.uint16
    with atomic_write(path) as tmp:
        if wide and fmt == "PNG":
            write_png16(tmp, pixels, alpha, icc_profile, exif)
            return path
        if wide and fmt == "TIFF" and (pixels.ndim == 3 or alpha is not None):
            write_tiff16(tmp, pixels, alpha)
            return path
        if wide and fmt == "TIFF":
            im = Image.fromarray(np.ascontiguousarray(pixels), "I;16")
        else:
            px, al = _to8(pixels), None if alpha is None else _to8(alpha)
            if al is None:
                im = Image.fromarray(np.ascontiguousarray(px), "L" if px.ndim == 2 else "RGB")
            else:
                planes = [px[..., None] if px.ndim == 2 else px, al[..., None]]
                im = Image.fromarray(np.concatenate(planes, axis=2), "LA" if px.ndim == 2 else "RGBA")
        options: dict[str, object] = {}
        if icc_profile and fmt != "BMP":
            options["icc_profile"] = icc_profile
        if exif and fmt in ("JPEG", "PNG", "WEBP"):
            options["exif"] = exif
        if fmt in ("JPEG", "WEBP"):
            options["quality"] = int(quality)
        if fmt == "JPEG":
            options["subsampling"] = 0  # 4:4:4: chroma subsampling would blur the detail SR just added
        if fmt == "TIFF":
            options["compression"] = "tiff_lzw"
        im.save(tmp, format=fmt, **options)
    return path


def output_format(source_format: str, requested: str | None) -> str:
    """Pillow format for the output: `requested` (png/jpg/webp/...) or the source's own, PNG for the rest."""
    if requested:
        try:
            return FORMAT_NAMES[requested.lower().lstrip(".")]
        except KeyError:
            raise ConfigError(f"unknown output format {requested!r}; use one of png, jpg, webp") from None
    return source_format if source_format in EXTENSIONS else "PNG"
