"""`srzoo bench`'s engine: run models and the bicubic baseline over eval sets; score, time and report."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from srzoo.errors import ConfigError, InputError, UnknownNameError
from srzoo.eval.figures import bench_figure, crop, detail_box
from srzoo.eval.scoring import Scorer
from srzoo.eval.tables import BenchReport, ImageScore, SetResult
from srzoo.framework.files import sha256_file
from srzoo.inference.model import SRModel, load_model
from srzoo.inference.precision import cpu_info

__all__ = ["METRICS", "BenchReport", "SetResult", "model_labels", "run_bench", "set_sha256"]

METRICS = ("psnr", "ssim", "niqe", "lpips")
BASELINE = "bicubic"


def set_sha256(files: Sequence[Path]) -> str:
    """sha256 over the sorted (path relative to the files' common folder, file sha256) list of a set."""
    paths = [Path(f).resolve() for f in files]
    if not paths:
        return hashlib.sha256(b"").hexdigest()
    root = Path(os.path.commonpath([str(p.parent) for p in paths]))
    lines = sorted(f"{p.relative_to(root).as_posix()}\t{sha256_file(p)}\n" for p in paths)
    return hashlib.sha256("".join(lines).encode()).hexdigest()


class _Runner:
    """One model as the bench calls it: size-multiple padding or tiling, synchronised timing, uint8 output."""

    def __init__(
        self,
        label: str,
        model: SRModel,
        device: torch.device,
        tile: int | None,
        overlap: int | None,
        self_ensemble: bool = False,
    ):
        self.label, self.model, self.device = label, model, device
        self.tile, self.overlap, self.self_ensemble = tile, overlap, self_ensemble
        caps = model.card.capabilities
        if caps.in_channels != 3 or caps.out_channels != 3:
            raise ConfigError(
                f"arch {model.card.arch!r} is not RGB-to-RGB; the bench feeds and scores RGB images"
            )
        self.multiple = caps.multiple_for(model.scale)

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.self_ensemble:
            from srzoo.inference.ensemble import self_ensemble

            # each pass clamped before the mean, as srzoo infer's tiles are
            return self_ensemble(lambda t: self._forward_once(t).clamp(0, 1), x)
        return self._forward_once(x)

    def _forward_once(self, x: torch.Tensor) -> torch.Tensor:
        if self.tile:
            from srzoo.inference.upscaling import upscale

            kwargs = {} if self.overlap is None else {"overlap": self.overlap}
            with torch.inference_mode():  # upscale clamps its output in place
                return upscale(self.model, x, tile=self.tile, **kwargs)
        from srzoo.inference.tiling import pad_to

        h, w = x.shape[-2:]
        # Reflect padding keeps edge statistics natural; the padded output is cropped away below.
        x = pad_to(x, self.multiple, self.model.card.capabilities.min_size)
        y = self.model(x)
        s = self.model.scale
        return y[..., : h * s, : w * s]

    def warm_up(self, x: torch.Tensor) -> None:
        """One small call first, so one-time set-up (kernel selection, thread pools) is not timed."""
        side = max(self.multiple, 16)
        self._forward(x[..., :side, :side])
        self._sync()

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, float]:
        self._sync()
        start = time.perf_counter()
        y = self._forward(x)
        self._sync()
        return y, time.perf_counter() - start


def _to_input(lr: np.ndarray, device: torch.device) -> torch.Tensor:
    # Greyscale is fed as R = G = B, the same convention the metrics score it with.
    rgb = np.repeat(lr[:, :, None], 3, axis=2) if lr.ndim == 2 else lr
    t = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))).to(device)
    return (t.float() / 255.0)[None]


def _to_uint8(y: torch.Tensor, grey: bool) -> np.ndarray:
    """round(clamp(y * 255)) as (H, W, 3) uint8; a grey image's output stays grey if it kept R = G = B."""
    out = (y[0].float().clamp(0, 1) * 255.0).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    if grey and (out[:, :, 0] == out[:, :, 1]).all() and (out[:, :, 0] == out[:, :, 2]).all():
        return np.ascontiguousarray(out[:, :, 0])
    return out


