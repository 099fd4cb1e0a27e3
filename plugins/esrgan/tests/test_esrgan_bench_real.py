"""`srzoo bench` with the real 23-block RRDBNet: the printed table, the JSON and the saved PNGs agree."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srzoo.cli import main
from srzoo.eval.metrics import psnr, ssim


@pytest.mark.slow  # the 23-block model on CPU: ~30 s on 2 idle cores
def test_real_weights_set5_table_json_and_pngs_agree(
    shared_data: Path, shared_weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench"
    argv = ["bench", "--arch", "rrdbnet", "--weights", str(shared_weights), "--sets", "set5"]
    argv += ["--data-root", str(shared_data), "--out-dir", str(out), "--save-images", "--device", "cpu"]
    assert main(argv) == 0, capsys.readouterr().err
    table = capsys.readouterr().out
    data = json.loads((out / "results.json").read_text())
    conv = data["convention"]
    assert conv["weights_sha256"] == "52ba896a2d87176fe85b54312b4507886431febb15d497f0e55d74af5eb88096"
    assert conv["models"]["rrdbnet"]["kwargs"].get("num_blocks", 23) == 23
    rows = {r["model"]: r for r in data["results"]}
    assert set(rows) == {"bicubic", "rrdbnet"}
    for model, row in rows.items():
        set_name = row["set"]
        for img in row["images"]:
            saved = np.array(Image.open(out / "images" / model / set_name / f"{img['name']}.png"))
            hr = np.array(Image.open(shared_data / "Set5" / "HR" / f"{img['name']}.png"))
            hr = hr[: saved.shape[0], : saved.shape[1]]
            assert saved.shape[:2] == (hr.shape[0] - hr.shape[0] % 4, hr.shape[1] - hr.shape[1] % 4)
            assert img["psnr"] == pytest.approx(psnr(saved, hr, crop_border=4), abs=1e-6)
            assert img["ssim"] == pytest.approx(ssim(saved, hr, crop_border=4), abs=1e-6)
        line = next(x for x in table.splitlines() if x.startswith(f"| {model} |"))
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[1:3] == [f"{row['psnr']:.2f}", f"{row['ssim']:.4f}"]
        assert row["seconds_per_image"] > 0 and row["megapixels_per_second"] > 0
    # Real-ESRGAN targets real-world degradations: on bicubic LR it scores below bicubic (shared/README).
    assert 20.0 < rows["rrdbnet"]["psnr"] < rows["bicubic"]["psnr"]
    figure = out / "figures" / f"{rows['rrdbnet']['set']}.png"
    assert figure.is_file() and figure.stat().st_size < 300_000
