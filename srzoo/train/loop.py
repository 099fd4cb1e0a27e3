"""The training loop: a recipe's phases in order; phases own their updates, the loop owns the schedule."""

from __future__ import annotations

from typing import Any

from srzoo.recipes.schema import Recipe
from srzoo.train.options import TrainOptions
from srzoo.train.session import Session, TrainResult


def train(recipe: Recipe, options: TrainOptions | None = None) -> TrainResult:
    """Train `recipe`: resumes, validates, checkpoints and exports as the recipe's `train` section says.

    Outputs in the run directory: `<phase>.safetensors` when each phase completes, `last.safetensors`
    whenever the run stops other than by a crash, `best.safetensors` (highest validation PSNR-Y after
    `best_warmup` steps), `checkpoints/checkpoint-N/`, `train.log`, `metrics.jsonl` and tracker logs.
    """
    session = Session(recipe, options or TrainOptions())
    state, engine = session.state, recipe.train
    phase: Any = None
    try:
        generator = session.new_generator(initial=True)  # generator.weights, unless resuming
        for index, spec in enumerate(recipe.phases):
            if index < state.phase_index:
                continue  # completed before the checkpoint this run resumes from
            if session.should_stop():
                break
            phase = session.begin_phase(
                index, generator
            )  # builds, prepares, loads the checkpoint if resuming
            while state.phase_step < spec.iters and not session.should_stop():
                session.step(phase)  # grad_accum micro-batches, NaN guard, logging
                if session.due(engine.val_interval):
                    session.validate(phase)
                if session.due(engine.checkpoint_interval):
                    session.checkpoint(phase)
                if session.due(engine.store_interval):
                    session.export(f"generators/{spec.name}-{state.global_step:08d}", phase)
            if state.phase_step < spec.iters:
                break  # stopped by --max-steps or a signal
            generator = session.end_phase(phase)  # <phase>.safetensors; the next phase starts from it
        return session.finish(phase)
    finally:
        session.close()
