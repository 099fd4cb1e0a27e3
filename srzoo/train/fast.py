"""`train.compile`: the torch.compile mode, memory format and optimizer kernels of a phase's step, per device.

Off (the default) every setting here is a no-op and training runs exactly the eager ops it always did. On:
the phase's generator, discriminator and content/feature losses run through `torch.compile` wrappers that
share their parameters (the modules Accelerate saves, unwraps and exports stay plain, so checkpoint keys
never gain `_orig_mod.`); on CUDA the models and batches are channels_last, Adam/AdamW use the fused
kernel and cuDNN autotunes (`cudnn.benchmark`). The training shapes are static (fixed batch and patch),
so graphs are compiled with `dynamic=False`, and on CUDA "auto" picks CUDA graphs ("reduce-overhead")
when one process steps once per micro-batch; see docs/training-performance.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from srzoo.errors import ConfigError
from srzoo.framework.build import to_channels_last

CUDA_GRAPH_MODES = ("reduce-overhead", "max-autotune")
COMPILE_MODES = ("auto", "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def resolve_mode(requested: str, device: torch.device, *, grad_accum: int, world: int) -> str:
    """The torch.compile mode for `requested` ("auto" or a torch mode) on `device`.

    CUDA graphs replay one captured step; srzoo only asks for them where that is known to hold: one process
    (no collectives inside the graphs) and no gradient accumulation (accumulated .grad tensors would live in
    the graphs' memory pool across replays). Elsewhere on CUDA inductor still autotunes its kernels.
    """
    if requested not in COMPILE_MODES:
        raise ConfigError(f"train.compile_mode {requested!r} is not one of {', '.join(COMPILE_MODES)}")
    if device.type != "cuda":
        if requested in CUDA_GRAPH_MODES:
            raise ConfigError(
                f"train.compile_mode {requested!r} uses CUDA graphs, which need a CUDA device "
                f"(training runs on {device.type}); use auto or default"
            )
        return "default" if requested == "auto" else requested
    graphs_ok = grad_accum == 1 and world == 1
    if requested == "auto":
        return "reduce-overhead" if graphs_ok else "max-autotune-no-cudagraphs"
    if requested in CUDA_GRAPH_MODES and not graphs_ok:
        raise ConfigError(
            f"train.compile_mode {requested!r} uses CUDA graphs, which srzoo supports with one process and "
            f"train.grad_accum 1 (here {world} process(es), grad_accum {grad_accum}); use auto or "
            "max-autotune-no-cudagraphs"
        )
    return requested


@dataclass
class StepSettings:
    """How a phase's step runs: compiled or eager, memory format, optimizer kernels (see module doc)."""

    compile: bool = False
    mode: str | None = None  # torch.compile mode when compile is on
    channels_last: bool = False
    fused: bool = False  # fused Adam/AdamW, foreach SGD
    _wrappers: dict[int, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def resolve(cls, engine: Any, device: torch.device, world: int = 1) -> StepSettings:
        """The settings for `engine` (a recipe's `train` section) on `device` with `world` processes."""
        if not engine.compile:
            return cls()
        mode = resolve_mode(engine.compile_mode, device, grad_accum=engine.grad_accum, world=world)
        cuda = device.type == "cuda"
        return cls(compile=True, mode=mode, channels_last=cuda, fused=cuda)

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    @property
    def cuda_graphs(self) -> bool:
        return self.compile and self.mode in CUDA_GRAPH_MODES

    def to_format(self, *modules: nn.Module) -> None:
        """Put `modules` in this step's memory format (in place: optimizers keep their parameters)."""
        if self.channels_last:
            for module in modules:
                to_channels_last(module)

    def wrap(self, module: nn.Module) -> Any:
        """`module` itself when eager, else one compiled wrapper per module (sharing its parameters)."""
        if not self.compile:
            return module
        key = id(module)
        if key not in self._wrappers:
            self._wrappers[key] = (module, torch.compile(module, mode=self.mode, dynamic=False))
        return self._wrappers[key][1]

    def batch(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A micro-batch in this step's memory format (images only; other entries as they are)."""
        if not self.channels_last:
            return batch
        return {
            k: v.contiguous(memory_format=torch.channels_last) if v.dim() == 4 else v
            for k, v in batch.items()
        }

    def begin_micro_step(self) -> None:
        """Before each micro-batch: a new CUDA-graph generation (the previous step's outputs are done with)."""
        if self.cuda_graphs:
            torch.compiler.cudagraph_mark_step_begin()

    def global_flags(self, device: torch.device) -> None:
        """Process-wide switches of a compiled run: cuDNN picks the fastest kernel for the static shapes."""
        if self.compile and device.type == "cuda":
            torch.backends.cudnn.benchmark = True
