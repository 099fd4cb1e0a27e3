"""`srzoo bench`'s engine: run a model and the bicubic baseline over eval sets; score, time and report."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from srzoo.errors import ConfigError, InputError, SrzooError, UnknownNameError
from srzoo.eval.figures import bench_figure, crop, detail_box
from srzoo.eval.tables import BenchReport, ImageScore, SetResult
from srzoo.framework.files import sha256_file
from srzoo.inference.model import SRModel, load_model
from srzoo.inference.precision import cpu_info

__all__ = ["METRICS", "BenchReport", "SetResult", "run_bench", "set_sha256"]

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


class _Scorer:
    """The requested metrics on uint8 images; optional ones that cannot run are recorded as unavailable."""

    def __init__(self, metrics: Sequence[str], crop_border: int, device: str) -> None:
        self.metrics = tuple(metrics)
        self.crop_border = crop_border
        self.unavailable: dict[str, str] = {}
        self.niqe_params: Path | None = None
        self.lpips: Any = None
        if "niqe" in self.metrics:
            from srzoo.eval.metrics import niqe_params_path

            try:
                self.niqe_params = niqe_params_path()
            except SrzooError as exc:  # offline and no cached copy: a missing column, not a failed bench
                self.unavailable["niqe"] = str(exc)
        if "lpips" in self.metrics:
            from srzoo.eval.lpips import Lpips

            self.lpips = Lpips.load(device=device)
            if not self.lpips.available:
                self.unavailable["lpips"] = self.lpips.reason

    def __call__(self, sr: np.ndarray, hr: np.ndarray) -> dict[str, float | None]:
        from srzoo.eval.metrics import niqe, psnr, ssim

        b = self.crop_border
        scores: dict[str, float | None] = {}
        for metric in self.metrics:
            if metric in self.unavailable:
                scores[metric] = None
            elif metric == "psnr":
                scores[metric] = psnr(sr, hr, crop_border=b)
            elif metric == "ssim":
                scores[metric] = ssim(sr, hr, crop_border=b)
            elif metric == "niqe":
                try:
                    scores[metric] = niqe(sr, crop_border=b, params=self.niqe_params)
                except InputError:  # image smaller than NIQE's 96x96 blocks: that image has no NIQE
                    scores[metric] = None
            else:
                scores[metric] = self.lpips(sr, hr, crop_border=b)
        return scores


class _Runner:
    """One model as the bench calls it: size-multiple padding or tiling, synchronised timing, uint8 output."""

    def __init__(
        self, label: str, model: SRModel, device: torch.device, tile: int | None, overlap: int | None
    ):
        self.label, self.model, self.device = label, model, device
        self.tile, self.overlap = tile, overlap
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
        if self.tile:
            from srzoo.inference.runner import upscale

            kwargs = {} if self.overlap is None else {"overlap": self.overlap}
            with torch.inference_mode():  # upscale clamps its output in place
                return upscale(self.model, x, tile=self.tile, **kwargs)
        from srzoo.inference.tiling import _pad_to

        h, w = x.shape[-2:]
        # Reflect padding keeps edge statistics natural; the padded output is cropped away below.
        x = _pad_to(x, self.multiple, self.model.card.capabilities.min_size)
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
    }


def run_bench(
    model: SRModel | None,
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
) -> BenchReport:
    """Bench `model` (None: the bicubic baseline alone) and the bicubic baseline on `sets` at `scale`.

    Each set is a registered eval set (`set5`, `set14`, `bsd100`, ...) or a folder of HR images (LR made on
    the fly with MATLAB bicubic). SR outputs are rounded to uint8 before scoring; PSNR/SSIM on BT.601 Y with a
    border of `scale` pixels. `save_images_dir` gets `<model>/<set>/<name>.png`; `figures_dir` gets one
    comparison PNG per set. Timing covers the model call only. `model` is moved to `device`.
    """
    from tqdm import tqdm

    from srzoo.data.sets import open_eval_set
    from srzoo.imaging.datafiles import save_image

    metrics = _check_metrics(metrics)
    if not sets:
        raise ConfigError("no sets to bench; e.g. sets=['set5', 'set14']")
    if show < 0:
        raise ConfigError(f"show must be >= 0, got {show}")
    scale = scale or (model.scale if model is not None else 4)
    if model is not None and model.scale != scale:
        raise ConfigError(
            f"the model is x{model.scale} but the bench asks for x{scale}; pass --scale {model.scale}"
        )
    device = torch.device(device)
    # Open every set first: a typo or a missing download in the last set fails before any model time is spent.
    eval_sets = [open_eval_set(s, scale, root=root, download=download) for s in sets]
    runners: list[_Runner] = []
    if baseline or model is None or model.card.arch == BASELINE:
        # fast=False: channels_last only slows bicubic's matmuls down (2x on CPU).
        bicubic = load_model(None, arch=BASELINE, scale=scale, device=device, fast=False)
        runners.append(_Runner(BASELINE, bicubic, device, tile, overlap))
    if model is not None and model.card.arch != BASELINE:
        runners.append(_Runner(model.card.arch, model.to(device), device, tile, overlap))
    scorer = _Scorer(metrics, scale, str(device))
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
