"""Validation during training: losses, PSNR-Y and SSIM-Y per validation set, and an LR/bicubic/SR/HR grid."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from srzoo.eval.metrics import psnr, ssim

GRID_SIDE = 192  # HR pixels of the grid crop: big enough to judge texture, small enough for the trackers


def _to_tensor(img: np.ndarray, device: torch.device) -> torch.Tensor:
    rgb = (
        np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img
    )  # grey trains and scores as R = G = B
    return (
        torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))
        .float()
        .div_(255)
        .unsqueeze(0)
        .to(device)
    )


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    return x.squeeze(0).clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()


@torch.no_grad()
def validate(
    generator: nn.Module,
    sets: Sequence[Any],
    losses: Mapping[str, nn.Module],
    device: torch.device,
    samples: list[Any] | None = None,
) -> tuple[dict[str, float], np.ndarray | None]:
    """Mean metrics per set (`val/<set>/psnr_y`, ...) and a grid of the first image (eval mode).

    `samples`, when given, receives a train.samples.Sample (crops) for each set's first SAMPLE_IMAGES images.
    """
    from srzoo.train.samples import SAMPLE_IMAGES, make_sample

    was_training = generator.training
    generator.eval()
    metrics: dict[str, float] = {}
    grid = None
    try:
        for eval_set in sets:
            scale, sums, count = eval_set.scale, {}, 0
            for image in eval_set:
                lr = _to_tensor(image.lr, device)
                hr = _to_tensor(image.hr, device)
                sr = generator(lr).float().clamp(0, 1)
                sr_u8 = _to_uint8(sr)
                hr_u8 = _to_uint8(hr)
                values = {
                    "psnr_y": psnr(sr_u8, hr_u8, crop_border=scale),
                    "ssim_y": ssim(sr_u8, hr_u8, crop_border=scale),
                }
                values |= {name: float(loss(sr, hr)) for name, loss in losses.items()}
                for key, value in values.items():
                    sums[key] = sums.get(key, 0.0) + value
                count += 1
                if grid is None:
                    grid = comparison_grid(image.lr, sr_u8, hr_u8, scale)
                if samples is not None and count <= SAMPLE_IMAGES:
                    scores = {k: values[k] for k in ("psnr_y", "ssim_y")}
                    samples.append(
                        make_sample(eval_set.name, image.name, scale, image.lr, sr_u8, hr_u8, scores)
                    )
            for key, value in sums.items():
                metrics[f"val/{eval_set.name}/{key}"] = value / max(count, 1)
    finally:
        generator.train(was_training)
    return metrics, grid


def comparison_grid(
    lr: np.ndarray, sr: np.ndarray, hr: np.ndarray, scale: int, side: int = GRID_SIDE
) -> np.ndarray:
    """LR (nearest), bicubic, SR, HR side by side: a centre crop of `side` HR pixels, uint8 (H, W, 3)."""
    from srzoo.imaging.resize import imresize_uint8

    lr_rgb = np.repeat(lr[..., None], 3, axis=2) if lr.ndim == 2 else lr
    h, w = hr.shape[:2]
    ch, cw = min(side, h) // scale * scale, min(side, w) // scale * scale
    top, left = (h - ch) // 2 // scale * scale, (w - cw) // 2 // scale * scale
    lr_crop = lr_rgb[top // scale : (top + ch) // scale, left // scale : (left + cw) // scale]
    nearest = lr_crop.repeat(scale, axis=0).repeat(scale, axis=1)
    bicubic = imresize_uint8(torch.from_numpy(np.ascontiguousarray(lr_crop.transpose(2, 0, 1))), scale=scale)
    bicubic = bicubic.numpy().transpose(1, 2, 0)
    crops = [nearest, bicubic, sr[top : top + ch, left : left + cw], hr[top : top + ch, left : left + cw]]
    gap = np.full((ch, 4, 3), 255, dtype=np.uint8)
    parts = [p for crop in crops for p in (crop, gap)][:-1]
    return np.ascontiguousarray(np.concatenate(parts, axis=1))
