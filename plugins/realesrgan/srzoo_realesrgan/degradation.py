"""Real-ESRGAN's second-order degradation model on HR batches: HR (+ USM target) in, synthetic real-world LR out.

Per batch, from the (optionally USM-sharpened) HR: blur → random resize → Gaussian or Poisson noise → JPEG,
a second round of the same (its blur with probability `second_blur_prob`), then the resize to LR size and
the final sinc filter in a random order relative to the last JPEG; then an optional paired crop and the
training-pair pool. Defaults are the official `train_realesrgan_x4plus.yml` values; the option names are
Real-ESRGAN's, so an option file's `degradation` settings copy over unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from srzoo import ConfigError
from srzoo_realesrgan import kernels, ops
from srzoo_realesrgan.kernels import KERNEL_SIZES, KERNEL_TYPES

Batch = dict[str, torch.Tensor]
OFFICIAL_KERNEL_PROB = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)


def _range(name: str, value: Sequence[float], lo: float = 0.0) -> tuple[float, float]:
    if len(value) != 2 or not lo <= float(value[0]) <= float(value[1]):
        raise ConfigError(
            f"realesrgan degradation: {name} must be [low, high] with {lo} <= low <= high, got {value}"
        )
    return float(value[0]), float(value[1])


def _prob(name: str, value: float) -> float:
    if not 0.0 <= float(value) <= 1.0:
        raise ConfigError(f"realesrgan degradation: {name} must be a probability in [0, 1], got {value}")
    return float(value)


def _weights(name: str, value: Sequence[float], n: int) -> tuple[float, ...]:
    if len(value) != n or any(float(v) < 0 for v in value) or sum(float(v) for v in value) <= 0:
        raise ConfigError(
            f"realesrgan degradation: {name} needs {n} non-negative weights (not all 0), got {value}"
        )
    return tuple(float(v) for v in value)


class RealESRGANDegradation:
    """The degradation hook: `degradation(batch, generator)` maps {"hr"} to {"lr", "hr", "hr_usm"}.

    `hr_usm` (present when `gt_usm`) is the USM-sharpened HR: Real-ESRGAN degrades it and trains its
    pixel and perceptual terms against it, and its GAN term against the plain `hr`. `gt_size` > 0 crops
    a random gt_size patch (and the matching LR patch) after degrading; `queue_size` > 0 mixes pairs across
    batches through a pool of that many samples (a multiple of the micro-batch). The pool is this object's
    state: `state_dict()` / `load_state_dict()` carry it through checkpoints.
    """

    def __init__(
        self,
        *,
        scale: int = 4,
        kernel_range: Sequence[int] = KERNEL_SIZES,
        kernel_list: Sequence[str] = KERNEL_TYPES,
        kernel_prob: Sequence[float] = OFFICIAL_KERNEL_PROB,
        sinc_prob: float = 0.1,
        blur_sigma: Sequence[float] = (0.2, 3.0),
        betag_range: Sequence[float] = (0.5, 4.0),
        betap_range: Sequence[float] = (1.0, 2.0),
        kernel_list2: Sequence[str] = KERNEL_TYPES,
        kernel_prob2: Sequence[float] = OFFICIAL_KERNEL_PROB,
        sinc_prob2: float = 0.1,
        blur_sigma2: Sequence[float] = (0.2, 1.5),
        betag_range2: Sequence[float] = (0.5, 4.0),
        betap_range2: Sequence[float] = (1.0, 2.0),
        final_sinc_prob: float = 0.8,
        resize_prob: Sequence[float] = (0.2, 0.7, 0.1),
        resize_range: Sequence[float] = (0.15, 1.5),
        gaussian_noise_prob: float = 0.5,
        noise_range: Sequence[float] = (1.0, 30.0),
        poisson_scale_range: Sequence[float] = (0.05, 3.0),
        gray_noise_prob: float = 0.4,
        jpeg_range: Sequence[float] = (30.0, 95.0),
        second_blur_prob: float = 0.8,
        resize_prob2: Sequence[float] = (0.3, 0.4, 0.3),
        resize_range2: Sequence[float] = (0.3, 1.2),
        gaussian_noise_prob2: float = 0.5,
        noise_range2: Sequence[float] = (1.0, 25.0),
        poisson_scale_range2: Sequence[float] = (0.05, 2.5),
        gray_noise_prob2: float = 0.4,
        jpeg_range2: Sequence[float] = (30.0, 95.0),
        gt_usm: bool = True,
        gt_size: int = 0,
        queue_size: int = 0,
    ) -> None:
        if int(scale) < 1:
            raise ConfigError(f"realesrgan degradation: scale must be >= 1, got {scale}")
        sizes = tuple(int(k) for k in kernel_range)
        if not sizes or any(k < 1 or k % 2 == 0 for k in sizes):
            raise ConfigError(
                f"realesrgan degradation: kernel_range needs odd sizes, got {list(kernel_range)}"
            )
        self.scale, self.kernel_sizes, self.pad_to = int(scale), sizes, max(sizes)
        self.blur = [
            self._blur_opts(1, kernel_list, kernel_prob, sinc_prob, blur_sigma, betag_range, betap_range),
            self._blur_opts(
                2, kernel_list2, kernel_prob2, sinc_prob2, blur_sigma2, betag_range2, betap_range2
            ),
        ]
        self.stages = [
            self._stage_opts(
                "", resize_prob, resize_range, gaussian_noise_prob, noise_range, poisson_scale_range,
                gray_noise_prob, jpeg_range,
            ),
            self._stage_opts(
                "2", resize_prob2, resize_range2, gaussian_noise_prob2, noise_range2, poisson_scale_range2,
                gray_noise_prob2, jpeg_range2,
            ),
        ]  # fmt: skip
        self.final_sinc_prob = _prob("final_sinc_prob", final_sinc_prob)
        self.second_blur_prob = _prob("second_blur_prob", second_blur_prob)
        self.gt_usm, self.gt_size, self.queue_size = bool(gt_usm), int(gt_size), int(queue_size)
        if self.gt_size < 0 or self.queue_size < 0:
            raise ConfigError("realesrgan degradation: gt_size and queue_size must be >= 0 (0: off)")
        if self.gt_size % self.scale:
            raise ConfigError(
                f"realesrgan degradation: gt_size {self.gt_size} is not a multiple of scale {self.scale}"
            )
        self._queue: Batch | None = None
        self._ptr = 0

    @staticmethod
    def _blur_opts(n: int, types, prob, sinc, sigma, betag, betap) -> dict:
        s = "" if n == 1 else "2"
        unknown = [t for t in types if t not in KERNEL_TYPES]
        if unknown or not types:
            raise ConfigError(
                f"realesrgan degradation: kernel_list{s} has unknown kernel types {unknown}; use {list(KERNEL_TYPES)}"
            )
        return {
            "kernel_types": tuple(types),
            "kernel_prob": _weights(f"kernel_prob{s}", prob, len(types)),
            "sinc_prob": _prob(f"sinc_prob{s}", sinc),
            "sigma": _range(f"blur_sigma{s}", sigma, 1e-6),
            "betag": _range(f"betag_range{s}", betag, 1e-6),
            "betap": _range(f"betap_range{s}", betap, 1e-6),
        }

    @staticmethod
    def _stage_opts(s: str, resize_prob, resize_range, gauss_p, noise, poisson, grey, jpeg_q) -> dict:
        rr = _range(f"resize_range{s}", resize_range, 1e-6)
        if not rr[0] <= 1.0 <= rr[1]:
            raise ConfigError(
                f"realesrgan degradation: resize_range{s} must contain 1 (it is split at 1), got {rr}"
            )
        jq = _range(f"jpeg_range{s}", jpeg_q, 1.0)
        if jq[1] > 100:
            raise ConfigError(f"realesrgan degradation: jpeg_range{s} must lie in [1, 100], got {jq}")
        return {
            "resize_prob": _weights(f"resize_prob{s}", resize_prob, 3),
            "resize_range": rr,
            "gaussian_noise_prob": _prob(f"gaussian_noise_prob{s}", gauss_p),
            "noise_range": _range(f"noise_range{s}", noise),
            "poisson_scale_range": _range(f"poisson_scale_range{s}", poisson),
            "gray_noise_prob": _prob(f"gray_noise_prob{s}", grey),
            "jpeg_range": jq,
        }

    # -- the hook ----------------------------------------------------------------------------------------
    def __call__(self, batch: Mapping[str, torch.Tensor], generator: torch.Generator) -> Batch:
        hr = batch["hr"]
        if hr.ndim != 4 or hr.shape[-2] % self.scale or hr.shape[-1] % self.scale:
            raise ConfigError(
                f"realesrgan degradation: HR batch {tuple(hr.shape)} must be (N, C, H, W) with H, W "
                f"multiples of scale {self.scale}"
            )
        hr = hr.float()
        hr_usm = ops.usm_sharpen(hr) if self.gt_usm else hr
        with torch.no_grad():
            lr = self.degrade(hr_usm, generator)
        if self.gt_size:
            (hr, hr_usm), lr = self._crop((hr, hr_usm), lr, generator)
        if self.queue_size:
            lr, hr = self._pool(lr, hr, generator)
            hr_usm = ops.usm_sharpen(hr) if self.gt_usm else hr  # the pool swapped samples: sharpen again
        out = {"lr": lr.contiguous(), "hr": hr}
        if self.gt_usm:
            out["hr_usm"] = hr_usm
        return out

    def degrade(self, hr: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """The LR image of each HR sample (no crop, no pool), quantised to 8 bits like a saved file."""
        n, _, h, w = hr.shape
        k1, k2, k3 = [], [], []
        for _ in range(n):  # per-sample kernels, drawn in the same order whatever the device
            k1.append(
                kernels.random_blur_kernel(
                    gen, kernel_sizes=self.kernel_sizes, pad_to=self.pad_to, **self.blur[0]
                )
            )
            k2.append(
                kernels.random_blur_kernel(
                    gen, kernel_sizes=self.kernel_sizes, pad_to=self.pad_to, **self.blur[1]
                )
            )
            k3.append(
                kernels.random_final_sinc(
                    gen, kernel_sizes=self.kernel_sizes, prob=self.final_sinc_prob, pad_to=self.pad_to
                )
            )
        out = ops.filter2d(hr, torch.stack(k1))
        out = self._stage(out, self.stages[0], gen, base=(h, w), relative=False)
        if kernels.uniform(gen, 0, 1) < self.second_blur_prob:
            out = ops.filter2d(out, torch.stack(k2))
        lr_size = (h // self.scale, w // self.scale)
        out = self._stage(out, self.stages[1], gen, base=lr_size, relative=True)
        jpeg_q = self._uniform(gen, n, self.stages[1]["jpeg_range"])
        if kernels.uniform(gen, 0, 1) < 0.5:  # resize + sinc, then JPEG
            out = ops.resize(out, lr_size, kernels.choice(gen, ops.RESIZE_MODES))
            out = ops.jpeg(ops.filter2d(out, torch.stack(k3)), jpeg_q)
        else:  # JPEG, then resize + sinc
            out = ops.jpeg(out, jpeg_q)
            out = ops.resize(out, lr_size, kernels.choice(gen, ops.RESIZE_MODES))
            out = ops.filter2d(out, torch.stack(k3))
        return (out * 255.0).round().clamp(0, 255) / 255.0

    @staticmethod
    def _uniform(gen: torch.Generator, n: int, bounds: tuple[float, float]) -> torch.Tensor:
        lo, hi = bounds
        return lo + (hi - lo) * torch.rand(n, generator=gen, dtype=torch.float64)

    def _stage(
        self, out: torch.Tensor, opts: dict, gen: torch.Generator, *, base: tuple[int, int], relative: bool
    ) -> torch.Tensor:
        """Random resize → noise, and for the first stage JPEG (the second's JPEG is ordered with the sinc)."""
        n = out.shape[0]
        kind = kernels.choice(gen, ("up", "down", "keep"), opts["resize_prob"])
        lo, hi = opts["resize_range"]
        factor = (
            kernels.uniform(gen, 1.0, hi)
            if kind == "up"
            else kernels.uniform(gen, lo, 1.0)
            if kind == "down"
            else 1.0
        )
        mode = kernels.choice(gen, ops.RESIZE_MODES)
        # first stage: relative to the current size; second: relative to the LR size (Real-ESRGAN's rule)
        src = base if relative else out.shape[-2:]
        out = ops.resize(out, (int(src[0] * factor), int(src[1] * factor)), mode)
        grey = (torch.rand(n, generator=gen) < opts["gray_noise_prob"]).float()
        if kernels.uniform(gen, 0, 1) < opts["gaussian_noise_prob"]:
            out = out + ops.gaussian_noise(out, self._uniform(gen, n, opts["noise_range"]), grey, gen)
        else:
            out = out + ops.poisson_noise(out, self._uniform(gen, n, opts["poisson_scale_range"]), grey, gen)
        out = out.clamp(0, 1)
        if not relative:
            out = ops.jpeg(out, self._uniform(gen, n, opts["jpeg_range"]))
        return out

    def _crop(
        self, hrs: tuple[torch.Tensor, ...], lr: torch.Tensor, gen: torch.Generator
    ) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        """One random gt_size crop for the whole batch (BasicSR's paired_random_crop), LR at 1/scale."""
        size, lr_size = self.gt_size, self.gt_size // self.scale
        h, w = lr.shape[-2:]
        if h < lr_size or w < lr_size:
            raise ConfigError(
                f"realesrgan degradation: gt_size {size} is larger than the HR patch {h * self.scale}x"
                f"{w * self.scale}; raise data.patch_size or lower gt_size"
            )
        top = int(torch.randint(0, h - lr_size + 1, (), generator=gen))
        left = int(torch.randint(0, w - lr_size + 1, (), generator=gen))
        lr = lr[..., top : top + lr_size, left : left + lr_size]
        t, s = top * self.scale, left * self.scale
        return tuple(x[..., t : t + size, s : s + size] for x in hrs), lr

    def _pool(
        self, lr: torch.Tensor, hr: torch.Tensor, gen: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Real-ESRGAN's training-pair pool: fill it, then swap each batch with a random draw from it."""
        n = lr.shape[0]
        if self.queue_size % n:
            raise ConfigError(
                f"realesrgan degradation: queue_size {self.queue_size} must be a multiple of the micro-batch {n}"
            )
        if self._queue is not None and self._queue["lr"].shape[1:] != lr.shape[1:]:
            raise ConfigError(
                f"realesrgan degradation: the pool holds {tuple(self._queue['lr'].shape[1:])} LR patches, this "
                f"batch {tuple(lr.shape[1:])}; keep the patch size fixed within a phase"
            )
        if self._queue is None:
            self._queue = {
                "lr": lr.new_zeros((self.queue_size, *lr.shape[1:])),
                "hr": hr.new_zeros((self.queue_size, *hr.shape[1:])),
            }
            self._ptr = 0
        if self._queue["lr"].device != lr.device:  # restored from a checkpoint on the CPU
            self._queue = {k: v.to(lr.device) for k, v in self._queue.items()}
        q = self._queue
        if self._ptr < self.queue_size:  # still filling: the batch passes through unchanged
            q["lr"][self._ptr : self._ptr + n] = lr
            q["hr"][self._ptr : self._ptr + n] = hr
            self._ptr += n
            return lr, hr
        order = torch.randperm(self.queue_size, generator=gen).to(lr.device)
        q["lr"], q["hr"] = q["lr"][order], q["hr"][order]
        out_lr, out_hr = q["lr"][:n].clone(), q["hr"][:n].clone()
        q["lr"][:n], q["hr"][:n] = lr, hr
        return out_lr, out_hr

    # -- checkpoint state (the pool) -----------------------------------------------------------------------
    def state_dict(self) -> dict[str, torch.Tensor]:
        if self._queue is None:
            return {}
        return {
            "queue_lr": self._queue["lr"],
            "queue_hr": self._queue["hr"],
            "queue_ptr": torch.tensor(self._ptr),
        }

    def load_state_dict(self, state: Mapping[str, torch.Tensor]) -> None:
        if not state:
            self._queue, self._ptr = None, 0
            return
        self._queue = {"lr": state["queue_lr"].clone(), "hr": state["queue_hr"].clone()}
        self._ptr = int(state["queue_ptr"])
