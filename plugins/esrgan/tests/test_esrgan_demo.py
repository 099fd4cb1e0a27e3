"""`srzoo demo` with the ESRGAN plugin: its recipe tagged `demo` (esrgan_tiny_x4) is the default, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from srzoo import load_recipe
from srzoo.demo import HOLDOUT_IMAGES, TRAIN_IMAGES, prepare_output
from srzoo.errors import InputError

pytest.importorskip("skimage")


@pytest.mark.slow
def test_demo_runs_end_to_end_with_few_steps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from srzoo.cli import main

    out = tmp_path / "demo"
    tiny = "generator.kwargs={num_feat: 8, num_grow: 4, num_blocks: 1}"
    args = ["demo", "--output-dir", str(out), "--steps-scale", "0.005", tiny, "data.batch_size=4",
            "phases.1.batch_size=2", "phases.1.losses.1.kwargs.weights=none"]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert (
        "| bicubic |" in printed
        and "| esrgan_tiny_x4 psnr |" in printed
        and "| esrgan_tiny_x4 gan |" in printed
    )
    assert sorted(p.stem for p in (out / "images" / "train").iterdir()) == sorted(TRAIN_IMAGES)
    assert sorted(p.stem for p in (out / "images" / "holdout").iterdir()) == sorted(HOLDOUT_IMAGES)
    for name in (
        "comparison.png",
        "results.md",
        "results.json",
        "run/psnr.safetensors",
        "run/gan.safetensors",
    ):
        assert (out / name).is_file(), name
    summary = json.loads((out / "demo.json").read_text())
    bicubic = summary["scores"]["bicubic"]["psnr"]
    assert 20 < bicubic < 40  # bicubic x4 on these photos: about 28.5 dB
    results = json.loads((out / "results.json").read_text())["results"]
    assert {r["model"] for r in results} == {"bicubic", "esrgan_tiny_x4 psnr", "esrgan_tiny_x4 gan"}
    assert all(r["n_images"] == len(HOLDOUT_IMAGES) for r in results)
    expected = [max(1, round(p.iters * 0.005)) for p in load_recipe("esrgan_tiny_x4").phases]
    assert summary["iterations"] == dict(zip(["psnr", "gan"], expected))
    assert load_recipe(out / "run" / "recipe.yaml").phases[0].iters == expected[0]
    with pytest.raises(InputError, match="exists and is not empty; pass --overwrite"):
        prepare_output(out, overwrite=False)
