"""Helpers for training tests (core's and plugins'): synthetic image folders and a seconds-long recipe."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


def tiny_recipe(
    root: Path,
    *,
    generator: Mapping[str, Any],
    discriminator: Mapping[str, Any],
    gan_loss: Mapping[str, Any],
    losses: Sequence[Mapping[str, Any]] = (),
    images: int = 6,
    size: int = 64,
) -> dict[str, Any]:
    """A two-phase recipe (supervised, then adversarial) over synthetic images that trains in seconds.

    The caller names the models and losses, so core and every plugin can train their own small ones:
    `generator` / `discriminator` are recipe model specs (`{"arch": ..., "kwargs": {...}}`), `gan_loss` a loss
    spec (`{"name": ..., "weight": ...}`), and `losses` the adversarial phase's terms after its l1 (weight 0.01).
    """
    train = write_images(root / "train", images, size, seed=1)
    val = write_images(root / "val", 1, size, seed=2)
    return {
        "name": "tiny_test",
        "scale": 4,
        "seed": 0,
        "generator": dict(generator),
        "discriminator": dict(discriminator),
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
                "losses": [{"name": "l1", "weight": 0.01}, *(dict(loss) for loss in losses)],
                "gan_loss": dict(gan_loss),
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
    """Write a recipe dict as YAML (in the order given) and return its path."""
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
