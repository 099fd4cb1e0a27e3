"""TrainOptions: the run-time choices of a training run that are not part of the recipe."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class TrainOptions:
    """Run-time choices that are not part of the recipe (they do not change what is trained)."""

    output_dir: Path | None = None  # default: the recipe's output_dir, else runs/<recipe name>
    resume: str | None = None  # "auto" or a checkpoint / run directory
    max_steps: int | None = None  # stop after this many optimizer steps in total (all phases)
    mixed_precision: str | None = None  # overrides train.mixed_precision