def _check_metrics(metrics: Sequence[str]) -> tuple[str, ...]:
    for m in metrics:
        if m not in METRICS:
            raise UnknownNameError("metric", m, METRICS)
    # PSNR always comes first: rankings, --show and the figures use it.
    return ("psnr", *dict.fromkeys(m for m in metrics if m != "psnr"))


def _convention(
    scale: int, metrics: tuple[str, ...], runners: list[_Runner], device: torch.device, tile: int | None
) -> dict[str, Any]:
    from srzoo._version import __version__
    from srzoo.framework.entry_points import distributions

    models = {
        r.label: {
            "arch": r.model.card.arch,
            "kwargs": r.model.card.kwargs,
            "scale": r.model.scale,
            "weights": r.model.card.source,
            "weights_sha256": r.model.card.weights_sha256,
            "detected_by": r.model.card.detected_by,
            "precision": r.model.precision,
            "conv_kernel": r.model.conv_kernel(device),
        }
        for r in runners
    }
    main = runners[-1].model
    return {
        "scale": scale,
        "channel": "y",
        "y_formula": "Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255 on 0..255 RGB (BT.601), not rounded",
        "crop_border": scale,
        "ssim": {"window": 11, "sigma": 1.5, "region": "valid", "k1": 0.01, "k2": 0.03, "data_range": 255},
        "quantisation": "SR output round(clamp(sr * 255)) to uint8 before any metric",
        "greyscale": "grey images are fed to the model and scored as R = G = B",
        "baseline": "MATLAB bicubic (srzoo arch 'bicubic', LR from the set)",
        "metrics": list(metrics),
        "sets": {},
        "weights_sha256": main.card.weights_sha256,
        "models": models,
        "srzoo_version": __version__,
        "plugins": {d: info["version"] for d, info in sorted(distributions().items()) if d != "srzoo"},
        "torch": torch.__version__,
        "device": str(device),
        "precision": main.precision,
        "conv_kernel": main.conv_kernel(device),
        # the CPU's ISA level, flags and native bf16/fp16: scores are close across CPUs, timings are not
        "cpu": cpu_info(),
        "tile": tile,
        # the mean over the 8 flips/rotations of each input (EDSR's "+"); rows marked "+", bicubic never
        "self_ensemble": any(r.self_ensemble for r in runners),
    }


def model_labels(models: Sequence[SRModel]) -> list[str]:
    """Distinct row names: the arch, plus the weights file's stem (then a number) where two share an arch."""
    arches = [m.card.arch for m in models]
    labels: list[str] = []
    for m in models:
        label = m.card.arch
        if arches.count(label) > 1 and m.card.source:
            label = f"{label}-{Path(m.card.source).stem}"
        base, n = label, 2
        while label in labels or label == BASELINE:
            label, n = f"{base}-{n}", n + 1
        labels.append(label)
    return labels


