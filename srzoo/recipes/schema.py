"""The typed recipe schema: what a YAML file in registry/ may say, with defaults and cross-field checks."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from srzoo.recipes.loader import apply_overrides, from_dict, load_recipe_dict


@dataclass
class ModelSpec:
    """A registered arch and its constructor arguments (`scale` comes from the recipe)."""

    arch: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    # Initial weights (file, training run directory or zoo tag) loaded strictly before training starts: fine-
    # tuning, Real-ESRGAN's pretrain_network_g/d. A resumed run takes its weights from the checkpoint instead.
    weights: str | None = None
    # False: load the tensors whose names and shapes fit, keep the arch's initialisation for the rest and say
    # which (BasicSR's strict_load_g/d: false), e.g. an x2 RRDBNet from x4 weights: only its conv_first differs.
    weights_strict: bool = True

    def __post_init__(self) -> None:
        if not self.weights_strict and self.weights is None:
            raise ValueError("weights_strict: false needs `weights` (the file to load in part)")


@dataclass
class LossSpec:
    """A registered loss, its weight in the total, and its constructor arguments."""

    name: str
    weight: float = 1.0
    kwargs: dict[str, Any] = field(default_factory=dict)
    # The batch entry the loss compares the output with: "hr", or one a data.degradation adds (e.g. a sharpened HR)
    target: str = "hr"


@dataclass
class DegradationSpec:
    """A registered degradation that makes each training batch's LR from its HR (or, if it reads pairs, adds
    targets to the dataset's pairs), on the training device."""

    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class OptimizerSpec:
    name: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    momentum: float = 0.9  # sgd only

    def __post_init__(self) -> None:
        for key in ("lr", "weight_decay", "momentum"):
            _at_least(key, getattr(self, key), 0.0)
        if not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"betas must be in [0, 1), got {list(self.betas)}")


@dataclass
class SchedulerSpec:
    """Iteration-based learning-rate schedule."""

    name: Literal["constant", "multistep", "step", "cosine"] = "constant"
    milestones: list[int] = field(default_factory=list)  # multistep
    step_size: int = 0  # step: decay every step_size iterations
    gamma: float = 0.5
    eta_min: float = 0.0  # cosine

    def __post_init__(self) -> None:
        _at_least("gamma", self.gamma, 0.0, open_=True)
        _at_least("eta_min", self.eta_min, 0.0)
        _at_least("step_size", self.step_size, 0)
        for milestone in self.milestones:
            _at_least("milestones", milestone, 0)


