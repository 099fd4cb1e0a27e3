"""Real-ESRGAN's paired fine-tuning (`high_order_degradation: False`): the dataset's own LR/HR pairs, plus the
USM-sharpened HR that the x4plus losses train against (`l1_gt_usm`, `percep_gt_usm`)."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from srzoo.errors import ConfigError
from srzoo_realesrgan import ops

Batch = dict[str, torch.Tensor]


class RealESRGANPaired:
    """The `realesrgan_paired` data.degradation: it makes no LR. Its `reads_pairs` tells srzoo's loader to go on
    reading the dataset's pairs (LR files, e.g. your own LR/HR folders), as RealESRGANModel does with
    RealESRGANPairedDataset; each batch gains `hr_usm`, the HR sharpened as Real-ESRGAN sharpens its targets.
    The discriminator keeps seeing the plain `hr` (`gan_gt_usm: False`)."""

    reads_pairs = True  # srzoo's degradation contract: pairs in, pairs (plus targets) out (docs/plugins.md)

    def __init__(self, scale: int = 4, gt_usm: bool = True) -> None:
        if int(scale) < 1:
            raise ConfigError(f"realesrgan_paired: scale must be >= 1, got {scale}")
        self.scale, self.gt_usm = int(scale), bool(gt_usm)

    def __call__(self, batch: Mapping[str, torch.Tensor], generator: torch.Generator) -> Batch:
        if "lr" not in batch:
            raise ConfigError(
                "realesrgan_paired: the batch has no 'lr'; it fine-tunes on a dataset's LR/HR pairs "
                "(paired_folder, or a registered set with LR files) and makes no LR itself"
            )
        lr, hr = batch["lr"], batch["hr"].float()
        if hr.shape[-2:] != (lr.shape[-2] * self.scale, lr.shape[-1] * self.scale):
            raise ConfigError(
                f"realesrgan_paired: LR {tuple(lr.shape[-2:])} and HR {tuple(hr.shape[-2:])} are not x{self.scale}"
            )
        out = {"lr": lr, "hr": hr}
        if self.gt_usm:
            out["hr_usm"] = ops.usm_sharpen(hr)
        return out
