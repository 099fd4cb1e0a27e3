"""Tiling: geometry, tiled == untiled within 1/255, batching, fp16 redo, OOM halving, auto size, memory."""

from __future__ import annotations

import itertools
import math
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from srzoo import load_model
from srzoo.errors import ConfigError
from srzoo.inference.runner import TileStats, choose_tile, tile_starts, upscale
from srzoo.inference.tiling import _weights
from tests.test_infer_support import TINY, ContextNet, context_net_file, registered, tiny_net_file

ONE_LEVEL = 1 / 255


@pytest.mark.parametrize(
    ("length", "tile", "overlap", "multiple"), [(100, 40, 16, 1), (258, 64, 16, 2), (96, 40, 8, 4)]
)
def test_tile_starts_cover_with_overlap(length: int, tile: int, overlap: int, multiple: int) -> None:
    starts = tile_starts(length, tile, overlap, multiple)
    assert starts[0] == 0 and starts[-1] + tile == length
    assert all(s % multiple == 0 for s in starts)
    assert all(b - a > 0 and a + tile - b >= overlap for a, b in itertools.pairwise(starts))


def test_blend_weights_sum_to_one_between_neighbours() -> None:
    starts, tile, scale = [0, 24, 48], 40, 2
    total = torch.zeros((48 + tile) * scale)
    for s, w in zip(starts, _weights(starts, tile, scale)):
        total[s * scale : (s + tile) * scale] += w
    assert torch.allclose(total, torch.ones_like(total), atol=1e-6)
    # the outer quarter of each overlap gets no weight: the tile border (least context) is discarded
    first = _weights(starts, tile, scale)[1]
    assert float(first[:8].max()) == 0.0 and float(first[tile * scale // 2]) == 1.0


@pytest.mark.parametrize(
    ("scale", "size", "tile"), [(4, (45, 71), 40), (2, (87, 123), 72), (1, (61, 150), 132)]
)
def test_tiled_equals_untiled(tmp_path: Path, scale: int, size: tuple[int, int], tile: int) -> None:
    """Overlap 16 (counted in the arch's coarse pixels for x2/x1, whose sides must be multiples of 2/4)."""
    model = load_model(tiny_net_file(tmp_path, scale))
    x = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(scale))
    ref = upscale(model, x, tile=None)
    stats = TileStats()
    tiled = upscale(model, x, tile=tile, overlap=16, stats=stats)
    assert tiled.shape == ref.shape == (1, 3, size[0] * scale, size[1] * scale)
    assert stats.tiles >= 2
    assert float((tiled - ref).abs().max()) <= ONE_LEVEL


def test_context_arch_seams_need_the_overlap(tmp_path: Path) -> None:
    """A registered third-party arch with 12 px of context: overlap 16 is seamless, overlap 1 is not."""
    with registered("ctx_seams", ContextNet):
        model = load_model(context_net_file(tmp_path, "ctx_seams", scale=3, depth=12))
        # 2 tiles of 48 whose overlap is exactly the requested one (so the test can fail)
        for overlap, ok in ((16, True), (1, False)):
            width = 2 * 48 - overlap
            x = torch.rand(1, 3, 30, width, generator=torch.Generator().manual_seed(0))
            ref = upscale(model, x, tile=None)
            diff = float((upscale(model, x, tile=48, overlap=overlap) - ref).abs().max())
            assert (diff <= ONE_LEVEL) is ok, (overlap, diff)


def test_batched_tiles_equal_one_by_one(tmp_path: Path) -> None:
    model = load_model(tiny_net_file(tmp_path, 4))
    x = torch.rand(1, 3, 40, 56)
    stats = TileStats()
    one = upscale(model, x, tile=32, overlap=8, batch=1)
    many = upscale(model, x, tile=32, overlap=8, batch=3, stats=stats)
    assert stats.tiles == 4
    assert torch.allclose(one, many, atol=1e-5)


def test_fp16_nan_tiles_are_redone_in_fp32(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from srzoo.inference import precision

    # the redo is what is tested: load_model refuses fp16 on CPUs without fp16 kernels only for speed
    monkeypatch.setattr(precision, "cpu_fp16_native", lambda: True)
    with registered("ctx_nan", ContextNet):
        path = context_net_file(tmp_path, "ctx_nan", scale=2, depth=3, nan_fp16=True)
        ref = upscale(load_model(path), x := torch.rand(1, 3, 40, 56), tile=None)
        stats = TileStats()
        out = upscale(load_model(path, precision="fp16"), x, tile=32, overlap=4, stats=stats)
    assert stats.fp32_retries == stats.tiles >= 2
    # the fp32 redo runs the fp16-rounded weights (the model holds no others): close, not bit-equal
    assert torch.isfinite(out).all() and float((out - ref).abs().max()) < 1e-3


def test_out_of_memory_halves_the_tile(tmp_path: Path) -> None:
    with registered("ctx_oom", ContextNet):
        model = load_model(context_net_file(tmp_path, "ctx_oom", scale=2, depth=3, oom_above=64))
        x = torch.rand(1, 3, 100, 150)
        stats = TileStats()
        out = upscale(model, x, tile=None, overlap=4, stats=stats)  # whole image: 150 wide > 64 → OOM
        ref_model = load_model(context_net_file(tmp_path, "ctx_oom", scale=2, depth=3))
        ref = upscale(ref_model, x, tile=None)
    assert stats.oom_retries >= 2 and stats.tile is not None and stats.tile <= 64
    assert float((out - ref).abs().max()) <= ONE_LEVEL


def test_auto_tile_follows_free_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import psutil

    model = load_model(tiny_net_file(tmp_path, 4))
    assert choose_tile(model, 64, 64) is None  # fits: no tiling
    real = psutil.virtual_memory()
    monkeypatch.setattr(psutil, "virtual_memory", lambda: real._replace(available=8 << 30))
    roomy = choose_tile(model, 1000, 1000)
    monkeypatch.setattr(psutil, "virtual_memory", lambda: real._replace(available=0))
    tight = choose_tile(model, 1000, 1000)
    assert roomy is not None and tight is not None and 32 <= tight < roomy <= 512


def test_tile_smaller_than_overlap_is_a_clear_error(tmp_path: Path) -> None:
    model = load_model(tiny_net_file(tmp_path, 2))
    with pytest.raises(ConfigError, match=r"too small for overlap 16 .*--tile >= 66"):
        upscale(model, torch.rand(1, 3, 80, 80), tile=40, overlap=16)


def test_one_pixel_image_through_a_multiple_of_four_arch(tmp_path: Path) -> None:
    model = load_model(tiny_net_file(tmp_path, 1))  # toy_sr x1 needs sides divisible by 4
    out = upscale(model, torch.full((1, 3, 1, 1), 0.25))
    assert out.shape == (1, 3, 1, 1) and torch.isfinite(out).all()


BENCH = """
import resource, sys, numpy as np
from PIL import Image
from tests.test_infer_support import NearestNet, registered, context_net_file, smooth_rgb
from pathlib import Path
from srzoo.cli import main
tmp = Path(sys.argv[1])
Image.fromarray(smooth_rgb(2000, 2000)).save(tmp / "big.png", compress_level=1)
with registered("nearest_bench", NearestNet):
    weights = context_net_file(tmp, "nearest_bench", scale=4, cls=NearestNet)
    args = ["infer", str(tmp / "big.png"), "--model", str(weights), "--device", "cpu", "--format", "jpg"]
    code = main(args)
print("PEAK_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
sys.exit(code)
"""


def test_2000px_x4_on_cpu_stays_under_3gb(tmp_path: Path) -> None:
    """Benchmark: a 2000x2000 input at x4 (64 MP out) within 3 GB peak RSS, auto tiles."""
    script = tmp_path / "bench.py"
    script.write_text(textwrap.dedent(BENCH))
    env_path = str(Path(__file__).parent.parent)
    proc = subprocess.run(
        [sys.executable, str(script), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "PYTHONPATH": env_path},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    peak_gb = int(proc.stdout.split("PEAK_KB")[1].split()[0]) / 2**20
    print(f"2000x2000 x4 on CPU: peak RSS {peak_gb:.2f} GB; {proc.stdout.strip().splitlines()[-2]}")
    assert peak_gb < 3.0
    assert (tmp_path / "big_sr.jpg").stat().st_size > 0
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss > 0


def test_cuda_tiles_keep_every_feature_map_under_two_to_the_31_elements(tmp_path: Path) -> None:
    from srzoo.inference.tiling import largest_map_side

    model = load_model(tiny_net_file(tmp_path, 4))
    feat = TINY[
        "num_feat"
    ]  # the largest map: num_feat channels at 4x the LR side (conv_up before its shuffle)
    side = largest_map_side(model)
    assert side == int(math.sqrt((2**31 - 1) / (feat * 16)))
    assert feat * (4 * side) ** 2 < 2**31 <= feat * (4 * (side + 1)) ** 2
