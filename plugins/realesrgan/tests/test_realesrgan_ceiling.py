"""benchmarks/real_world_ceiling.py: the data it carries round-trips, the variants train, the table's arithmetic."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import save_file

BENCH = Path(__file__).resolve().parents[3] / "benchmarks"
SCRIPT = BENCH / "real_world_ceiling.py"
sys.path.insert(0, str(BENCH))

import real_world_ceiling as rwc  # noqa: E402  (benchmarks/ is a folder of scripts, not a package)
import real_world_ceiling_report as rwr  # noqa: E402


def test_packed_sets_unpack_to_the_same_pixels(tmp_path: Path, monkeypatch) -> None:
    rng = np.random.default_rng(0)
    root, originals = tmp_path / "data", {}
    for rel, mode in (
        ("T91/HR/a.png", "RGB"),
        ("BSDS200/HR/b.png", "L"),
        ("Set5/LR_bicubic/X4/c.png", "RGB"),
    ):
        shape = (23, 31, 3) if mode == "RGB" else (23, 31)
        image = Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode)
        (root / rel).parent.mkdir(parents=True)
        image.save(root / rel)
        originals[rel] = np.asarray(image.convert("RGB"))
    (root / "BSD100" / "HR").mkdir(parents=True)  # an evaluation set: never carried
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / "BSD100" / "HR" / "x.png")
    monkeypatch.setenv("SRZOO_DATA", str(root))
    assert rwc.main(["pack", "--out", str(tmp_path / "packed")]) == 0
    assert sorted(p.relative_to(tmp_path / "packed").as_posix() for p in (tmp_path / "packed").rglob("*")
                  if p.is_file()) == ["BSDS200/HR/b.webp", "Set5/LR_bicubic/X4/c.webp", "T91/HR/a.webp"]  # fmt: skip
    assert rwc.main(["unpack", "--src", str(tmp_path / "packed"), "--out", str(tmp_path / "back")]) == 0
    for rel, pixels in originals.items():
        assert np.array_equal(np.asarray(Image.open(tmp_path / "back" / rel).convert("RGB")), pixels), rel


def test_bring_back_halves_only_the_big_nets(tmp_path: Path) -> None:
    meta = {"srzoo.arch": "rrdbnet", "srzoo.scale": "4"}
    small = {"w": torch.randn(1000, 1000), "b": torch.randn(10)}  # 1,000,010 parameters
    big = {"w": torch.randn(1500, 1500), "step": torch.tensor([3])}  # 2,250,001
    for name, tensors in (("small", small), ("big", big)):
        save_file(tensors, str(tmp_path / f"{name}.safetensors"), metadata=meta)
        assert rwc.bring_back(tmp_path / f"{name}.safetensors", tmp_path / f"{name}-back.safetensors") == (
            f"{name}-back.safetensors"
        )
    with safe_open(str(tmp_path / "small-back.safetensors"), "pt") as f:
        assert f.metadata() == meta and f.get_tensor("w").dtype == torch.float32
        assert torch.equal(f.get_tensor("w"), small["w"])
    with safe_open(str(tmp_path / "big-back.safetensors"), "pt") as f:
        assert f.metadata() == meta and f.get_tensor("w").dtype == torch.float16
        assert f.get_tensor("step").dtype == torch.int64  # only floating tensors are halved
        assert torch.allclose(f.get_tensor("w").float(), big["w"], rtol=1e-3, atol=1e-4)
    back = rwr.fp32_copy(tmp_path / "big-back.safetensors", tmp_path / "big-32.safetensors")
    with safe_open(str(back), "pt") as f:
        assert f.metadata() == meta and f.get_tensor("w").dtype == torch.float32


def test_a_variant_trains_and_comes_back_loadable(shared_data: Path, tmp_path: Path) -> None:
    from srzoo.framework.build import build_arch
    from srzoo.framework.weights import save_weights
    from srzoo.inference.model import load_model

    env = {**os.environ, "SRZOO_DATA": str(shared_data)}
    cmd = [sys.executable, str(SCRIPT), "train", "--smoke", "--minutes", "3", "--out", str(tmp_path / "runs")]
    missing = subprocess.run(  # a clean checkout has no bicubic-trained run: one line, before any training
        [*cmd, "--variants", "tiny-b16", "--bicubic-model", str(tmp_path / "none.safetensors")],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert missing.returncode == 2 and not (tmp_path / "runs").exists()
    assert missing.stderr.startswith("error: variant tiny-b16 starts from --bicubic-model ") and (
        "pass --bicubic-model PATH or leave tiny-b16 out of --variants" in missing.stderr
    )
    tiny = {
        "num_feat": 32,
        "num_grow": 16,
        "num_blocks": 2,
    }  # stands in for train_quality.py's psnr.safetensors
    net = build_arch("rrdbnet", scale=4, **tiny)
    save_weights(tmp_path / "bicubic.safetensors", net.state_dict(), arch="rrdbnet", kwargs=tiny, scale=4)
    cmd += ["--bicubic-model", str(tmp_path / "bicubic.safetensors")]
    done = subprocess.run([*cmd, "--variants", "tiny-b16,rrdb64x6"], env=env, capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    runs = json.loads((tmp_path / "runs" / "train.json").read_text())["runs"]
    assert set(runs) == {"tiny-b16", "rrdb64x6"}
    for name, run in runs.items():
        assert (run["iterations"], run["status"], run["train_sets"]) == (3, "complete", ["t91", "bsds200"]), (
            name
        )
        model = load_model(tmp_path / "runs" / run["weights"])
        assert model(torch.rand(1, 3, 12, 12)).shape == (1, 3, 48, 48)
    assert runs["tiny-b16"]["init"].endswith(
        "bicubic.safetensors"
    )  # the bicubic-trained start, as on the CPU
    assert runs["rrdb64x6"]["init"] is None
    bad = subprocess.run([*cmd, "--variants", "tiny-b16,huge"], env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown variant 'huge'; choose from tiny-b16" in bad.stderr


def test_the_table_gives_each_model_its_gains_over_both_baselines() -> None:
    results = {
        "bicubic": {"set5": {"psnr": 23.0}, "bsd100": {"psnr": 22.0}},
        "bicubic-trained": {"set5": {"psnr": 22.75}, "bsd100": {"psnr": 21.5}},
        "x4plus-l1": {"set5": {"psnr": 24.5}, "bsd100": {"psnr": 23.25}},
        "realesrgan_tiny_x4, CPU 15 min": {"set5": {"psnr": 23.5}, "bsd100": {"psnr": 22.25}},
    }
    rows = {
        "x4plus-l1": ("GPU 6.0 min, from x4plus", "1722 x 16"),
        "realesrgan_tiny_x4, CPU 15 min": ("CPU", "9 x 4"),
    }
    summary = {
        "results": results, "rows": rows, "gpu_training": {"minutes": 6.5, "machine": "GPU box"},
        "bench_machine": "here",
    }  # fmt: skip
    text = rwr.markdown(summary)
    assert (
        "| x4plus-l1 | GPU 6.0 min, from x4plus | 1722 x 16 | 24.50 | +1.50 | +1.75 | 23.25 | +1.25 | +1.75 |"
        in text
    )
    assert (
        "| realesrgan_tiny_x4, CPU 15 min | CPU | 9 x 4 | 23.50 | +0.50 | +0.75 | 22.25 | +0.25 | +0.75 |"
        in text
    )
    assert "| bicubic | — | — | 23.00 |  |  | 22.00 |  |  |" in text


def test_a_cpu_run_becomes_a_row_named_by_its_recipe() -> None:
    label, (how, size), scores = rwr.cpu_run("train_quality_real_45min-avx512.json")
    run = json.loads((BENCH / "results" / "train_quality_real_45min-avx512.json").read_text())
    assert label == "realesrgan_tiny_x4, CPU 45 min"
    assert how == f"CPU {run['timing']['train_minutes']:.1f} min (train_quality_real_45min-avx512.json)"
    assert size == f"{run['iterations']['psnr']} x 16"  # the recipe's batch, as that run trained it
    assert scores == run["results"]["real-world psnr"]
