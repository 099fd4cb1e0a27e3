"""The bench's scorer: the requested metrics on uint8 SR/HR pairs; optional ones that cannot run are noted."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from srzoo.errors import InputError, SrzooError


class Scorer:
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
