"""Inference API: tiled `upscale`, image modes (alpha, grey, 16 bit), `upscale_file` (as `srzoo infer`)."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from srzoo.errors import ConfigError, InputError
from srzoo.imaging.files import (
    EXTENSIONS,
    FORMAT_NAMES,
    LoadedImage,
    from_tensor,
    read_image,
    to_grey,
    to_tensor,
    write_image,
)
from srzoo.inference.model import SRModel
from srzoo.inference.tiling import Tile, TileStats, bytes_per_pixel, choose_tile, tile_starts
from srzoo.inference.upscaling import upscale

__all__ = [
    "FileResult",
    "InferOptions",
    "Tile",
    "TileStats",
    "bytes_per_pixel",
    "choose_tile",
    "collect_inputs",
    "output_path",
    "output_size",
    "tile_starts",
    "upscale",
    "upscale_file",
    "upscale_image",
]

AlphaMode = Literal["model", "bicubic"]


@dataclass
class InferOptions:
    """Per-file settings shared by the CLI and Python callers."""

    tile: Tile = "auto"
    overlap: int = 16
    batch: int = 1  # tiles per forward pass
    format: str | None = None  # png/jpg/webp/...; None keeps the input's format
    quality: int = 95  # JPEG/WebP
    alpha_mode: AlphaMode = (
        "model"  # how alpha is upscaled: through the model (Real-ESRGAN's default) or bicubic
    )
    max_pixels: int | None = None  # decompression-bomb limit; None: $SRZOO_MAX_PIXELS or Pillow's default
    overwrite: bool = False
    # Final size as a multiple of the input's (Real-ESRGAN's --outscale): the model's output is resized to
    # output_size() with MATLAB bicubic (antialiased when shrinking) before it is quantised. None: the model's.
    outscale: float | None = None
    # Geometric self-ensemble (EDSR's "+"): the mean output over the 8 flips/rotations, at 8x the time.
    self_ensemble: bool = False
    # LR pixels reflected below and right of the image before the model and cropped after (Real-ESRGAN's
    # --pre_pad): the net's own zero padding then falls on the reflected strip, not on the image's edge.
    pre_pad: int = 0


@dataclass
class FileResult:
    """One upscaled file."""

    src: Path
    dst: Path
    in_size: tuple[int, int]  # (height, width)
    out_megapixels: float
    seconds: float
    stats: TileStats = field(default_factory=TileStats)


def _plane(
    model: SRModel, t: Tensor, opts: InferOptions, stats: TileStats, size: tuple[int, int] | None
) -> Tensor:
    """One (1, 1 or 3, H, W) plane through the model; one-channel planes go in as RGB, come back as luma.

    `size` is the --outscale size the caller resizes to afterwards: that buffer is kept out of the tile budget.
    """
    in_ch = model.card.capabilities.in_channels
    reserve = 0 if size is None else 4 * t.shape[1] * size[0] * size[1]

    def run(x: Tensor) -> Tensor:
        return upscale(
            model,
            x,
            tile=opts.tile,
            overlap=opts.overlap,
            batch=opts.batch,
            stats=stats,
            self_ensemble=opts.self_ensemble,
            pre_pad=opts.pre_pad,
            reserve_bytes=reserve,
        )

    if in_ch == 1:
        return torch.cat([run(t[:, c : c + 1]) for c in range(t.shape[1])], dim=1)
    if in_ch != 3:
        raise InputError(f"arch {model.card.arch!r} takes {in_ch} input channels; srzoo infer handles 1 or 3")
    if t.shape[1] == 3:
        return run(t)
    return to_grey(run(t.expand(1, 3, *t.shape[-2:])))


def output_size(height: int, width: int, outscale: float) -> tuple[int, int]:
    """(H, W) of a `height` x `width` image upscaled `outscale` times: each side floored, as Real-ESRGAN's
    --outscale (`int(w * outscale)`), less the float noise that would make 2.3 * 100 give 229."""
    if not (math.isfinite(outscale) and outscale > 0):
        raise ConfigError(f"outscale must be a number > 0, got {outscale}")

    def side(n: int) -> int:
        exact = n * outscale
        return math.floor(exact + 1e-9 * max(1.0, exact))

    out = side(height), side(width)
    if min(out) < 1:
        raise InputError(
            f"outscale {outscale:g} makes this {width}x{height} image {out[1]}x{out[0]} pixels; use a larger one"
        )
    return out


def _fit(t: Tensor, size: tuple[int, int] | None) -> Tensor:
    """The model's float output resized to `size` (MATLAB bicubic, antialiased when shrinking), or as it is."""
    if size is None or tuple(t.shape[-2:]) == size:
        return t
    from srzoo.imaging.resize import imresize

    return imresize(t, size=size)


