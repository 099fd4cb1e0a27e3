"""LR synthesis and augmentation: exact MATLAB-bicubic LR of images and crops, D4, LR-only JPEG, dropout."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np

from srzoo.errors import ConfigError

# Coarse dropout (the seed's second LR-only degradation): 1-4 black holes, each side 5-20% of the LR side.
DROPOUT_HOLES = (1, 4)
DROPOUT_SIDE = (0.05, 0.20)


def bicubic_lr(hr: np.ndarray, scale: int) -> np.ndarray:
    """MATLAB imresize(modcrop(hr, s), 1/s, 'bicubic') on uint8 (H, W) or (H, W, 3): the reference path."""
    import torch

    from srzoo.imaging.resize import degrade_bicubic

    chw = torch.from_numpy(np.array(hr if hr.ndim == 2 else hr.transpose(2, 0, 1)))  # a writable copy
    lr = degrade_bicubic(chw, int(scale)).numpy()
    return np.ascontiguousarray(lr if lr.ndim == 2 else lr.transpose(1, 2, 0))


def bicubic_lr_small(hr: np.ndarray, scale: int) -> np.ndarray:
    """Same rule and bits as `bicubic_lr` (sides must be multiples of the scale), in numpy for small crops.

    numpy keeps this single-threaded and fast inside DataLoader workers and in the main process alike, where
    many tiny multi-threaded torch ops cost far more on a busy CPU.
    """
    from srzoo.imaging.resize import imresize_uint8_np

    lr = imresize_uint8_np(hr if hr.ndim == 2 else hr.transpose(2, 0, 1), 1.0 / int(scale))
    return lr if hr.ndim == 2 else np.ascontiguousarray(lr.transpose(1, 2, 0))


def lr_crop_on_the_fly(hr: np.ndarray, top: int, left: int, size: int, scale: int) -> np.ndarray:
    """The LR crop at (top/s, left/s) of bicubic_lr(hr), computed from a margin around the HR crop only.

    The antialiased cubic kernel reaches 1.5*s + 0.5 HR pixels past an LR pixel's footprint, so a margin of
    2*s (clamped at the modcropped image border, where MATLAB's mirror padding then applies to both) makes the
    result bit-identical to degrading the whole image and cropping, at a fraction of the cost.
    """
    s = scale
    h, w = hr.shape[0] - hr.shape[0] % s, hr.shape[1] - hr.shape[1] % s
    m = 2 * s
    t0, t1 = max(0, top - m), min(h, top + size + m)
    l0, l1 = max(0, left - m), min(w, left + size + m)
    lr = bicubic_lr_small(np.ascontiguousarray(hr[t0:t1, l0:l1]), s)
    r, c, n = (top - t0) // s, (left - l0) // s, size // s
    return lr[r : r + n, c : c + n]


def d4(array: np.ndarray, op: int) -> np.ndarray:
    """One of the 8 flips/rotations (bit 1: horizontal flip, bit 2: vertical flip, bit 4: transpose)."""
    if op & 1:
        array = array[:, ::-1]
    if op & 2:
        array = array[::-1]
    if op & 4:
        array = array.swapaxes(0, 1)
    return array


@dataclass(frozen=True)
class Draws:
    """Every random value one training sample may use, drawn up front in a fixed order."""

    top: int
    left: int
    op: int
    jpeg: bool
    quality: int
    dropout: bool
    aux_seed: int  # dropout hole layout (torchvision) or the albumentations reseed


def draw(rng: np.random.Generator, hr_hw: tuple[int, int], size: int, scale: int, augment) -> Draws:
    """Draw crop position (aligned to the scale), D4 op and degradations; unused values are still drawn."""
    h, w = hr_hw
    top = int(rng.integers(0, (h - size) // scale + 1)) * scale
    left = int(rng.integers(0, (w - size) // scale + 1)) * scale
    op = int(rng.integers(0, 8))
    op &= (1 if augment.hflip else 0) | (6 if augment.rot90 else 0)
    jpeg = bool(rng.random() < augment.jpeg_prob)
    lo, hi = augment.jpeg_quality
    quality = int(rng.integers(lo, hi + 1))
    dropout = bool(rng.random() < augment.dropout_prob)
    return Draws(top, left, op, jpeg, quality, dropout, int(rng.integers(0, 2**31 - 1)))


class LRDegrader:
    """LR-only degradations (JPEG, coarse dropout) with the torchvision v2 or the albumentations backend."""

    def __init__(self, augment) -> None:
        lo, hi = augment.jpeg_quality
        if not 1 <= lo <= hi <= 100:
            raise ConfigError(
                f"augment.jpeg_quality must be 1 <= low <= high <= 100, got {augment.jpeg_quality}"
            )
        for key in ("jpeg_prob", "dropout_prob"):
            if not 0.0 <= getattr(augment, key) <= 1.0:
                raise ConfigError(f"augment.{key} must be within [0, 1], got {getattr(augment, key)}")
        self.augment = augment
        self.active = augment.jpeg_prob > 0 or augment.dropout_prob > 0
        self._compose = None  # albumentations pipeline, built lazily in each worker process
        if augment.backend == "albumentations":
            _import_albumentations()  # fail at build time, not in a worker

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_compose": None}

    def __call__(self, lr: np.ndarray, d: Draws) -> np.ndarray:
        if not self.active:
            return lr
        if self.augment.backend == "albumentations":
            return self._albumentations(lr, d)
        return self._torchvision(lr, d)

    def _torchvision(self, lr: np.ndarray, d: Draws) -> np.ndarray:
        import torch
        from torchvision.transforms.v2 import functional as tvf

        if not (d.jpeg or d.dropout):
            return lr
        x = torch.from_numpy(np.ascontiguousarray(lr.transpose(2, 0, 1)))
        if d.jpeg:
            with warnings.catch_warnings():  # torchvision 0.29 flags its JPEG codec as moving to TorchCodec
                warnings.filterwarnings("ignore", "The image decoding and encoding", DeprecationWarning)
                x = tvf.jpeg(x, quality=d.quality)
        if d.dropout:
            rng = np.random.default_rng(d.aux_seed)
            h, w = x.shape[-2:]
            for _ in range(int(rng.integers(DROPOUT_HOLES[0], DROPOUT_HOLES[1] + 1))):
                hh = max(1, round(h * rng.uniform(*DROPOUT_SIDE)))
                ww = max(1, round(w * rng.uniform(*DROPOUT_SIDE)))
                i, j = int(rng.integers(0, h - hh + 1)), int(rng.integers(0, w - ww + 1))
                x = tvf.erase(x, i, j, hh, ww, v=torch.zeros((), dtype=x.dtype))
        return np.ascontiguousarray(x.numpy().transpose(1, 2, 0))

    def _albumentations(self, lr: np.ndarray, d: Draws) -> np.ndarray:
        if self._compose is None:
            alb = _import_albumentations()
            self._compose = alb.Compose(
                [
                    alb.ImageCompression(
                        quality_range=tuple(self.augment.jpeg_quality), p=self.augment.jpeg_prob
                    ),
                    alb.CoarseDropout(
                        num_holes_range=DROPOUT_HOLES,
                        hole_height_range=DROPOUT_SIDE,
                        hole_width_range=DROPOUT_SIDE,
                        fill=0,
                        p=self.augment.dropout_prob,
                    ),
                ],
                seed=0,
            )
        # Reseed per sample: a pipeline seeded once would replay the same draws in every DataLoader worker.
        self._compose.set_random_seed(d.aux_seed)
        return np.ascontiguousarray(self._compose(image=np.ascontiguousarray(lr))["image"])


def _import_albumentations():
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # otherwise it queries PyPI on import
    try:
        import albumentations
    except ImportError:
        raise ConfigError(
            "augment.backend 'albumentations' needs the extra: pip install 'srzoo[albumentations]' "
            "(albumentations==2.0.8, the last MIT release)"
        ) from None
    return albumentations
