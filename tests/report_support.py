"""Inputs for the report tests: a bench page (bicubic and a nearest-neighbour 'model') and a small run dir."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml

SCALE = 4
IMAGES = 3
SIDE = 96  # HR pixels: small, so pages and PNGs are quick to write and load


def hr_folder(root: Path) -> Path:
    from srzoo.testing.training import write_images

    return write_images(root / "hr", IMAGES, SIDE, seed=5)


def bench_page(root: Path) -> tuple[Path, object]:
    """`srzoo bench`'s engine on a folder, plus a nearest-neighbour row, as a page under root/page."""
    from srzoo.data.sets import open_eval_set
    from srzoo.eval.bench import run_bench
    from srzoo.eval.metrics import psnr, ssim
    from srzoo.eval.tables import ImageScore, SetResult
    from srzoo.imaging.datafiles import save_image
    from srzoo.report import model_images, reference_images, write_bench_page

    folder = hr_folder(root)
    page = root / "page"
    report = run_bench(None, [str(folder)], scale=SCALE, save_images_dir=page / "images")
    evalset = open_eval_set(str(folder), SCALE)
    nearest = SetResult("nearest", evalset.name, SCALE, report.metrics)
    elsewhere = root / "nearest_sr"  # outside the page: the writer must copy these in
    for image in evalset:
        sr = image.lr.repeat(SCALE, axis=0).repeat(SCALE, axis=1)
        scores = {
            "psnr": psnr(sr, image.hr, crop_border=SCALE),
            "ssim": ssim(sr, image.hr, crop_border=SCALE),
        }
        nearest.images.append(ImageScore(image.name, scores, 0.001))
        nearest.seconds += 0.001
        nearest.megapixels += sr.shape[0] * sr.shape[1] / 1e6
        save_image(elsewhere / evalset.name / f"{image.name}.png", sr)
    report.results.append(nearest)
    images = model_images(report, {"bicubic": page / "images" / "bicubic", "nearest": elsewhere})
    images |= reference_images([evalset], page / "images")
    return write_bench_page(report, page, images), report


def run_dir(root: Path) -> Path:
    """A run directory as `srzoo train` leaves it: recipe.yaml, metrics.jsonl, validation samples at 2 steps.

    The samples come from the real validate() and save_samples() with the bicubic arch as the generator.
    """
    import torch

    from srzoo.data.sets import open_eval_set
    from srzoo.framework.build import build_arch
    from srzoo.train.samples import save_samples
    from srzoo.train.validate import validate

    run = root / "run"
    run.mkdir(parents=True)
    recipe = {"name": "report_test", "scale": SCALE,
              "phases": [{"name": "warm", "type": "supervised", "iters": 4},
                         {"name": "fine", "type": "adversarial", "iters": 4}]}  # fmt: skip
    (run / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False), encoding="utf-8")
    records = []
    for step in range(1, 9):
        phase = "warm" if step <= 4 else "fine"
        record = {"step": step, "phase": phase, "time": 1000.0 + step, "train/g/l1": 1.0 / step, "lr/g": 1e-3}
        if phase == "fine":
            record |= {"train/g/adv": 0.5 + 0.01 * step, "train/d/adv": 0.7, "lr/d": 1e-4}
        records.append(record)
    folder = hr_folder(root)
    evalset = open_eval_set(str(folder), SCALE)
    generator = build_arch("bicubic", scale=SCALE)
    for step, phase in ((4, "warm"), (8, "fine")):
        samples: list = []
        metrics, _ = validate(generator, [evalset], {}, torch.device("cpu"), samples)
        save_samples(run, step, phase, samples)
        records.append({"step": step, "phase": phase, "time": 2000.0 + step, **metrics})
    records.append({"step": 8, "phase": "fine", "time": 3000.0, "train/g/l1": float("nan")})
    with (run / "metrics.jsonl").open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps({k: (str(v) if isinstance(v, float) and not np.isfinite(v) else v)
                                for k, v in r.items()}) + "\n")  # fmt: skip
    return run
