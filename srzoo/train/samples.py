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
    """One validation image at one step: the crop box and its LR/bicubic/SR/HR crops (uint8)."""

    set: str
    image: str
    scale: int
    box: tuple[int, int, int]  # (top, left, side) in HR pixels
    lr: np.ndarray
    bicubic: np.ndarray
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


def make_sample(
    set_name: str,
    image: str,
    scale: int,
    lr: np.ndarray,
    sr: np.ndarray,
    hr: np.ndarray,
    scores: dict[str, float],
) -> Sample:
    """Crop full-size validation images to the sample box (only the crops are kept in memory)."""
    import torch

    from srzoo.imaging.resize import imresize_uint8

    top, left, side = box = sample_box(hr, scale)
    k, n = scale, side // scale
    lt, ll = top // k, left // k
    # Bicubic of the LR crop plus a margin wider than the kernel: inside, the same pixels as bicubic of the
    # whole image; at an image border the margin is cut, as bicubic of the whole image does there too.
    m = 4
    t0, l0 = max(0, lt - m), max(0, ll - m)
    patch = lr[t0 : lt + n + m, l0 : ll + n + m]
    patch = np.repeat(patch[..., None], 3, axis=2) if patch.ndim == 2 else patch
    up = imresize_uint8(torch.from_numpy(np.ascontiguousarray(patch.transpose(2, 0, 1))), scale=k)
    up = up.numpy().transpose(1, 2, 0)
    dt, dl = (lt - t0) * k, (ll - l0) * k

    def cut(img: np.ndarray, t: int, lft: int, size: int) -> np.ndarray:
        return np.ascontiguousarray(img[t : t + size, lft : lft + size])

    return Sample(
        set_name, image, scale, box, cut(lr, lt, ll, n), cut(up, dt, dl, side), cut(sr, top, left, side),
        cut(hr, top, left, side), dict(scores),
    )  # fmt: skip


def save_samples(output_dir: Path, step: int, phase: str, samples: list[Sample]) -> None:
    """Write this step's SR crops (and, the first time, the HR/LR/bicubic crops) and index them."""
    from srzoo.imaging.datafiles import save_image

    root = output_dir / "samples"
    records = []
    for s in samples:
        folder = root / _name(s.set) / _name(s.image)
        if not (folder / "hr.png").is_file():
            save_image(folder / "bicubic.png", s.bicubic)
            save_image(folder / "lr.png", s.lr)
            save_image(folder / "hr.png", s.hr)
        file = f"step_{step:08d}.png"
        save_image(folder / file, s.sr)
        rel = (folder / file).relative_to(output_dir).as_posix()
        records.append({"step": step, "phase": phase, "set": s.set, "image": s.image, "scale": s.scale,
                        "file": rel, "box": list(s.box), **s.scores})  # fmt: skip
    if records:
        root.mkdir(parents=True, exist_ok=True)
        with (root / INDEX).open("a", encoding="utf-8") as f:
            f.writelines(json.dumps(r) + "\n" for r in records)
