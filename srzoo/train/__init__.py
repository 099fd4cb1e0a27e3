"""Training: Accelerate loop, phases, checkpoints, EMA, logging (`srzoo train`, `python -m srzoo.train`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from srzoo.train.loop import train
    from srzoo.train.options import TrainOptions
    from srzoo.train.session import TrainResult

__all__ = ["TrainOptions", "TrainResult", "train"]


def __getattr__(name: str) -> Any:
    # Lazy: `python -m srzoo.train` and the phases entry points must not pay for Accelerate on import.
    if name == "train":
        from srzoo.train.loop import train

        return train
    if name == "TrainOptions":
        from srzoo.train.options import TrainOptions

        return TrainOptions
    if name == "TrainResult":
        from srzoo.train.session import TrainResult

        return TrainResult
    raise AttributeError(f"module 'srzoo.train' has no attribute {name!r}")