def upscale_image(
    model: SRModel, image: LoadedImage, options: InferOptions | None = None, stats: TileStats | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """LoadedImage → (pixels, alpha) upscaled arrays with the input's layout and bit depth.

    Alpha is upscaled on its own: through the model as grey (like Real-ESRGAN's default alpha upsampler,
    which keeps edges as sharp as the colour's) or with MATLAB bicubic (`alpha_mode="bicubic"`); a fully
    opaque alpha is not run at all. With `outscale` both come out at `output_size()`.
    """
    from srzoo.imaging.resize import imresize_levels

    opts = options or InferOptions()
    stats = stats if stats is not None else TileStats()
    h, w = image.pixels.shape[:2]
    s = model.scale
    size = None if opts.outscale is None else output_size(h, w, opts.outscale)  # before the model runs
    # Convert each plane to integers before the next starts, so only one float HR buffer lives at a time.
    pixels = from_tensor(_fit(_plane(model, to_tensor(image.pixels), opts, stats, size), size), image.bits)
    if image.alpha is None:
        return pixels, None
    peak = 65535 if image.bits == 16 else 255
    if bool((image.alpha == peak).all()):
        return pixels, np.full(size or (h * s, w * s), peak, dtype=image.alpha.dtype)
    if (
        opts.alpha_mode == "bicubic"
    ):  # MATLAB imresize in the image's own integer class, like the bicubic arch
        levels = torch.from_numpy(image.alpha.astype(np.float64))[None, None]
        target = {"scale": s} if size is None else {"size": size}
        up = imresize_levels(levels, peak=peak, **target).div_(peak)
    elif opts.alpha_mode == "model":
        up = _fit(_plane(model, to_tensor(image.alpha), opts, stats, size), size)
    else:
        raise ConfigError(f"alpha mode {opts.alpha_mode!r} is not 'model' or 'bicubic'")
    return pixels, from_tensor(up, image.bits)


def output_path(
    src: str | os.PathLike,
    *,
    out_dir: str | os.PathLike | None = None,
    suffix: str = "_sr",
    format: str | None = None,
    relative_to: str | os.PathLike | None = None,
) -> Path:
    """`<stem><suffix>.<ext>` beside `src`, or in `out_dir` (keeping the path below `relative_to`).

    The extension is the requested format's, else the input's when it is a format srzoo writes, else .png.
    """
    src = Path(src)
    if format:
        fmt = FORMAT_NAMES.get(format.lower().lstrip("."))
        if fmt is None:
            raise ConfigError(f"unknown output format {format!r}; use one of png, jpg, webp")
        ext = EXTENSIONS[fmt]
    else:
        ext = src.suffix if src.suffix.lower().lstrip(".") in FORMAT_NAMES else ".png"
    folder = src.parent
    if out_dir is not None:
        sub = src.parent.relative_to(relative_to) if relative_to is not None else Path()
        folder = Path(out_dir) / sub
    return folder / f"{src.stem}{suffix}{ext}"


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def upscale_file(
    model: SRModel, src: str | os.PathLike, dst: str | os.PathLike, options: InferOptions | None = None
) -> FileResult:
    """Read `src`, upscale it, write `dst` atomically (format from dst's extension); never touches `src`."""
    opts = options or InferOptions()
    src, dst = Path(src), Path(dst)
    if _same_file(src, dst):
        raise InputError(f"{src}: output would overwrite the input; use --suffix or --out-dir")
    if dst.exists() and not opts.overwrite:
        raise InputError(f"{src}: output {dst} exists; pass --overwrite to replace it")
    start = time.perf_counter()
    image = read_image(src, max_pixels=opts.max_pixels)
    stats = TileStats()
    pixels, alpha = upscale_image(model, image, opts, stats)
    fmt = FORMAT_NAMES.get(dst.suffix.lower().lstrip("."), "PNG")
    write_image(
        dst,
        pixels,
        alpha,
        format=fmt,
        icc_profile=image.icc_profile,
        exif=image.exif,
        quality=opts.quality,
    )
    h, w = image.pixels.shape[:2]
    out_mp = pixels.shape[0] * pixels.shape[1] / 1e6
    return FileResult(src, dst, (h, w), out_mp, time.perf_counter() - start, stats)


def collect_inputs(
    inputs: Iterable[str | os.PathLike], *, recursive: bool = False, suffix: str = "_sr"
) -> list[tuple[Path, Path | None]]:
    """(file, folder it was found under or None) for each input; folders give their image files, sorted.

    Files named like an earlier run's output of a sibling input (`a_sr.png` next to `a.png`) are skipped.
    """
    from srzoo.imaging.datafiles import IMAGE_EXTS

    found: list[tuple[Path, Path | None]] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            pattern = "**/*" if recursive else "*"
            files = sorted(
                p
                for p in path.glob(pattern)
                # broken links are kept, so they are reported instead of silently skipped
                if (p.is_file() or p.is_symlink()) and p.suffix.lower() in IMAGE_EXTS and p.name[0] != "."
            )
            found.extend((p, path) for p in files)
        else:
            found.append((path, None))
    if suffix:
        stems = {(p.parent, p.stem) for p, _ in found}
        found = [
            (p, root)
            for p, root in found
            if not (
                root is not None and p.stem.endswith(suffix) and (p.parent, p.stem[: -len(suffix)]) in stems
            )
        ]
    return found
