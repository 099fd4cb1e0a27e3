"""The Accelerator srzoo trains with: iteration-exact schedulers, a DDP setting for batch-norm D, fresh state."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from srzoo.errors import ConfigError


def make_accelerator(
    mixed_precision: str, grad_accum: int = 1, trackers: Sequence[str] = (), output_dir: Path | None = None
) -> Any:
    """The Accelerator every srzoo run uses (DDP, mixed precision, accumulation, trackers)."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, PartialState
    from accelerate.utils import DistributedDataParallelKwargs, ProjectConfiguration

    shared = AcceleratorState._shared_state
    if shared and shared.get("_mixed_precision") != mixed_precision and PartialState().num_processes == 1:
        # A second run in one process (notebook, tests) may change precision; Accelerate would refuse it.
        AcceleratorState._reset_state()
    # torch renamed DDP's broadcast_buffers; Accelerate still passes the old name, which behaves as wanted.
    warnings.filterwarnings("ignore", message=".*`broadcast_buffers` is deprecated", category=FutureWarning)

    try:
        accelerator = Accelerator(
            mixed_precision=mixed_precision,
            gradient_accumulation_steps=grad_accum,
            log_with=list(trackers) or None,
            project_config=ProjectConfiguration(
                project_dir=str(output_dir), logging_dir=str(output_dir / "logs")
            )
            if output_dir is not None
            else None,
            # Iteration-based schedulers: phases step them once per optimizer step, whatever the world size.
            step_scheduler_with_optimizer=False,
            # A batch-norm D runs two forwards, then one backward; syncing buffers in between breaks autograd.
            kwargs_handlers=[DistributedDataParallelKwargs(broadcast_buffers=False)],
        )
    except (ValueError, RuntimeError) as exc:
        raise ConfigError(f"cannot set up Accelerate (mixed precision {mixed_precision!r}): {exc}") from None
    check_mixed_precision(mixed_precision, accelerator.device)
    return accelerator


def check_mixed_precision(mixed_precision: str, device: Any) -> None:
    """PrecisionError at start (before anything is written) when `device` would only emulate the precision.

    bf16 autocast on a CPU without oneDNN bf16 kernels (AVX2) runs every conv through slow fallback loops;
    the run is refused here rather than crawling (srzoo.inference.precision).
    """
    from srzoo.inference.precision import require

    if mixed_precision in ("fp16", "bf16"):
        fix = "train.mixed_precision: no (or --mixed-precision no)"
        require(mixed_precision, device, fix=fix)
