"""Tiling mechanics: forward passes with fp32 retry, tile geometry, feathered blending, tile size from memory."""

from __future__ import annotations

import copy
import math
import weakref
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from srzoo.errors import InputError
from srzoo.inference.model import SRModel

Tile = int | Literal["auto"] | None
OOM_ERRORS = tuple(
    {getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError), torch.cuda.OutOfMemoryError}
)
_FP32_NETS: weakref.WeakKeyDictionary[SRModel, nn.Module] = weakref.WeakKeyDictionary()
_BYTES_PER_PX: weakref.WeakKeyDictionary[SRModel, float] = weakref.WeakKeyDictionary()
_MAP_ELEMENTS_PER_PX: weakref.WeakKeyDictionary[SRModel, float] = weakref.WeakKeyDictionary()
MIN_TILE = 32
MAX_TILE = {"cpu": 512, "cuda": 2048}  # bigger CPU tiles buy no speed, only memory


@dataclass
class TileStats:
    """What happened while upscaling one image (reported by the CLI, asserted by tests)."""

    tile: int | None = None  # the LR tile size finally used; None = whole image in one pass
    tiles: int = 0
    fp32_retries: int = 0  # tiles redone in fp32 because fp16/bf16 gave NaN/Inf
    oom_retries: int = 0
    events: list[str] = field(default_factory=list)


# -- forward passes ------------------------------------------------------------------------------------------
def _fp32_net(model: SRModel) -> nn.Module:
    """A float32 copy of the model's net, made once per model and only when a low-precision tile fails."""
    net = _FP32_NETS.get(model)
    if net is None:
        net = copy.deepcopy(model.net).float()
        _FP32_NETS[model] = net
    return net


def _raw_forward(model: SRModel, net: nn.Module, x: Tensor, dtype: torch.dtype) -> Tensor:
    x = model.prepare(x.to(model.device), dtype)
    # no_grad, not inference_mode: outputs are blended in place afterwards, which inference tensors forbid.
    with torch.no_grad():
        return net(x).float()


def run_net(model: SRModel, x: Tensor, stats: TileStats) -> Tensor:
    """The model on a batch of tiles; NaN/Inf tiles of a low-precision model are redone in fp32."""
    y = _raw_forward(model, model.net, x, model.dtype)
    if model.dtype != torch.float32:
        bad = (~torch.isfinite(y)).flatten(1).any(1)
        if bool(bad.any()):
            idx = bad.nonzero().flatten()
            y[idx] = _raw_forward(model, _fp32_net(model), x[idx.cpu()], torch.float32)
            stats.fp32_retries += len(idx)
    return y.clamp_(0, 1)


def pad_to(x: Tensor, multiple: int, minimum: int = 1) -> Tensor:
    """Pad bottom/right to the arch's LR size multiple and minimum side (reflect; replicate for tiny inputs)."""
    h, w = x.shape[-2:]
    return pad_bottom_right(x, padded_side(h, multiple, minimum) - h, padded_side(w, multiple, minimum) - w)


def pad_bottom_right(x: Tensor, ph: int, pw: int) -> Tensor:
    """`ph` rows below and `pw` columns right of `x`, reflected (replicated where the image is too small)."""
    h, w = x.shape[-2:]
    if not ph and not pw:
        return x
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)


