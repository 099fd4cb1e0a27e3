"""Checkpoints: Accelerate `save_state` plus srzoo's train state and EMA, written atomically, last K kept."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from srzoo.errors import ConfigError, SrzooError
from srzoo.framework.files import sha256_file

STATE_FILE = "srzoo_state.json"
EMA_FILE = "ema.safetensors"
# a data.degradation's state (e.g. a pair pool), one file per process
DEGRADATION_FILE = "degradation-{rank}.safetensors"
_NAME = re.compile(r"^checkpoint-(\d+)$")
FILES_KEY = "files"  # in the state file: sha256 of every other file, checked before a resume


class CheckpointWriteError(SrzooError):
    """A checkpoint could not be written (disk full, permissions); the previous ones are untouched."""


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
    skipped: tuple[str, ...] = ()  # newer checkpoints passed over as damaged (for a warning), newest first


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
        try:
            accelerator.save_state(str(tmp))
            _save_degradation(degradation, tmp / DEGRADATION_FILE.format(rank=accelerator.process_index))
            accelerator.wait_for_everyone()
            if accelerator.is_main_process:
                if ema is not None:
                    ema.save(tmp / EMA_FILE)
                # The state file is written last: a folder holding it is complete, and its digests say intact.
                record = {"state": asdict(state), **meta, FILES_KEY: _digests(tmp)}
                (tmp / STATE_FILE).write_text(json.dumps(record, indent=2) + "\n")
                if final.exists():  # re-saving the same step (e.g. a resumed run stopping where it started)
                    shutil.rmtree(final)
                os.replace(tmp, final)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)  # a half-written checkpoint must not hold the disk
            raise self._write_error(final, exc) from None
        if accelerator.is_main_process:
            for old in self.complete()[: -self.keep]:
                # Renamed first: a kill during the removal leaves a `.tmp-*` folder, never half a checkpoint.
                doomed = old.with_name(f".tmp-removed-{old.name}")
                os.replace(old, doomed)
                shutil.rmtree(doomed, ignore_errors=True)
        accelerator.wait_for_everyone()
        return final

    def _write_error(self, final: Path, exc: OSError) -> CheckpointWriteError:
        done = [p for p in self.complete() if p != final]
        keep = (
            f"the last complete checkpoint {done[-1]} is intact" if done else "no checkpoint was written yet"
        )
        reason = exc.strerror or str(exc)
        hint = "free some space" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "fix the output folder"
        return CheckpointWriteError(
            f"cannot write checkpoint {final.name} in {self.root}: {reason}; {keep}. "
            f"Training stopped: {hint}, then continue with --resume auto"
        )

    def find(self, resume: str | None) -> CheckpointInfo | None:
        """`auto`: the newest complete checkpoint (None if none); else a checkpoint or run directory."""
        if resume is None:
            return None
        if resume == "auto":
            return self._newest_intact()
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
        info = read_checkpoint(path)
        problem = damage(info)
        if problem:
            raise ConfigError(
                f"--resume {resume}: checkpoint {info.path.name} is damaged ({problem}); pass an older one"
            )
        return info

    def _newest_intact(self) -> CheckpointInfo | None:
        """The newest checkpoint whose files match their digests; damaged newer ones are named in `skipped`."""
        skipped: list[str] = []
        found = self.complete()
        for path in reversed(found):
            try:
                info = read_checkpoint(path)
                problem = damage(info)
            except ConfigError as exc:
                problem = str(exc)
            if problem is None:
                info.skipped = tuple(skipped)
                return info
            skipped.append(f"checkpoint {path.name} is damaged ({problem})")
        if found:
            raise ConfigError(
                f"--resume auto: no intact checkpoint in {self.root} ({'; '.join(skipped)[:300]}); "
                "start again in another --output-dir"
            )
        return None


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): sha256_file(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != STATE_FILE
    }


def damage(info: CheckpointInfo) -> str | None:
    """What is wrong with a checkpoint's files (missing or changed since it was saved), or None when intact.

    Checkpoints saved before srzoo recorded digests are trusted as they are.
    """
    recorded = info.meta.get(FILES_KEY)
    if not isinstance(recorded, dict):
        return None
    for name, digest in recorded.items():
        path = info.path / name
        if not path.is_file():
            return f"{name} is missing"
        if sha256_file(path) != digest:
            return f"{name} has changed since it was saved"
    return None


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
