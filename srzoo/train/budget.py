"""Fit a recipe's phase lengths to a wall-clock budget by timing a few real steps (demo, CPU benchmarks)."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from srzoo.errors import ConfigError

PARALLEL_GAIN = 0.7  # all cores must make a step this much faster than one thread to be chosen
# Steps timed per phase (after a warm-up), planned from their median. Two were too few: the median of two is their
# mean, so one step stalled by another process (or a dear random degradation) shortened the whole plan.
TIMED_STEPS = 5


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


def _batch(
    dataset: Any, size: int, start: int, degradation: Any, seed: int, device: torch.device
) -> dict[str, torch.Tensor]:
    """One micro-batch as training makes it: the dataset's pairs, or its HR patches degraded on the device."""
    from torch.utils.data import default_collate

    from srzoo.train.data import degrade_batch

    batch = default_collate([dataset[start + j] for j in range(size)])  # as the training loader collates
    if degradation is None:
        return batch
    batch = {k: v.to(device) for k, v in batch.items()}
    return degrade_batch(degradation, batch, seed=seed, rank=0, micro_batch=start // size)


def step_seconds(
    recipe: Any, index: int, steps: int = TIMED_STEPS, clock: Callable[[], float] = time.perf_counter
) -> float:
    """Median wall time of one optimizer step of phase `index`, data loading and the recipe's degradation
    included (after a warm-up): a real-world recipe spends a good part of each step degrading its batch.
    The median, not the mean: a step stalled by another process says nothing about the steps to come."""
    from srzoo.data import build_train_dataset
    from srzoo.framework.build import build_arch, build_degradation, build_phase
    from srzoo.train.accel import make_accelerator
    from srzoo.train.data import reads_hr_only

    spec, data = recipe.phases[index], recipe.data
    degradation = (
        None
        if data.degradation is None
        else build_degradation(data.degradation.name, recipe.scale, **data.degradation.kwargs)
    )
    dataset = build_train_dataset(
        data, scale=recipe.scale, patch_size=spec.patch_size, augment=spec.augment,
        seed=recipe.seed, progress=False, hr_only=reads_hr_only(degradation),
    )  # fmt: skip
    accelerator = make_accelerator(recipe.train.mixed_precision, recipe.train.grad_accum)
    generator = build_arch(recipe.generator.arch, scale=recipe.scale, **recipe.generator.kwargs)
    phase = build_phase(spec, recipe, generator)
    phase.prepare(accelerator)
    micro = spec.batch_size // recipe.train.grad_accum
    times = []
    for i in range(steps + 1):
        start = clock()
        for j in range(recipe.train.grad_accum):
            first = (i * recipe.train.grad_accum + j) * micro
            batch = _batch(dataset, micro, first, degradation, recipe.seed, accelerator.device)
            phase.train_step(batch, accelerator)
        phase.after_step(accelerator, i + 1)
        if accelerator.device.type == "cuda":  # steps no longer read their losses back: wait for the GPU
            torch.cuda.synchronize(accelerator.device)
        times.append(clock() - start)
    accelerator.free_memory()
    return statistics.median(times[1:])


def usable_cores() -> int:
    """CPUs this process may run on: its affinity where the OS has one (taskset, cgroup cpusets), else all."""
    if hasattr(os, "sched_getaffinity"):  # Linux; macOS and Windows have no affinity query in os
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def measure(recipe: Any, *, choose_threads: bool = True) -> StepTimes:
    """Seconds per step of each phase; first picks 1 thread or all cores, whichever trains faster here (on a
    busy 2-core machine one thread can be 3x faster: multi-threaded kernels wait for a descheduled thread).
    Leaves torch on the chosen thread count."""
    cores = usable_cores()  # a process pinned to one core of two gains nothing from timing two threads
    if not choose_threads:
        candidates: tuple[int, ...] = (torch.get_num_threads(),)
    else:  # one usable core: one thread, whatever an earlier set_num_threads left (more would oversubscribe it)
        candidates = (cores, 1) if cores > 1 else (1,)
    first: dict[int, float] = {}
    for threads in candidates:
        torch.set_num_threads(threads)
        first[threads] = step_seconds(recipe, 0)
    # All cores only when they clearly pay off: a busy machine that happened to be quiet while timing
    # would otherwise stall every multi-threaded kernel later (seen here: 0.36 s/it timed, 3 s/it trained).
    if len(first) == 1:
        chosen = next(iter(first))
    else:
        chosen = cores if first[cores] < PARALLEL_GAIN * first[1] else 1
    torch.set_num_threads(chosen)
    rest = [step_seconds(recipe, i) for i in range(1, len(recipe.phases))]
    return StepTimes([first[chosen], *rest], chosen)
