"""Validation samples on disk: the same crop of the first validation images at every validation step.

Layout (read by `srzoo report`): samples/<set>/<image>/{hr,lr,bicubic}.png once, step_<8 digits>.png per
validation step, and samples/index.jsonl with one line per written SR crop (step, phase, files, PSNR/SSIM).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_IMAGES = 4  # first images of each validation set that get saved
SAMPLE_SIDE = 192  # HR pixels per side of the saved crop (the most detailed square of the image)
INDEX = "index.jsonl"


@dataclass
class Sample:
    """One validation image's output at one step, as validate() produced it (uint8, full size)."""

    set: str
    image: str
    scale: int
    lr: np.ndarray
    sr: np.ndarray
    hr: np.ndarray
    scores: dict[str, float]


def _name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in text) or "_"


def sample_box(hr: np.ndarray, scale: int, side: int = SAMPLE_SIDE) -> tuple[int, int, int]:
    """(top, left, side) of the crop, on the LR grid (multiples of `scale`) so that LR crops line up."""
    from srzoo.eval.figures import detail_box

    top, left, size = detail_box(hr, side)
    size = max(scale, size - size % scale)
    return top - top % scale, left - left % scale, size


def save_samples(output_dir: Path, step: int, phase: str, samples: list[Sample]) -> None:
    """Write this step's SR crops (and, the first time, the HR/LR/bicubic crops) and index them."""
    import torch

    from srzoo.imaging.datafiles import save_image
    from srzoo.imaging.resize import imresize_uint8

    root = output_dir / "samples"
    records = []
    for s in samples:
        folder = root / _name(s.set) / _name(s.image)
        top, left, side = sample_box(s.hr, s.scale)
        k = s.scale

        def cut(img: np.ndarray, t: int = top, lft: int = left, n: int = side) -> np.ndarray:
            return np.ascontiguousarray(img[t : t + n, lft : lft + n])

        if not (folder / "hr.png").is_file():
            lr = np.repeat(s.lr[..., None], 3, axis=2) if s.lr.ndim == 2 else s.lr
            bicubic = imresize_uint8(torch.from_numpy(np.ascontiguousarray(lr.transpose(2, 0, 1))), scale=k)
            save_image(folder / "bicubic.png", cut(bicubic.numpy().transpose(1, 2, 0)))
            save_image(folder / "lr.png", cut(s.lr, top // k, left // k, side // k))
            save_image(folder / "hr.png", cut(s.hr))
        file = f"step_{step:08d}.png"
        save_image(folder / file, cut(s.sr))
        rel = (folder / file).relative_to(output_dir).as_posix()
        records.append({"step": step, "phase": phase, "set": s.set, "image": s.image, "scale": k,
                        "file": rel, "box": [top, left, side], **s.scores})  # fmt: skip
    if records:
        root.mkdir(parents=True, exist_ok=True)
        with (root / INDEX).open("a", encoding="utf-8") as f:
            f.writelines(json.dumps(r) + "\n" for r in records)
