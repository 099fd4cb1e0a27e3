"""Repository-wide pytest setup: one torch thread per xdist worker, so `pytest -n 2` does not oversubscribe 2 cores."""

from __future__ import annotations

import os

if os.environ.get("PYTEST_XDIST_WORKER"):
    import torch

    torch.set_num_threads(1)
