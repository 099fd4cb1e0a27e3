"""16-bit colour I/O that Pillow lacks: OpenCV decoding, a PNG encoder with ICC/EXIF, TIFF through OpenCV."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from srzoo.errors import InputError


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def write_png16(
    path: Path,
    pixels: np.ndarray,
    alpha: np.ndarray | None,
    icc: bytes | None = None,
    exif: bytes | None = None,
) -> None:
    """16-bit PNG (grey, grey+alpha, RGB, RGBA) with iCCP/eXIf, which Pillow cannot write for colour."""
    planes = [pixels[..., None] if pixels.ndim == 2 else pixels]
    if alpha is not None:
        planes.append(alpha[..., None])
    data = np.concatenate(planes, axis=2).astype(">u2")
    h, w, c = data.shape
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    bpp = 2 * c
    out = [
        b"\x89PNG\r\n\x1a\n",
        _png_chunk(b"IHDR", w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([16, colour_type, 0, 0, 0])),
    ]
    if icc:
        out.append(_png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc)))
    if exif:
        out.append(_png_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\x00\x00") else exif))
    rows = data.view(np.uint8).reshape(h, w * bpp)
    comp = zlib.compressobj(6)
    idat = []
    for y0 in range(0, h, 256):  # filter + compress in bands to keep memory flat
        band = rows[y0 : y0 + 256]
        filtered = band.copy()
        filtered[:, bpp:] = band[:, bpp:] - band[:, :-bpp]  # PNG "Sub" filter (wraps mod 256 like the spec)
        lines = np.concatenate([np.ones((len(band), 1), np.uint8), filtered], axis=1)
        idat.append(comp.compress(lines.tobytes()))
    idat.append(comp.flush())
    out += [_png_chunk(b"IDAT", b"".join(idat)), _png_chunk(b"IEND", b"")]
    path.write_bytes(b"".join(out))


def read_wide(path: Path, mode: str) -> tuple[np.ndarray, np.ndarray | None]:
    """16-bit colour through OpenCV (Pillow has no 16-bit RGB mode): (pixels, alpha), RGB order."""
    try:
        import cv2
    except ImportError:
        raise InputError(
            f"{path}: 16-bit colour images need opencv-python-headless (pip install it)"
        ) from None
    data = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if data is None or data.dtype != np.uint16:
        raise InputError(f"{path}: corrupt or truncated 16-bit image")
    if data.ndim == 2:
        return data, None
    if mode == "LA":  # OpenCV expands grey+alpha to BGRA
        return np.ascontiguousarray(data[..., 0]), np.ascontiguousarray(data[..., 3])
    rgb = np.ascontiguousarray(data[..., 2::-1])
    alpha = np.ascontiguousarray(data[..., 3]) if data.shape[2] == 4 else None
    return rgb, alpha


def write_tiff16(path: Path, pixels: np.ndarray, alpha: np.ndarray | None) -> None:
    """16-bit RGB(A) TIFF through OpenCV (no ICC: OpenCV cannot embed one)."""
    import cv2

    rgb = pixels[..., ::-1] if pixels.ndim == 3 else np.repeat(pixels[..., None], 3, axis=2)
    data = np.concatenate([rgb, alpha[..., None]], axis=2) if alpha is not None else rgb
    ok, buf = cv2.imencode(".tif", np.ascontiguousarray(data))
    if not ok:
        raise InputError(f"{path}: OpenCV could not encode a 16-bit TIFF")
    Path(path).write_bytes(buf.tobytes())
