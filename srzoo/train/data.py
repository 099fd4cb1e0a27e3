"""Training batches: one global, seedable sample stream, sharded over processes and resumable at any step."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Sampler

from srzoo.data.pairs import InfiniteSampler
from srzoo.errors import ConfigError
from srzoo.framework.build import reads_pairs


class ShardedStreamSampler(Sampler[int]):
    """This process's share of the global stream of `InfiniteSampler` (epoch-reshuffled from the seed).

    The global stream is cut into micro-batches of `micro * world` samples; process `rank` takes the
    `rank`-th `micro`-sized slice of each. So every optimizer step sees the same images whatever the number
    of processes, and resuming after k micro-batches is starting the stream at `k * micro * world`.
    """

    def __init__(
        self, n: int, seed: int, *, micro: int, rank: int, world: int, start_micro_batch: int
    ) -> None:
        self.micro, self.rank, self.world = micro, rank, world
        self.stream = InfiniteSampler(n, seed, start=start_micro_batch * micro * world)

    def __iter__(self) -> Iterator[int]:
        chunk = self.micro * self.world
        lo, hi = self.rank * self.micro, (self.rank + 1) * self.micro
        for position, index in enumerate(self.stream):
            if lo <= position % chunk < hi:
                yield index


_DEGRADATION_STREAM = 0xDE6  # stream tag: degradation draws never share a seed with the sampler's shuffle


def degradation_generator(seed: int, rank: int, micro_batch: int) -> torch.Generator:
    """The CPU generator a degradation gets for one micro-batch: a pure function of (seed, rank, micro-batch).

    So an exact resume (which restarts the stream at the same micro-batch) degrades the same batches again.
    """
    import numpy as np

    entropy = [int(seed) % (1 << 63), _DEGRADATION_STREAM, int(rank), int(micro_batch)]
    state = np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


def reads_hr_only(degradation: Any) -> bool:
    """Whether the loader yields HR patches only: yes for a data.degradation that makes the LR from the HR; no
    without one, or for one that declares `reads_pairs = True` (it takes the dataset's LR/HR pairs as they come
    and adds targets or alters them, e.g. a sharpened copy of the HR for the losses to aim at)."""
    return degradation is not None and not reads_pairs(degradation)


def degraded_batches(
    batches: Iterator[dict[str, torch.Tensor]],
    degradation: Any,
    *,
    seed: int,
    rank: int,
    start_micro_batch: int,
) -> Iterator[dict[str, torch.Tensor]]:
    """Batches → `degradation(batch, generator)` on the device, micro-batch k seeded by (seed, rank, k)."""
    for k, batch in enumerate(batches, start=start_micro_batch):
        yield degrade_batch(degradation, batch, seed=seed, rank=rank, micro_batch=k)


def degrade_batch(
    degradation: Any, batch: dict[str, torch.Tensor], *, seed: int, rank: int, micro_batch: int
) -> dict[str, torch.Tensor]:
    """One micro-batch through the degradation, with that micro-batch's generator; checks the result."""
    with torch.no_grad():
        out = degradation(batch, degradation_generator(seed, rank, micro_batch))
    if not isinstance(out, dict) or "lr" not in out or "hr" not in out:
        got = sorted(out) if isinstance(out, dict) else type(out).__name__
        raise ConfigError(
            f"data.degradation returned {got}; a degradation must return a dict with 'lr' and 'hr'"
        )
    return out


def micro_batch_size(batch_size: int, world: int, grad_accum: int, where: str) -> int:
    """Per-process micro-batch: the recipe's batch is per optimizer step, over processes and micro-steps."""
    if batch_size % (world * grad_accum):
        raise ConfigError(
            f"{where}: batch_size {batch_size} is not divisible by processes x grad_accum = "
            f"{world} x {grad_accum}; "
            "the recipe's batch is the total per optimizer step"
        )
    return batch_size // (world * grad_accum)


def train_batches(
    dataset: Any,
    *,
    micro: int,
    seed: int,
    rank: int,
    world: int,
    start_micro_batch: int,
    num_workers: int,
    device: torch.device,
) -> Iterator[dict[str, torch.Tensor]]:
    """Endless batches on `device`, starting at micro-batch `start_micro_batch` of the global stream."""
    sampler = ShardedStreamSampler(
        len(dataset), seed, micro=micro, rank=rank, world=world, start_micro_batch=start_micro_batch
    )
    loader = DataLoader(
        dataset,
        batch_size=micro,
        sampler=sampler,
        num_workers=num_workers,
        drop_last=True,
        pin_memory=device.type == "cuda",
        # An explicit generator: the loader's base seed must not consume the global RNG (resume compares it).
        generator=torch.Generator().manual_seed(seed),
        persistent_workers=False,
    )
    for batch in loader:  # one iterator over an endless sampler: workers live as long as the phase
        yield {k: v.to(device, non_blocking=True) for k, v in batch.items() if isinstance(v, torch.Tensor)}
