"""Core's training tests use the test-only toy plugin (tests/toyplugin): its names and a tiny two-phase recipe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from srzoo.testing.training import tiny_recipe

TOY_ARCH = "toy_sr"
TOY_TINY = {"num_feat": 8, "num_grow": 4, "num_blocks": 1}  # small constructor kwargs for fast tests


def toy_recipe(root: Path, **options: Any) -> dict[str, Any]:
    """srzoo.testing's tiny recipe with the toy generator, discriminator, GAN loss and feature loss."""
    return tiny_recipe(
        root,
        generator={"arch": TOY_ARCH, "kwargs": dict(TOY_TINY)},
        discriminator={"arch": "toy_discriminator", "kwargs": {"num_feat": 4}},
        gan_loss={"name": "toy_gan", "weight": 0.005},
        losses=[{"name": "toy_feature", "kwargs": {"width": 8}}],
        **options,
    )