def padded_side(side: int, multiple: int, minimum: int) -> int:
    """`side` raised to `minimum`, then to a multiple of `multiple`."""
    return -(-max(side, minimum) // multiple) * multiple


# -- tile geometry -------------------------------------------------------------------------------------------
def tile_starts(length: int, tile: int, overlap: int, multiple: int = 1) -> list[int]:
    """Evenly spread tile origins on multiples of `multiple`; neighbours overlap by at least `overlap`."""
    if length <= tile:
        return [0]
    step = tile - overlap - (multiple - 1)  # rounding origins down may cost up to multiple-1 of overlap
    n = math.ceil((length - tile) / step) + 1
    starts = [(i * (length - tile) // (n - 1)) // multiple * multiple for i in range(n)]
    starts[-1] = length - tile
    return starts


def _ramp(length: int, scale: int, lo: int | None, hi: int | None) -> Tensor:
    """Per-axis blend weights of one tile in HR pixels: 0 over the outer quarter of each overlap, 1 inside.

    Neighbours' ramps over a shared overlap sum to one, and the tile border (least context) gets no weight.
    """
    u = (torch.arange(length * scale, dtype=torch.float32) + 0.5) / scale
    w = torch.ones_like(u)
    if lo:
        w *= ((u / lo - 0.25) / 0.5).clamp_(0, 1)
    if hi:
        w *= (((length - u) / hi - 0.25) / 0.5).clamp_(0, 1)
    return w


def _weights(starts: list[int], tile: int, scale: int) -> list[Tensor]:
    out = []
    for i, s in enumerate(starts):
        lo = starts[i - 1] + tile - s if i > 0 else None
        hi = s + tile - starts[i + 1] if i + 1 < len(starts) else None
        out.append(_ramp(tile, scale, lo, hi))
    return out


def tiled(model: SRModel, x: Tensor, tile: int, overlap: int, batch: int, stats: TileStats) -> Tensor:
    """Accumulate weighted tiles into one HR buffer; memory is one batch of tiles plus the output."""
    s = model.scale
    _, _, h, w = x.shape
    th, tw = min(tile, h), min(tile, w)
    ys, xs = (
        tile_starts(h, th, overlap, size_multiple(model)),
        tile_starts(w, tw, overlap, size_multiple(model)),
    )
    wy, wx = _weights(ys, th, s), _weights(xs, tw, s)
    out = torch.zeros((1, _out_channels(model, x), h * s, w * s), dtype=torch.float32)
    coords = [(i, j) for i in range(len(ys)) for j in range(len(xs))]
    for k in range(0, len(coords), batch):
        chunk = coords[k : k + batch]
        inp = torch.cat([x[..., ys[i] : ys[i] + th, xs[j] : xs[j] + tw] for i, j in chunk])
        y = run_net(model, inp, stats).cpu()
        check_shape(model, y, (len(chunk), th * s, tw * s))
        for n, (i, j) in enumerate(chunk):
            region = out[..., ys[i] * s : (ys[i] + th) * s, xs[j] * s : (xs[j] + tw) * s]
            region.addcmul_(y[n : n + 1], wy[i][:, None] * wx[j][None, :])
        stats.tiles += len(chunk)
    # The weights are separable over the grid, so their sum is an outer product: normalise without a map.
    out.div_(sum(_scatter(wy, ys, h, s))[:, None]).div_(sum(_scatter(wx, xs, w, s))[None, :])
    return out


def _scatter(weights: list[Tensor], starts: list[int], length: int, scale: int) -> list[Tensor]:
    full = []
    for wt, st in zip(weights, starts):
        v = torch.zeros(length * scale)
        v[st * scale : st * scale + len(wt)] = wt
        full.append(v)
    return full


def size_multiple(model: SRModel) -> int:
    return max(1, model.card.capabilities.multiple_for(model.scale))


def min_side(model: SRModel) -> int:
    return max(1, model.card.capabilities.min_size)


def _out_channels(model: SRModel, x: Tensor) -> int:
    caps = model.card.capabilities
    return x.shape[1] if caps.out_channels == caps.in_channels else caps.out_channels


def check_shape(model: SRModel, y: Tensor, expected: tuple[int, int, int]) -> None:
    if y.ndim != 4 or (y.shape[0], y.shape[2], y.shape[3]) != expected:
        raise InputError(
            f"arch {model.card.arch!r} returned {tuple(y.shape)} for x{model.scale}, "
            f"expected batch/H/W {expected}"
        )


# -- tile size -----------------------------------------------------------------------------------------------
def bytes_per_pixel(model: SRModel) -> float:
    """Estimated peak activation bytes per LR input pixel, from one small probe pass (cached per model)."""
    if model in _BYTES_PER_PX:
        return _BYTES_PER_PX[model]
    m = size_multiple(model)
    side = max(16, m * math.ceil(16 / m))
    sizes: list[int] = []
    elements: list[int] = []

    def hook(_mod: nn.Module, _inp: object, out: object) -> None:
        if isinstance(out, Tensor):
            sizes.append(out.numel() * out.element_size())
            elements.append(out.numel())

    handles = [mod.register_forward_hook(hook) for mod in model.net.modules() if not list(mod.children())]
    cuda = model.device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(model.device)
        base = torch.cuda.memory_allocated(model.device)
    try:
        _raw_forward(
            model, model.net, torch.rand(1, model.card.capabilities.in_channels, side, side), model.dtype
        )
    finally:
        for handle in handles:
            handle.remove()
    # Live at once: roughly the largest map, its input and a skip/concat; measured peak wins on CUDA.
    estimate = 3.0 * max(sizes, default=4 * model.scale**2 * 64)
    if cuda:
        estimate = max(estimate, float(torch.cuda.max_memory_allocated(model.device) - base))
    _BYTES_PER_PX[model] = estimate / (side * side)
    _MAP_ELEMENTS_PER_PX[model] = max(elements, default=64 * model.scale**2 * side * side) / (side * side)
    return _BYTES_PER_PX[model]


def largest_map_side(model: SRModel) -> int:
    """The largest LR tile whose biggest feature map stays under 2**31 elements.

    Past that, CUDA kernels switch to 64-bit indexing: a 2000² x4 image run untiled on a 139 GB H200 took
    25-30 s against 2.1 s in 512² tiles (its 64-channel HR maps hold 4.1e9 elements).
    """
    bytes_per_pixel(model)
    return int(math.sqrt((2**31 - 1) / _MAP_ELEMENTS_PER_PX[model]))


def choose_tile(
    model: SRModel, height: int, width: int, overlap: int = 16, reserve_bytes: int = 0
) -> int | None:
    """A tile size that fits free memory (CUDA: mem_get_info; CPU: psutil); None when no tiling is needed.

    `reserve_bytes` is host memory the caller needs besides the output and its integer copy (a resized
    copy for --outscale, the self-ensemble's accumulator), kept out of the CPU tile budget.
    """
    device = model.device
    cap = MAX_TILE.get(device.type, 512)
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        budget = 0.6 * free
        cap = min(cap, largest_map_side(model))
    else:
        import psutil

        # The float HR buffer and its integer copy are needed whatever the tile; tiles share what is left.
        out_bytes = 4 * 3 * height * width * model.scale**2
        free = psutil.virtual_memory().available - 2 * out_bytes - reserve_bytes
        budget = min(512 << 20, max(64 << 20, 0.3 * free))
    m = size_multiple(model)
    side = int(math.sqrt(budget / bytes_per_pixel(model)))
    side = min(side, cap)
    side = max(side // m * m, min_tile(overlap * m, m, min_side(model)))
    if side >= math.ceil(height / m) * m and side >= math.ceil(width / m) * m:
        return None
    return side


def min_tile(overlap: int, multiple: int, minimum: int = 1) -> int:
    return max(MIN_TILE, padded_side(2 * overlap + multiple, multiple, minimum))
