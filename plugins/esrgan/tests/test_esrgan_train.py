"""Training ESRGAN's pieces through srzoo's CLI: the tiny recipe with RRDBNet, VGG D, perceptual and RaGAN losses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from srzoo.testing.training import tiny_recipe, write_recipe

pytestmark = pytest.mark.slow


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", **extra}


def srzoo_train(*args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "srzoo.cli", "train", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env(**extra_env), timeout=600)


def test_both_phases_train_with_the_esrgan_losses(tmp_path: Path) -> None:
    recipe = tiny_recipe(
        tmp_path / "data",
        generator={"arch": "rrdbnet", "kwargs": {"num_feat": 8, "num_grow": 4, "num_blocks": 1}},
        discriminator={"arch": "vgg_discriminator", "kwargs": {"num_feat": 4, "fc_features": [8]}},
        gan_loss={"name": "ragan", "weight": 0.005},
        losses=[{"name": "perceptual", "kwargs": {"layer_weights": {"conv2_2": 1.0}, "weights": "none"}}],
    )
    path = write_recipe(tmp_path / "tiny.yaml", recipe)
    out = tmp_path / "run"
    done = srzoo_train(str(path), "phases.0.iters=2", "phases.1.iters=2", "--output-dir", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / "psnr.safetensors").is_file() and (out / "gan.safetensors").is_file()
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    gan = [r for r in records if r["phase"] == "gan" and "train/g/adv" in r]
    assert len(gan) == 2
    total = gan[0]
    expected = 0.01 * total["train/g/l1"] + total["train/g/perceptual"] + 0.005 * total["train/g/adv"]
    assert total["train/g/total"] == pytest.approx(expected, rel=1e-5)


def test_tiny_recipe_runs_both_phases_under_max_steps(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "tiny"
    overrides = [
        "phases.0.iters=2",
        "phases.1.iters=3",
        "phases.1.losses.1.kwargs.weights=none",
        "train.trackers=[]",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "srzoo.cli", "train", "esrgan_tiny_x4", *overrides, "--max-steps", "4",
         "--output-dir", str(out)],
        capture_output=True, text=True, env=env(SRZOO_DATA=str(shared_data)), timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / "psnr.safetensors").is_file() and (out / "last.safetensors").is_file()
    assert not (out / "gan.safetensors").exists()  # stopped after 2 of the 3 GAN iterations
    from srzoo.framework.weights import load_weights_file

    meta = load_weights_file(out / "last.safetensors").srzoo_meta
    assert meta["kwargs"] == {"num_feat": 32, "num_grow": 16, "num_blocks": 2}
    assert meta["extra"]["phase"] == "gan" and meta["extra"]["step"] == 4
    assert "val/Set14/psnr_y" in (out / "metrics.jsonl").read_text()