@dataclass
class DatasetSpec:
    """One registered dataset: its name, split and dataset-specific options."""

    name: str
    split: str | None = None
    root: str | None = None  # overrides data.root for this set
    download: bool = False
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class AugmentSpec:
    """Paired geometric augmentation and LR-only degradations (the seed's JPEG and coarse dropout)."""

    hflip: bool = True
    rot90: bool = True  # vertical flip + transpose: the full D4 group with hflip
    jpeg_prob: float = 0.0
    jpeg_quality: tuple[int, int] = (65, 100)
    dropout_prob: float = 0.0
    backend: Literal["torchvision", "albumentations"] = "torchvision"

    def __post_init__(self) -> None:
        for key in ("jpeg_prob", "dropout_prob"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                raise ValueError(f"{key} is a probability in [0, 1], got {getattr(self, key)}")
        low, high = self.jpeg_quality
        if not 1 <= low <= high <= 100:
            raise ValueError(
                f"jpeg_quality must be [low, high] with 1 <= low <= high <= 100, got {[low, high]}"
            )


@dataclass
class DataSpec:
    root: str | None = None  # default: $SRZOO_DATA, else ~/.cache/srzoo/datasets
    train: list[DatasetSpec] = field(default_factory=list)
    val: list[DatasetSpec] = field(default_factory=list)
    patch_size: int = 128  # HR patch side
    batch_size: int = 16
    num_workers: int = 4
    augment: AugmentSpec = field(default_factory=AugmentSpec)
    val_max_images: int = 0  # 0: all
    val_center_crop: int = 0  # HR side of a centre crop for fast validation; 0: full images
    cache: bool = False  # decode training images once into an array cache
    # When set, the loader yields HR patches only and this degradation makes the LR; one that declares
    # `reads_pairs` gets the dataset's LR/HR pairs instead and adds targets (docs/plugins.md)
    degradation: DegradationSpec | None = None

    def __post_init__(self) -> None:
        for key, low in (("patch_size", 1), ("batch_size", 1), ("num_workers", 0)):
            _at_least(key, getattr(self, key), low)
        for key in ("val_max_images", "val_center_crop"):
            _at_least(key, getattr(self, key), 0)


@dataclass
class PhaseSpec:
    """One training phase; the phase type is a name from the phases registry."""

    name: str
    type: str
    iters: int
    losses: list[LossSpec] = field(default_factory=lambda: [LossSpec("l1")])
    gan_loss: LossSpec | None = None
    optimizer: OptimizerSpec = field(default_factory=OptimizerSpec)
    scheduler: SchedulerSpec = field(default_factory=SchedulerSpec)
    d_optimizer: OptimizerSpec | None = None
    d_scheduler: SchedulerSpec | None = None
    # Left out: data.batch_size / data.patch_size / data.augment. Recipe fills them in once, so code that
    # reads a phase never looks at `data` for these.
    batch_size: int | None = None
    patch_size: int | None = None
    augment: AugmentSpec | None = None

    def __post_init__(self) -> None:
        if self.iters < 0:
            raise ValueError(f"phase {self.name!r}: iters must be >= 0")
        for key in ("batch_size", "patch_size"):
            if getattr(self, key) is not None and getattr(self, key) < 1:
                raise ValueError(f"phase {self.name!r}: {key} must be >= 1 (or left out: data.{key})")


@dataclass
class EngineSpec:
    """Training-loop settings shared by all phases."""

    mixed_precision: Literal["no", "fp16", "bf16"] = "no"
    grad_accum: int = 1
    grad_clip: float | None = None
    ema_decay: float | None = 0.999
    # timm-style EMA warmup, decay_t = min(ema_decay, 1 - (1 + t) ** -2/3): lets short runs use EMA weights.
    ema_warmup: bool = False
    log_interval: int = 100
    val_interval: int = 5000
    checkpoint_interval: int = 5000
    keep_checkpoints: int = 2
    store_interval: int = 0  # export generator weights every N iterations; 0: only at phase ends
    best_warmup: int = 0
    trackers: list[str] = field(default_factory=lambda: ["tensorboard"])
    # torch.compile the step's models and losses (and, on CUDA, channels_last, fused Adam, cudnn.benchmark);
    # off: the eager step, bit for bit. compile_mode "auto" picks per device (srzoo/train/fast.py).
    compile: bool = False
    compile_mode: Literal[
        "auto", "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"
    ] = "auto"

    def __post_init__(self) -> None:
        if self.grad_accum < 1 or self.keep_checkpoints < 1:
            raise ValueError("train.grad_accum and train.keep_checkpoints must be >= 1")
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"train.ema_decay must be in (0, 1) or null, got {self.ema_decay}")
        for key in ("log_interval", "val_interval", "checkpoint_interval", "store_interval", "best_warmup"):
            if getattr(self, key) < 0:
                raise ValueError(f"train.{key} must be >= 0 (0: only at phase ends / never)")
        if self.grad_clip is not None and not self.grad_clip > 0:  # NaN too
            raise ValueError("train.grad_clip must be > 0 or null")


@dataclass
class Recipe:
    name: str
    phases: list[PhaseSpec]
    generator: ModelSpec
    discriminator: ModelSpec | None = None
    description: str = ""
    tags: list[str] = field(default_factory=list)  # e.g. "demo": the recipe `srzoo demo` trains by default
    scale: int = 4
    seed: int = 0
    output_dir: str | None = None
    data: DataSpec = field(default_factory=DataSpec)
    train: EngineSpec = field(default_factory=EngineSpec)

    def __post_init__(self) -> None:
        names = [p.name for p in self.phases]
        if len(set(names)) != len(names):
            raise ValueError(f"phase names must be unique, got {names}")
        if self.scale < 1:
            raise ValueError("scale must be >= 1")
        if not 0 <= self.seed < 2**32:
            raise ValueError(f"seed must be in [0, 2**32), got {self.seed}")
        for phase in self.phases:  # per-phase settings resolved here, once
            phase.batch_size = phase.batch_size or self.data.batch_size
            phase.patch_size = phase.patch_size or self.data.patch_size
            phase.augment = phase.augment or self.data.augment


def load_recipe(ref: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Recipe:
    """Recipe by path or registered name, with its base chain merged and `key=value` overrides applied."""
    data = apply_overrides(load_recipe_dict(ref), list(overrides))
    return from_dict(Recipe, data)


def _at_least(key: str, value: float, low: float, *, open_: bool = False) -> None:
    """A finite number >= low (> low when `open_`): what optimizers, schedulers and crops accept."""
    if not (math.isfinite(value) and (value > low if open_ else value >= low)):
        raise ValueError(f"{key} must be a finite number {'>' if open_ else '>='} {low:g}, got {value}")
