"""Logged training values kept on the device per step, read back together: one host sync per log interval.

A step's `train_step` results are detached device tensors; reading each one back (`float(t)`) makes the host
wait for the GPU every step, which stalls a compiled, graph-replayed step. They are stacked here (one tiny
kernel per micro-batch, which also copies them out of any CUDA-graph memory) and read in one transfer when
the session logs, validates, checkpoints or exports. The averaging over micro-batches and processes is done
exactly as the per-step readback did it (Python floats, then one float32 mean over processes), so the logged
numbers are the same bits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

Logs = dict[str, Any]  # term -> detached tensor (any shape of one element) or float


@dataclass
class _Micro:
    keys: list[str]  # the train_step dict's order
    floats: dict[str, float]
    stacks: dict[torch.device, tuple[list[str], torch.Tensor]]  # per device: keys, 1-D float32 stack


@dataclass
class _Step:
    step: int
    micro: list[_Micro]
    extra: dict[str, float]  # host values of the step (learning rates)


def _pack(logs: Logs) -> _Micro:
    floats = {k: float(v) for k, v in logs.items() if not isinstance(v, torch.Tensor)}
    by_device: dict[torch.device, list[str]] = {}
    for key, value in logs.items():
        if isinstance(value, torch.Tensor):
            by_device.setdefault(value.device, []).append(key)
    stacks = {
        device: (keys, torch.stack([logs[k].detach().float().reshape(()) for k in keys]))
        for device, keys in by_device.items()
    }
    return _Micro(list(logs), floats, stacks)


class PendingValues:
    """Steps whose values are still on the device; `read` returns them as floats, oldest first."""

    def __init__(self, grad_accum: int) -> None:
        self.grad_accum = grad_accum
        self.steps: list[_Step] = []

    def __len__(self) -> int:
        return len(self.steps)

    def add(self, step: int, micro_logs: list[Logs], extra: dict[str, float]) -> None:
        self.steps.append(_Step(step, [_pack(logs) for logs in micro_logs], dict(extra)))

    def read(
        self, reduce_mean: Callable[[torch.Tensor], torch.Tensor] | None = None
    ) -> list[tuple[int, dict[str, float]]]:
        """(step, values) of every pending step: micro-batch means, then process means when `reduce_mean`."""
        steps, self.steps = self.steps, []
        host = iter(_transfer([m for s in steps for m in s.micro]))
        out: list[tuple[int, dict[str, float]]] = []
        for s in steps:
            sums: dict[str, float] = {}
            for micro in s.micro:
                values = next(host)
                for key in micro.keys:
                    sums[key] = sums.get(key, 0.0) + values[key] / self.grad_accum
            out.append((s.step, sums))
        if reduce_mean is not None:
            out = _reduced(out, reduce_mean)
        return [(step, sums | s.extra) for (step, sums), s in zip(out, steps)]


def _transfer(micro: list[_Micro]) -> list[dict[str, float]]:
    """Every micro-batch's values as floats: one device-to-host copy (one sync) per device."""
    flat: dict[torch.device, list[float]] = {}
    for device in {d for m in micro for d in m.stacks}:
        flat[device] = torch.cat([m.stacks[device][1] for m in micro if device in m.stacks]).tolist()
    offsets = dict.fromkeys(flat, 0)
    out = []
    for m in micro:
        values = dict(m.floats)
        for device, (keys, _) in m.stacks.items():
            start = offsets[device]
            values.update(zip(keys, flat[device][start : start + len(keys)]))
            offsets[device] = start + len(keys)
        out.append(values)
    return out


def _reduced(
    steps: list[tuple[int, dict[str, float]]], reduce_mean: Callable[[torch.Tensor], torch.Tensor]
) -> list[tuple[int, dict[str, float]]]:
    """Process means of each step's values (sorted keys, float32: what a per-step reduce gave)."""
    if not steps:
        return steps
    keys = sorted(steps[0][1])
    if any(sorted(sums) != keys for _, sums in steps):
        return [item for s in steps for item in _reduced([s], reduce_mean)]
    table = torch.tensor([[sums[k] for k in keys] for _, sums in steps], dtype=torch.float32)
    means = reduce_mean(table).tolist()
    return [(step, dict(zip(keys, row))) for (step, _), row in zip(steps, means)]
