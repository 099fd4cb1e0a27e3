"""Image file I/O for datasets and outputs: decode to uint8 numpy, atomic save, listing, header reads."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from srzoo.errors import InputError, one_line
from srzoo.framework.files import atomic_write

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_EXTS and not path.name.startswith(".")


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly inside `folder`, sorted by name (hidden files and other files ignored)."""
    folder = Path(folder)
    return sorted((p for p in folder.iterdir() if is_image_file(p)), key=lambda p: p.name)


def _to_array(img) -> np.ndarray:
    """uint8 (H, W) for single-channel images, (H, W, 3) for everything else (alpha is dropped)."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale: keep the top 8 bits' worth of range (65535 -> 255), rounded.
        wide = np.asarray(img, dtype=np.float64)
        return np.clip(np.floor(wide / 257.0 + 0.5), 0, 255).astype(np.uint8)
    if mode in ("L", "1", "LA"):
        return np.asarray(img.convert("L"), dtype=np.uint8)
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def _no_memory(path: Path) -> str:
    # Pillow raises MemoryError for a header whose sizes overflow its line buffer (a damaged file) as well as for
    # a real shortage: either way this one file is what cannot be read, and the message says which.
    return (
        f"cannot decode image {path}: not enough memory for the size its header declares; "
        "is the file damaged, or too large for this machine?"
    )


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Decode an image to uint8: (H, W) for greyscale files, (H, W, 3) otherwise. EXIF rotation is applied."""
    from PIL import Image, ImageOps

    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()
            img = ImageOps.exif_transpose(img)
            return np.ascontiguousarray(_to_array(img))
    except FileNotFoundError:
        raise InputError(f"image {path} does not exist") from None
    except MemoryError:
        raise InputError(_no_memory(path)) from None
    except Exception as exc:  # Pillow's decoders raise any type on damaged data (bomb check included)
        raise InputError(
            f"cannot decode image {path} ({one_line(exc, 160)}); is it a complete image file?"
        ) from None


def probe_image(path: str | os.PathLike, *, verify: bool = True) -> tuple[int, int]:
    """(height, width) from the header, after checking the file's structure (PIL `verify`, no full decode)."""
    from PIL import Image

    path = Path(path)
    try:
        if verify:
            with Image.open(path) as img:
                img.verify()  # must come straight after open
        with Image.open(path) as img:
            width, height = img.size
            if img.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # EXIF rotations by 90 degrees swap the sides
                width, height = height, width
        return height, width
    except MemoryError:
        raise InputError(_no_memory(path)) from None
    except Exception as exc:  # as in load_image: any type on a damaged header, the bomb check included
        raise InputError(f"cannot read image {path} ({one_line(exc, 160)})") from None


def as_uint8(array: np.ndarray) -> np.ndarray:
    """uint8 HWC/HW from uint8, or from float in [0, 1] (rounded half up like MATLAB's im2uint8)."""
    arr = np.asarray(array)
    if arr.ndim == 3 and arr.shape[0] in (1, 3) and arr.shape[-1] not in (1, 3, 4):
        arr = arr.transpose(1, 2, 0)  # CHW (a model output) -> HWC
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (3, 4)):
        raise InputError(
            f"save_image: expected an (H, W), (H, W, 3) or (3, H, W) image, got shape {arr.shape}"
        )
    if arr.dtype == np.uint8:
        return arr
    if np.issubdtype(arr.dtype, np.floating):
        return np.clip(np.floor(arr.astype(np.float64) * 255.0 + 0.5), 0, 255).astype(np.uint8)
    raise InputError(f"save_image: expected uint8 or float in [0, 1], got {arr.dtype}")


def save_image(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write an image atomically (format from the suffix, PNG when there is none); returns the path."""
    from PIL import Image

    path = Path(path)
    if not path.suffix:
        path = path.with_suffix(".png")
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"save_image: unknown image format {path.suffix!r} for {path}; use .png")
    img = Image.fromarray(np.ascontiguousarray(as_uint8(array)))
    with atomic_write(path) as tmp:
        img.save(tmp, format=fmt)
    return path


def to_rgb(array: np.ndarray) -> np.ndarray:
    """(H, W, 3) view/copy of a greyscale (H, W) image; RGB images pass through."""
    return np.repeat(array[..., None], 3, axis=2) if array.ndim == 2 else array
