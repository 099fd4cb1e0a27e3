"""Helpers for training tests (core's and plugins'): synthetic image folders and a seconds-long recipe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml


def write_images(folder: Path, count: int, size: int = 64, seed: int = 0) -> Path:
    """`count` smooth colour PNGs with edges and texture (something a net can learn to upscale)."""
    from srzoo.imaging.datafiles import save_image

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        channels = []
        for _ in range(3):
            fx, fy, phase = rng.uniform(1, 6), rng.uniform(1, 6), rng.uniform(0, 2 * np.pi)
            wave = np.sin(2 * np.pi * (fx * xx + fy * yy) + phase)
            step = (xx > rng.uniform(0.2, 0.8)).astype(float)
            channels.append(0.5 + 0.3 * wave + 0.2 * step - 0.1)
        image = np.clip(np.stack(channels, axis=2), 0, 1)
        save_image(folder / f"img{i:02d}.png", (image * 255).round().astype(np.uint8))
    return folder


def tiny_recipe(root: Path, *, images: int = 6, size: int = 64) -> dict[str, Any]:
    """A two-phase recipe over synthetic images that trains in seconds (RRDBNet 8 features, 1 block)."""
    train = write_images(root / "train", images, size, seed=1)
    val = write_images(root / "val", 1, size, seed=2)
    return {
        "name": "tiny_test",
        "scale": 4,
        "seed": 0,
        "generator": {"arch": "rrdbnet", "kwargs": {"num_feat": 8, "num_grow": 4, "num_blocks": 1}},
        "discriminator": {"arch": "vgg_discriminator", "kwargs": {"num_feat": 4, "fc_features": [8]}},
        "data": {
            "train": [{"name": "image_folder", "kwargs": {"path": str(train)}}],
            "val": [{"name": "image_folder", "kwargs": {"path": str(val)}}],
            "patch_size": 32,
            "batch_size": 4,
            "num_workers": 0,
        },
        "phases": [
            {"name": "psnr", "type": "supervised", "iters": 4, "optimizer": {"lr": 1e-3}},
            {
                "name": "gan",
                "type": "adversarial",
                "iters": 4,
                "losses": [
                    {"name": "l1", "weight": 0.01},
                    {"name": "perceptual", "kwargs": {"layer_weights": {"conv2_2": 1.0}, "weights": "none"}},
                ],
                "gan_loss": {"name": "ragan", "weight": 0.005},
                "optimizer": {"lr": 1e-4, "betas": [0.9, 0.99]},
                "scheduler": {"name": "multistep", "milestones": [2], "gamma": 0.5},
            },
        ],
        "train": {
            "ema_decay": 0.9,
            "log_interval": 1,
            "val_interval": 3,
            "checkpoint_interval": 2,
            "keep_checkpoints": 2,
            "trackers": [],
        },
    }


def write_recipe(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
