"""Comparison figures (PIL only): rows of same-place crops, e.g. bicubic | SR | HR, labelled with PSNR."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from srzoo.eval.tables import ImageScore, SetResult, best_and_worst
from srzoo.framework.files import atomic_write

CROP = 96  # HR pixels per side: enough to judge texture; keeps a 4-row, 3-column figure near 200 KB
FIGURE_ROWS = 3  # images per bench figure when --show is not given
FIGURE_SHOW_MAX = 2  # best and worst images a bench figure shows at most (the markdown lists all N)
_LABEL_H = 14
_GAP = 4
_BG = (255, 255, 255)
_FG = (0, 0, 0)


@dataclass
class Tile:
    """One crop of a figure row and its caption (e.g. 'bicubic 26.12 dB')."""

    label: str
    pixels: np.ndarray  # uint8 (h, w, 3) or (h, w)


@dataclass
class FigureRow:
    """One image of a set: its name and the crops to put side by side."""

    name: str
    tiles: Sequence[Tile]


def detail_box(hr: np.ndarray, size: int = CROP) -> tuple[int, int, int]:
    """(top, left, side) of the square of `hr` with the most gradient energy: where SR methods differ most."""
    h, w = hr.shape[:2]
    side = min(size, h, w)
    grey = hr.astype(np.float64) if hr.ndim == 2 else hr.astype(np.float64).mean(axis=2)
    energy = np.zeros_like(grey)
    energy[:, 1:] += np.abs(np.diff(grey, axis=1))
    energy[1:, :] += np.abs(np.diff(grey, axis=0))
    # Integral image: every candidate window's sum in O(1); a stride of side/4 keeps it cheap on big images.
    integral = np.pad(energy.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    stride = max(1, side // 4)
    best, box = -1.0, (0, 0)
    for top in range(0, h - side + 1, stride):
        for left in range(0, w - side + 1, stride):
            b, r = top + side, left + side
            total = integral[b, r] - integral[top, r] - integral[b, left] + integral[top, left]
            if total > best:
                best, box = total, (top, left)
    return box[0], box[1], side


def crop(img: np.ndarray, box: tuple[int, int, int]) -> np.ndarray:
    """The square `box` (top, left, side) of an (H, W[, C]) image, copied."""
    top, left, side = box
    return np.ascontiguousarray(img[top : top + side, left : left + side])


def _rgb(pixels: np.ndarray) -> Image.Image:
    arr = pixels if pixels.ndim == 3 else np.repeat(pixels[:, :, None], 3, axis=2)
    return Image.fromarray(np.ascontiguousarray(arr.astype(np.uint8)), "RGB")


def comparison_figure(rows: Sequence[FigureRow], path: str | Path, *, title: str = "") -> Path:
    """Write a PNG: per row the image name, then its tiles left to right with their labels underneath."""
    if not rows:
        raise ValueError("comparison_figure needs at least one row")
    font = ImageFont.load_default()
    cols = max(len(r.tiles) for r in rows)
    side = max(max(t.pixels.shape[0], t.pixels.shape[1]) for r in rows for t in r.tiles)
    # The default bitmap font is ~6 px per character; widen tiles so labels are never clipped.
    longest = max(len(t.label) for r in rows for t in r.tiles)
    cell_w = max(side, 6 * longest + 4)
    row_h = _LABEL_H + side + _LABEL_H + _GAP
    top = _LABEL_H + _GAP if title else 0
    width = cols * cell_w + (cols - 1) * _GAP
    canvas = Image.new("RGB", (width, top + len(rows) * row_h), _BG)
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((2, 1), title, fill=_FG, font=font)
    for i, row in enumerate(rows):
        y = top + i * row_h
        draw.text((2, y + 1), row.name, fill=_FG, font=font)
        for j, tile in enumerate(row.tiles):
            x = j * (cell_w + _GAP)
            canvas.paste(_rgb(tile.pixels), (x, y + _LABEL_H))
            draw.text((x + 2, y + _LABEL_H + side + 1), tile.label, fill=_FG, font=font)
    with atomic_write(path) as tmp:
        canvas.save(tmp, format="PNG", optimize=True)
    return Path(path)


def figure_images(rows: Sequence[SetResult], show: int) -> list[str]:
    """The images a bench figure shows: with --show, the best then worst by the models' mean PSNR (the bicubic
    baseline left out, so with several models no one of them picks for the rest); else the first few."""
    if show <= 0:
        return [img.name for img in rows[-1].images[:FIGURE_ROWS]]
    models = [r for r in rows if r.model != "bicubic"] or list(rows)
    mean = SetResult("mean of the models", models[0].set, models[0].scale, ("psnr",))
    for img in models[0].images:
        scores = [next(i for i in r.images if i.name == img.name).scores.get("psnr") for r in models]
        known = [s for s in scores if s is not None]
        mean.images.append(ImageScore(img.name, {"psnr": sum(known) / len(known) if known else None}, 0.0))
    return [img.name for _, img in best_and_worst(mean, min(show, FIGURE_SHOW_MAX))]


def bench_figure(
    rows: Sequence[SetResult], crops: dict[tuple[str, str], np.ndarray], show: int, path: Path, title: str
) -> Path:
    """baseline | each model | HR crops for the images `figure_images` picks."""
    fig_rows = []
    for name in figure_images(rows, show):
        tiles = []
        for row in rows:
            score = next(i for i in row.images if i.name == name).scores["psnr"]
            tiles.append(Tile(f"{row.model} {score:.2f} dB", crops[(row.model, name)]))
        tiles.append(Tile("HR", crops[("HR", name)]))
        fig_rows.append(FigureRow(name, tiles))
    return comparison_figure(fig_rows, path, title=title)
