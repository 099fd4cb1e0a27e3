"""Upscale one image tensor: tile size, out-of-memory fallbacks, optional geometric self-ensemble."""

from __future__ import annotations

import logging

import torch
from torch import Tensor

from srzoo.errors import ConfigError, InputError
from srzoo.inference.model import SRModel
from srzoo.inference.tiling import (
    OOM_ERRORS,
    Tile,
    TileStats,
    check_shape,
    choose_tile,
    min_side,
    min_tile,
    pad_bottom_right,
    pad_to,
    run_net,
    size_multiple,
    tiled,
)

__all__ = ["upscale"]

log = logging.getLogger(__name__)


def upscale(
    model: SRModel,
    image: Tensor,
    *,
    tile: Tile = "auto",
    overlap: int = 16,
    batch: int = 1,
    stats: TileStats | None = None,
    self_ensemble: bool = False,
    pre_pad: int = 0,
    reserve_bytes: int = 0,
) -> Tensor:
    """Upscale float (1, C, H, W) in [0, 1] → (1, C, sH, sW) on the input's device, tiled when `tile` is set.

    Tiles are LR squares on the arch's size multiple, overlapping by `overlap` LR pixels and blended with
    linear ramps; with overlap >= 16 the result equals the untiled one within 1/255. `tile="auto"` picks a
    size from free memory, leaving `reserve_bytes` of host memory to the caller. CUDA out-of-memory halves
    the tile and retries; NaN/Inf fp16 tiles rerun in fp32. `self_ensemble` averages the outputs of the 8
    flips/rotations of the image (`srzoo.inference.ensemble`): 8x the time, two more HR float buffers.
    `pre_pad` reflects that many LR pixels below and right of the image first and crops them off the
    output (Real-ESRGAN's --pre_pad), so the bottom and right edges are not the net's zero-padded border.
    """
    stats = stats if stats is not None else TileStats()
    if image.ndim != 4 or image.shape[0] != 1:
        raise InputError(f"upscale expects one image as (1, C, H, W), got {tuple(image.shape)}")
    if overlap < 0 or batch < 1 or pre_pad < 0:
        raise ConfigError(
            f"overlap and pre_pad must be >= 0 and batch >= 1 (got {overlap}, {pre_pad}, {batch})"
        )
    height, width = image.shape[-2:]
    image = pad_bottom_right(image, pre_pad, pre_pad)
    m = size_multiple(model)
    # An arch that needs sides divisible by m usually computes at 1/m resolution (pixel-unshuffle, strides),
    # so the context a tile needs grows with m: measure the overlap in those coarser pixels.
    eff = overlap * m
    _, c, h, w = image.shape
    if tile == "auto":
        # the ensemble's running sum, and each pass's output turned back (a copy: torch has no negative strides)
        ensemble = 2 * 4 * c * h * w * model.scale**2 if self_ensemble else 0
        tile = choose_tile(model, h, w, overlap, reserve_bytes + ensemble)
    elif tile is not None:
        tile = int(tile)
        smallest = min_tile(eff, m, min_side(model))
        if tile < smallest and tile < max(h, w):
            raise ConfigError(
                f"tile {tile} is too small for overlap {overlap} (x{m} for arch {model.card.arch!r} at "
                f"x{model.scale}): use --tile >= {smallest} or a smaller --tile-overlap"
            )
        tile = tile // m * m
    s = model.scale
    if not self_ensemble:
        return _upscale_tiles(model, image, tile, eff, batch, stats)[..., : height * s, : width * s]
    from srzoo.inference.ensemble import self_ensemble as mean_of_8

    def run(x: Tensor) -> Tensor:
        nonlocal tile
        y = _upscale_tiles(model, x, tile, eff, batch, stats)
        if stats.tile is not None:  # keep a tile that out-of-memory made smaller for the other 7 passes
            tile = stats.tile
        return y

    return mean_of_8(run, image)[..., : height * s, : width * s]


def _upscale_tiles(
    model: SRModel, image: Tensor, tile: int | None, eff: int, batch: int, stats: TileStats
) -> Tensor:
    """One pass of `upscale` with a settled tile size (None: whole image), halving it on out-of-memory."""
    m = size_multiple(model)
    _, _, h, w = image.shape
    x = pad_to(image.float().cpu(), m, min_side(model))
    hp, wp = x.shape[-2:]
    if tile is not None and tile >= max(hp, wp):
        tile = None
    done_before = stats.tiles
    while True:
        stats.tile, stats.tiles = tile, done_before
        try:
            if tile is None:
                y = run_net(model, x, stats).cpu()
                check_shape(model, y, (1, hp * model.scale, wp * model.scale))
                stats.tiles += 1
            else:
                y = tiled(model, x, tile, eff, batch, stats)
            break
        except OOM_ERRORS:
            if model.device.type == "cuda":
                torch.cuda.empty_cache()
            stats.oom_retries += 1
            if batch > 1:
                batch //= 2
                stats.events.append(f"out of memory: tile batch {batch}")
                continue
            smaller = (max(hp, wp) if tile is None else tile) // 2 // m * m
            if smaller < min_tile(eff, m, min_side(model)):
                raise InputError(
                    f"out of memory on {model.device} even with {tile or max(hp, wp)}px tiles; "
                    "free memory, lower --tile-overlap or use --device cpu"
                ) from None
            log.warning("out of memory with tile %s; retrying with tile %d", tile or "none", smaller)
            stats.events.append(f"out of memory: tile {smaller}")
            tile = smaller
    # The HR buffer lives on the CPU (GPU memory holds only tiles); hand it back where the input was.
    return y[..., : h * model.scale, : w * model.scale].to(image.device)
