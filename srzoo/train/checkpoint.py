"""Checkpoints: Accelerate `save_state` plus srzoo's train state and EMA, written atomically, last K kept."""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from srzoo.errors import ConfigError

STATE_FILE = "srzoo_state.json"
EMA_FILE = "ema.safetensors"
# a data.degradation's state (e.g. a pair pool), one file per process
DEGRADATION_FILE = "degradation-{rank}.safetensors"
_NAME = re.compile(r"^checkpoint-(\d+)$")


@dataclass
class TrainState:
    """Where the run is: which phase, how many optimizer steps in it and overall, and the best validation."""

    phase_index: int = 0
    phase_step: int = 0
    global_step: int = 0
    best_psnr: float | None = None
    best_step: int | None = None

    def advance(self) -> None:
        self.phase_step += 1
        self.global_step += 1

    def next_phase(self) -> None:
        self.phase_index += 1
        self.phase_step = 0


@dataclass
class CheckpointInfo:
    """A complete checkpoint directory and the state it holds."""

    path: Path
    state: TrainState
    meta: dict[str, Any]


class Checkpoints:
    """The `checkpoints/` folder of a run: atomic saves, pruning, and finding the newest complete one."""

    def __init__(self, output_dir: Path, keep: int) -> None:
        self.root = output_dir / "checkpoints"
        self.keep = keep

    def path_for(self, step: int) -> Path:
        return self.root / f"checkpoint-{step:08d}"

    def complete(self) -> list[Path]:
        """Finished checkpoints, oldest first (`.tmp-*` folders of interrupted saves never count)."""
        if not self.root.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.root.iterdir() if (m := _NAME.match(p.name))]
        return [p for _, p in sorted(found) if (p / STATE_FILE).is_file()]

    def clean_temporary(self) -> None:
        """Remove leftovers of saves that were killed half-way (main process, at start)."""
        if self.root.is_dir():
            for path in self.root.glob(".tmp-*"):
                shutil.rmtree(path, ignore_errors=True)

    def save(
        self,
        accelerator: Any,
        state: TrainState,
        meta: dict[str, Any],
        ema: Any | None,
        degradation: Any | None = None,
    ) -> Path:
        """save_state into `.tmp-checkpoint-N`, add srzoo's files, rename: a kill never leaves half of one."""
        final = self.path_for(state.global_step)
        tmp = self.root / f".tmp-{final.name}"
        if accelerator.is_main_process:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
        accelerator.wait_for_everyone()
        accelerator.save_state(str(tmp))
        _save_degradation(degradation, tmp / DEGRADATION_FILE.format(rank=accelerator.process_index))
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            if ema is not None:
                ema.save(tmp / EMA_FILE)
            # The state file is written last: a folder holding it is complete.
            (tmp / STATE_FILE).write_text(json.dumps({"state": asdict(state), **meta}, indent=2) + "\n")
            if final.exists():  # re-saving the same step (e.g. a resumed run stopping where it started)
                shutil.rmtree(final)
            os.replace(tmp, final)
            for old in self.complete()[: -self.keep]:
                shutil.rmtree(old, ignore_errors=True)
        accelerator.wait_for_everyone()
        return final

    def find(self, resume: str | None) -> CheckpointInfo | None:
        """`auto`: the newest complete checkpoint (None if none); else a checkpoint or run directory."""
        if resume is None:
            return None
        if resume == "auto":
            found = self.complete()
            return read_checkpoint(found[-1]) if found else None
        path = Path(resume).expanduser()
        if (path / "checkpoints").is_dir() and not (path / STATE_FILE).is_file():
            found = Checkpoints(path, self.keep).complete()
            if not found:
                raise ConfigError(f"--resume {resume}: the run directory holds no complete checkpoint")
            path = found[-1]
        if not (path / STATE_FILE).is_file():
            raise ConfigError(
                f"--resume {resume}: not a complete srzoo checkpoint (no {STATE_FILE}); "
                "pass a checkpoints/checkpoint-N folder, a run directory, or `auto`"
            )
        return read_checkpoint(path)


def read_checkpoint(path: Path) -> CheckpointInfo:
    try:
        data = json.loads((path / STATE_FILE).read_text())
        state = TrainState(**data.pop("state"))
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise ConfigError(f"checkpoint {path} is unreadable ({exc}); resume from an older one") from None
    return CheckpointInfo(path, state, data)


def _save_degradation(degradation: Any | None, path: Path) -> None:
    """Tensors of a stateful degradation (one with state_dict / load_state_dict), for this process."""
    state = degradation.state_dict() if hasattr(degradation, "state_dict") else {}
    if state:
        from safetensors.torch import save_file

        save_file({k: v.detach().to("cpu").contiguous() for k, v in state.items()}, str(path))


def load_checkpoint(
    accelerator: Any, info: CheckpointInfo, ema: Any | None, degradation: Any | None = None
) -> None:
    """Restore models, optimizers, schedulers, scaler and RNG (Accelerate), the EMA weights and a degradation's
    state (srzoo); a degradation without a saved state starts empty, as it did when the checkpoint was taken."""
    accelerator.load_state(str(info.path))
    if hasattr(degradation, "load_state_dict"):
        from safetensors.torch import load_file

        path = info.path / DEGRADATION_FILE.format(rank=accelerator.process_index)
        degradation.load_state_dict(load_file(str(path)) if path.is_file() else {})
    if ema is not None:
        if not (info.path / EMA_FILE).is_file():
            raise ConfigError(
                f"checkpoint {info.path} has no EMA weights but the recipe enables EMA (train.ema_decay)"
            )
        ema.load(info.path / EMA_FILE)
