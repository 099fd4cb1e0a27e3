"""Fit a recipe's phase lengths to a wall-clock budget by timing a few real steps (demo, CPU benchmarks)."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from srzoo.errors import ConfigError


@dataclass
class StepTimes:
    """Measured seconds per optimizer step of each phase, and the torch thread count used to measure them."""

    step_seconds: list[float]
    threads: int

    def iterations(self, seconds: float, fractions: Sequence[float]) -> list[int]:
        """Iterations so that phase i takes about `fractions[i] * seconds`."""
        if len(fractions) != len(self.step_seconds):
            raise ConfigError(
                f"need one budget fraction per phase ({len(self.step_seconds)}), got {fractions}"
            )
        return [max(1, int(max(seconds, 0.0) * f / t)) for f, t in zip(fractions, self.step_seconds)]

    @staticmethod
    def overrides(iters: Sequence[int]) -> list[str]:
        return [f"phases.{i}.iters={n}" for i, n in enumerate(iters)]


def _batch(dataset: Any, size: int, start: int) -> dict[str, torch.Tensor]:
    items = [dataset[start + j] for j in range(size)]
    return {k: torch.stack([item[k] for item in items]) for k in ("lr", "hr")}


def step_seconds(recipe: Any, index: int, steps: int = 3) -> float:
    """Median wall time of one optimizer step of phase `index`, data loading included (after a warm-up)."""
    from accelerate import Accelerator

    from srzoo.build import build_arch, build_phase
    from srzoo.data import build_train_dataset

    spec, data = recipe.phases[index], recipe.data
    dataset = build_train_dataset(
        data, scale=recipe.scale, patch_size=spec.patch_size or data.patch_size,
        augment=spec.augment or data.augment, seed=recipe.seed, progress=False,
    )  # fmt: skip
    accelerator = Accelerator(
        mixed_precision=recipe.train.mixed_precision, step_scheduler_with_optimizer=False
    )
    generator = build_arch(recipe.generator.arch, scale=recipe.scale, **recipe.generator.kwargs)
    phase = build_phase(spec, recipe, generator)
    phase.prepare(accelerator)
    size = spec.batch_size or data.batch_size
    times = []
    for i in range(steps + 1):
        start = time.perf_counter()
        for j in range(recipe.train.grad_accum):
            phase.train_step(_batch(dataset, size // recipe.train.grad_accum, (i + j) * size), accelerator)
        times.append(time.perf_counter() - start)
    accelerator.free_memory()
    return statistics.median(times[1:])


def pick_threads(recipe: Any) -> int:
    """1 or all cores, whichever trains faster here: on a busy 2-core machine one thread can be 3x faster,
    because every multi-threaded kernel waits for its slowest (descheduled) thread."""
    cores = os.cpu_count() or 1
    if cores == 1:
        return 1
    timings = {}
    for threads in (cores, 1):
        torch.set_num_threads(threads)
        timings[threads] = step_seconds(recipe, 0, steps=2)
    best = min(timings, key=timings.__getitem__)
    torch.set_num_threads(best)
    return best


def measure(recipe: Any, *, choose_threads: bool = True) -> StepTimes:
    """Time each phase's step (after picking the faster thread count); leaves torch on that thread count."""
    chosen = pick_threads(recipe) if choose_threads else torch.get_num_threads()
    return StepTimes([step_seconds(recipe, i) for i in range(len(recipe.phases))], chosen)
