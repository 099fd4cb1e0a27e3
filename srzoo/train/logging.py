"""Run output for people and tools: Accelerate trackers, one progress bar, train.log and metrics.jsonl."""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from srzoo.errors import ConfigError

log = logging.getLogger("srzoo.train")
# Tracker name -> the package it needs (a missing one is an error at start, never a silent no-op).
TRACKER_PACKAGES = {"tensorboard": "tensorboard", "wandb": "wandb"}


def check_trackers(names: list[str]) -> list[str]:
    """Validate `train.trackers` and prepare their environment (wandb runs offline without an API key)."""
    for name in names:
        if name not in TRACKER_PACKAGES:
            raise ConfigError(
                f"train.trackers: {name!r} is not supported; use any of {sorted(TRACKER_PACKAGES)}"
            )
        if importlib.util.find_spec(TRACKER_PACKAGES[name]) is None:
            raise ConfigError(
                f"train.trackers lists {name!r} but the package {TRACKER_PACKAGES[name]!r} is not installed; "
                f"pip install {TRACKER_PACKAGES[name]} or remove it (train.trackers=[])"
            )
    if "wandb" in names and not os.environ.get("WANDB_API_KEY") and "WANDB_MODE" not in os.environ:
        os.environ["WANDB_MODE"] = "offline"  # no key: log locally (`wandb sync` uploads later)
    return list(dict.fromkeys(names))


def flat_config(data: Any, prefix: str = "") -> dict[str, Any]:
    """Recipe as flat `a.b.c` keys with scalar values (TensorBoard's hparams accept nothing else)."""
    out: dict[str, Any] = {}
    if isinstance(data, Mapping):
        for key, value in data.items():
            out.update(flat_config(value, f"{prefix}{key}."))
    elif isinstance(data, (list, tuple)) and any(isinstance(v, (Mapping, list, tuple)) for v in data):
        for i, value in enumerate(data):
            out.update(flat_config(value, f"{prefix}{i}."))
    else:
        key = prefix.rstrip(".")
        out[key] = data if isinstance(data, (int, float, str, bool)) else str(data)
    return out


def setup_file_log(output_dir: Path, main: bool) -> logging.Handler | None:
    """train.log in the output dir (main process); other processes report warnings only."""
    log.setLevel(logging.INFO)
    log.propagate = False
    if not main:
        return None
    handler = logging.FileHandler(output_dir / "train.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    log.addHandler(handler)
    return handler


class Console:
    """The single progress bar (main process only: it/s, ETA, losses) and console messages that respect it."""

    def __init__(self, main: bool, total: int, initial: int) -> None:
        from tqdm.auto import tqdm

        self.main = main
        self.bar = tqdm(
            total=total, initial=initial, disable=not main, dynamic_ncols=True, unit="it", smoothing=0.1
        )

    def info(self, message: str) -> None:
        log.info(message)
        if self.main:
            self.bar.write(message)

    def step(self, phase: str) -> None:
        if self.main:
            self.bar.set_description(phase, refresh=False)
            self.bar.update(1)

    def show(self, values: Mapping[str, float]) -> None:
        """The latest losses beside the bar (at each readback of the step values, not every step)."""
        if self.main:
            shown = {k.split("/")[-1]: f"{v:.4g}" for k, v in values.items() if k.startswith(("g/", "d/adv"))}
            self.bar.set_postfix(shown, refresh=False)

    def close(self) -> None:
        self.bar.close()


class MetricsLog:
    """Interval averages of the per-step values, sent to the trackers, train.log and metrics.jsonl."""

    def __init__(self, accelerator: Any, output_dir: Path) -> None:
        self.accelerator = accelerator
        self.path = output_dir / "metrics.jsonl"
        self.sums: dict[str, float] = {}
        self.count = 0

    def add(self, values: Mapping[str, float]) -> None:
        for key, value in values.items():
            self.sums[key] = self.sums.get(key, 0.0) + value
        self.count += 1

    def flush(self, step: int, phase: str, extra: Mapping[str, float]) -> None:
        if not self.count:
            return
        values = {(k if k.startswith("lr/") else f"train/{k}"): v / self.count for k, v in self.sums.items()}
        values |= dict(extra)
        self.sums, self.count = {}, 0
        self.write(step, phase, values)
        log.info("step %d %s: %s", step, phase, "  ".join(f"{k}={v:.5g}" for k, v in values.items()))

    def write(self, step: int, phase: str, values: Mapping[str, float]) -> None:
        self.accelerator.log(dict(values), step=step)
        if self.accelerator.is_main_process:
            record = {"step": step, "phase": phase, "time": round(time.time(), 3)}
            record |= {k: _json_number(v) for k, v in values.items()}
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")

    def image(self, key: str, image: np.ndarray, step: int) -> None:
        """An (H, W, 3) uint8 image to every tracker that takes images."""
        for tracker in self.accelerator.trackers:
            if tracker.name == "tensorboard":
                tracker.log_images({key: image[None]}, step=step, dataformats="NHWC")
            elif tracker.name == "wandb":
                tracker.log_images({key: [image]}, step=step)


def _json_number(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)
