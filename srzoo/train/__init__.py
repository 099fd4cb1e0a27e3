"""Training: the Accelerate loop, phases, checkpoints, EMA and logging."""