def run_bench(
    model: SRModel | Sequence[SRModel] | None,
    sets: Sequence[str],
    *,
    scale: int | None = None,
    root: str | Path | None = None,
    metrics: Sequence[str] = ("psnr", "ssim"),
    tile: int | None = None,
    overlap: int | None = None,
    save_images_dir: str | Path | None = None,
    figures_dir: str | Path | None = None,
    show: int = 0,
    device: str | torch.device = "cpu",
    baseline: bool = True,
    download: bool = False,
    progress: bool = False,
    self_ensemble: bool = False,
) -> BenchReport:
    """Bench `model` (several: one row each; None: the bicubic baseline alone) and the baseline on `sets`.

    Each set is a registered eval set (`set5`, `set14`, `bsd100`, ...) or a folder of HR images (LR made on
    the fly with MATLAB bicubic). SR outputs are rounded to uint8 before scoring; PSNR/SSIM on BT.601 Y with a
    border of `scale` pixels. `save_images_dir` gets `<model>/<set>/<name>.png`; `figures_dir` gets one
    comparison PNG per set. Timing covers the model call only. Models are moved to `device`; rows are named
    by `model_labels`, and models of different scales are refused. `self_ensemble` scores each model by the
    mean of its outputs for the 8 flips/rotations of the input (rows labelled `<name>+`, 8x the time); the
    bicubic baseline is symmetric, so it runs once.
    """
    from tqdm import tqdm

    from srzoo.data.sets import open_eval_set
    from srzoo.imaging.datafiles import save_image

    metrics = _check_metrics(metrics)
    if not sets:
        raise ConfigError("no sets to bench; e.g. sets=['set5', 'set14']")
    if show < 0:
        raise ConfigError(f"show must be >= 0, got {show}")
    models = [] if model is None else [model] if isinstance(model, SRModel) else list(model)
    scale = scale or (models[0].scale if models else 4)
    if len({m.scale for m in models}) > 1:
        found = ", ".join(f"{m.card.arch} x{m.scale}" for m in models)
        raise ConfigError(f"the models differ in scale ({found}); bench models of one scale together")
    if models and models[0].scale != scale:
        raise ConfigError(
            f"the model is x{models[0].scale} but the bench asks for x{scale}; pass --scale {models[0].scale}"
        )
    device = torch.device(device)
    # Open every set first: a typo or a missing download in the last set fails before any model time is spent.
    eval_sets = [open_eval_set(s, scale, root=root, download=download) for s in sets]
    runners: list[_Runner] = []
    others = [m for m in models if m.card.arch != BASELINE]
    if baseline or len(others) < len(models) or not models:  # the bicubic row once, first
        # fast=False: channels_last only slows bicubic's matmuls down (2x on CPU).
        bicubic = load_model(None, arch=BASELINE, scale=scale, device=device, fast=False)
        runners.append(_Runner(BASELINE, bicubic, device, tile, overlap))
    for label, m in zip(model_labels(others), others):
        label += "+" if self_ensemble else ""
        runners.append(_Runner(label, m.to(device), device, tile, overlap, self_ensemble))
    scorer = Scorer(metrics, scale, str(device))
    convention = _convention(scale, metrics, runners, device, tile)
    results: list[SetResult] = []
    figures: dict[str, Path] = {}
    warmed = False
    for evalset in eval_sets:
        convention["sets"][evalset.name] = {
            "lr_source": evalset.lr_source,
            "images": len(evalset),
            "sha256": set_sha256(evalset.files),
        }
        rows = [SetResult(r.label, evalset.name, scale, metrics) for r in runners]
        crops: dict[tuple[str, str], np.ndarray] = {}
        bar = tqdm(
            evalset, total=len(evalset), desc=f"{evalset.name} x{scale}", unit="img", disable=not progress
        )
        for image in bar:
            x = _to_input(image.lr, device)
            if not warmed:
                for runner in runners:
                    runner.warm_up(x)
                warmed = True
            box = detail_box(image.hr) if figures_dir is not None else None
            for runner, row in zip(runners, rows):
                y, seconds = runner(x)
                sr = _to_uint8(y, grey=image.hr.ndim == 2)
                if sr.shape[:2] != image.hr.shape[:2]:
                    raise InputError(
                        f"{runner.label} made {image.name} ({evalset.name}) {sr.shape[1]}x{sr.shape[0]}, "
                        f"expected {image.hr.shape[1]}x{image.hr.shape[0]}; is the model really x{scale}?"
                    )
                row.images.append(ImageScore(image.name, scorer(sr, image.hr), seconds))
                row.seconds += seconds
                row.megapixels += sr.shape[0] * sr.shape[1] / 1e6
                if save_images_dir is not None:
                    save_image(Path(save_images_dir) / runner.label / evalset.name / f"{image.name}.png", sr)
                if box is not None:
                    crops[(runner.label, image.name)] = crop(sr, box)
            if box is not None:
                crops[("HR", image.name)] = crop(image.hr, box)
        bar.close()
        results += rows
        if figures_dir is not None and rows[-1].images:
            path = Path(figures_dir) / f"{evalset.name}.png"
            figures[evalset.name] = bench_figure(rows, crops, show, path, f"{evalset.name} x{scale}")
    return BenchReport(convention, results, metrics, dict(scorer.unavailable), show, figures)
