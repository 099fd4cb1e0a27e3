"""Everything around the loop: Accelerate, data, steps with a NaN guard, validation, checkpoints, exports."""

from __future__ import annotations

import math
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

from srzoo._version import __version__
from srzoo.errors import ConfigError, SrzooError
from srzoo.framework.build import build_arch, build_degradation, build_phase
from srzoo.framework.files import atomic_write
from srzoo.framework.weights import save_weights
from srzoo.recipes.loader import config_hash, to_dict
from srzoo.recipes.schema import PhaseSpec, Recipe
from srzoo.train.accel import make_accelerator
from srzoo.train.checkpoint import Checkpoints, TrainState, load_checkpoint
from srzoo.train.data import degraded_batches, micro_batch_size, reads_hr_only, train_batches
from srzoo.train.fast import StepSettings
from srzoo.train.logging import Console, MetricsLog, check_trackers, flat_config, log, setup_file_log
from srzoo.train.options import TrainOptions
from srzoo.train.readback import PendingValues
from srzoo.train.validate import validate

EXIT_CODES = {"complete": 0, "max_steps": 0, "SIGINT": 130, "SIGTERM": 143}
# Steps whose logged values may wait on the device (log_interval 0 or very large): then a readback anyway.
MAX_PENDING_STEPS = 1000


class TrainingError(SrzooError):
    """Training cannot go on (e.g. a non-finite loss); the last good checkpoint is left as it was."""


@dataclass
class TrainResult:
    status: str  # complete | max_steps | SIGINT | SIGTERM
    global_step: int
    output_dir: Path

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]


class Session:
    """One training run: owns the accelerator, the train state, the output dir and the stop signals."""

    def __init__(self, recipe: Recipe, options: TrainOptions) -> None:
        from accelerate.utils import set_seed

        self.recipe, self.engine, self.max_steps = recipe, recipe.train, options.max_steps
        self.output_dir = Path(
            options.output_dir or recipe.output_dir or Path("runs") / recipe.name
        ).resolve()
        trackers = check_trackers(self.engine.trackers)
        self.accelerator = acc = make_accelerator(
            options.mixed_precision or self.engine.mixed_precision, self.engine.grad_accum, trackers,
            self.output_dir,
        )  # fmt: skip
        self.main, self.world, self.device = acc.is_main_process, acc.num_processes, acc.device
        self.resume = self._find_resume(options.resume)
        self.state = TrainState(**vars(self.resume.state)) if self.resume else TrainState()
        # Everything that can reject the recipe runs before anything is written or opened.
        self.fast = StepSettings.resolve(self.engine, self.device, self.world)  # train.compile
        self.fast.global_flags(self.device)
        self.pending = PendingValues(self.engine.grad_accum)
        self.degradation: Any = self.new_degradation()  # rebuilt per phase: a pair pool starts empty
        self._check_phases()
        self.val_sets = self._open_val_sets()
        self._write_run_dir()
        self._open_logs(trackers)
        self.validated_at = self.checkpointed_at = self.state.global_step if self.resume else -1
        self.stop_signal: str | None = None
        self._old_handlers: dict[int, Any] = {}
        self._install_signals()
        set_seed(recipe.seed)
        self._announce()

    def _find_resume(self, resume: str | None) -> Any:
        """The checkpoint to resume from (None: a fresh run, which must not overwrite an existing one)."""
        self.checkpoints = Checkpoints(self.output_dir, self.engine.keep_checkpoints)
        found = self.checkpoints.find(resume)
        if resume is None and (
            self.checkpoints.complete() or (self.output_dir / "last.safetensors").exists()
        ):
            raise ConfigError(
                f"{self.output_dir} already holds a run; pass --resume auto to continue it, or another --output-dir"
            )
        return found

    def _write_run_dir(self) -> None:
        """The output directory with the recipe as run (main process), once every check has passed."""
        if self.main:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            self.checkpoints.clean_temporary()
            with atomic_write(self.output_dir / "recipe.yaml") as tmp:
                tmp.write_text(yaml.safe_dump(to_dict(self.recipe), sort_keys=False))
        self.accelerator.wait_for_everyone()

    def _open_logs(self, trackers: list[str]) -> None:
        """train.log, the console progress, metrics.jsonl and the trackers."""
        self._log_handler = setup_file_log(self.output_dir, self.main)
        total = sum(p.iters for p in self.recipe.phases)
        total = min(total, self.max_steps) if self.max_steps is not None else total
        self.console = Console(self.main, total, initial=min(self.state.global_step, total))
        self.metrics = MetricsLog(self.accelerator, self.output_dir)
        if trackers:
            wandb = {"wandb": {"dir": str(self.output_dir), "name": self.output_dir.name}}  # not ./wandb
            config = flat_config(to_dict(self.recipe))
            self.accelerator.init_trackers(self.recipe.name, config=config, init_kwargs=wandb)

    def _announce(self) -> None:
        for skipped in self.resume.skipped if self.resume else ():
            self.console.info(f"warning: {skipped}; resuming {self.resume.path.name} instead")
        if self.resume and self.resume.meta.get("config_hash") != config_hash(self.recipe):
            self.console.info(
                f"note: the recipe differs from the one {self.resume.path.name} was trained with"
            )
        where = f"resuming {self.resume.path.name}" if self.resume else "starting"
        self.console.info(
            f"{where} {self.recipe.name} in {self.output_dir} ({self.world} process(es), {self.device})"
        )

    def _check_phases(self) -> None:
        """Build every phase still to run once: a bad GAN phase fails now, not after days of pre-training."""
        if not any(p.requires_grad for p in self.new_generator().parameters()):
            raise ConfigError(
                f"generator arch {self.recipe.generator.arch!r} has no trainable parameters: there is nothing "
                "to train; pick an arch with weights (`srzoo list archs`)"
            )
        for index, spec in enumerate(
            self.recipe.phases[self.state.phase_index :], start=self.state.phase_index
        ):
            micro_batch_size(spec.batch_size, self.world, self.engine.grad_accum, f"phase {spec.name!r}")
            if index > self.state.phase_index or self.resume is None:
                build_phase(spec, self.recipe, self.new_generator())

    def _open_val_sets(self) -> list[Any]:
        if not self.main or not self.recipe.data.val:
            return []
        from srzoo.data import open_val_sets

        return open_val_sets(self.recipe.data, self.recipe.scale)

    # -- signals: stop at the next iteration boundary, save, export ---------------------------------------
    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old_handlers[sig] = signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self.stop_signal = signal.Signals(signum).name
        signal.signal(signum, self._old_handlers.get(signum, signal.SIG_DFL))  # a second one acts at once
        self.console.info(f"{self.stop_signal}: stopping after this iteration and saving a checkpoint")

    def should_stop(self) -> bool:
        """--max-steps reached or a stop signal on any process (agreed by all processes)."""
        flag = float(self.stop_signal is not None)
        if self.world > 1:
            flag = float(self.accelerator.reduce(torch.tensor([flag], device=self.device), "sum").item())
            if flag and self.stop_signal is None:
                self.stop_signal = "SIGTERM"
        return bool(flag) or (self.max_steps is not None and self.state.global_step >= self.max_steps)

    # -- phases -------------------------------------------------------------------------------------------
    def new_degradation(self) -> Any:
        """The recipe's data.degradation, or None (pairs then come from the dataset)."""
        spec = self.recipe.data.degradation
        return None if spec is None else build_degradation(spec.name, self.recipe.scale, **spec.kwargs)

    def new_generator(
        self, state_dict: dict[str, torch.Tensor] | None = None, *, initial: bool = False
    ) -> nn.Module:
        """The recipe's generator; `initial`: with `generator.weights` loaded (a fresh run's first phase)."""
        spec = self.recipe.generator
        net = build_arch(spec.arch, scale=self.recipe.scale, **spec.kwargs)
        if state_dict is not None:
            net.load_state_dict(state_dict)
        elif initial and spec.weights is not None and self.resume is None:
            from srzoo.train.init_weights import load_initial_weights

            note = load_initial_weights(
                net, spec.arch, spec.weights, "generator", self.recipe.scale, strict=spec.weights_strict
            )
            self.console.info(f"generator starts from {spec.weights}")
            if note:
                self.console.info(note)
        return net

    def begin_phase(self, index: int, generator: nn.Module) -> Any:
        from accelerate.utils import set_seed

        spec = self.recipe.phases[index]
        self.accelerator.free_memory()  # forget the previous phase's objects: checkpoints hold this phase's
        set_seed(self.recipe.seed + 1000 * (index + 1))  # e.g. D init: the same whether resumed or not
        phase = build_phase(spec, self.recipe, generator)
        for note in getattr(phase, "notes", ()):  # e.g. a discriminator's weights loaded in part
            self.console.info(note)
        phase.prepare(self.accelerator)
        self.degradation = self.new_degradation()
        if self.resume is not None and self.resume.state.phase_index == index:
            load_checkpoint(self.accelerator, self.resume, phase.ema, self.degradation)
            self.resume = None
        self.batches = self._batches(index, spec)
        self.console.info(f"phase {spec.name!r} ({spec.type}): step {self.state.phase_step}/{spec.iters}")
        return phase

    def _batches(self, index: int, spec: PhaseSpec) -> Any:
        from srzoo.data import build_train_dataset

        data = self.recipe.data
        micro = micro_batch_size(spec.batch_size, self.world, self.engine.grad_accum, f"phase {spec.name!r}")
        seed = self.recipe.seed * 1000 + index
        dataset = build_train_dataset(
            data, scale=self.recipe.scale, patch_size=spec.patch_size,
            augment=spec.augment, seed=seed, progress=self.main, hr_only=reads_hr_only(self.degradation),
        )  # fmt: skip
        start, rank = self.state.phase_step * self.engine.grad_accum, self.accelerator.process_index
        batches = train_batches(
            dataset, micro=micro, seed=seed, rank=rank, world=self.world, start_micro_batch=start,
            num_workers=data.num_workers, device=self.device,
        )  # fmt: skip
        if self.degradation is None:
            return batches
        return degraded_batches(batches, self.degradation, seed=seed, rank=rank, start_micro_batch=start)

    def step(self, phase: Any) -> None:
        """One optimizer step (grad_accum micro-batches). Its logged values stay on the device until the
        next readback (log interval, validation, checkpoint, export), so the host never waits for the step."""
        micro = []
        for _ in range(self.engine.grad_accum):
            self.fast.begin_micro_step()
            micro.append(phase.train_step(self.fast.batch(next(self.batches)), self.accelerator))
        self.state.advance()
        phase.after_step(self.accelerator, self.state.phase_step)
        self.pending.add(self.state.global_step, micro, phase.learning_rates())
        self.console.step(phase.spec.name)
        if self.due(self.engine.log_interval) or len(self.pending) >= MAX_PENDING_STEPS:
            self.read_back(phase)
        if self.due(self.engine.log_interval):
            self.metrics.flush(self.state.global_step, phase.spec.name, {})

    def read_back(self, phase: Any) -> None:
        """The pending steps' values on the host (one sync), averaged over micro-batches and processes, into
        the metrics; the NaN guard: a non-finite value stops the run before anything is saved after it.

        The guard therefore sees a NaN at the next readback, up to log_interval - 1 steps late (they are
        wasted, never saved); train.log_interval=1 checks every step at the cost of one sync per step.
        """
        reduce = None
        if self.world > 1:
            reduce = lambda t: self.accelerator.reduce(t.to(self.device), "mean")  # noqa: E731
        values: dict[str, float] = {}
        for step, values in self.pending.read(reduce):
            bad = {k: v for k, v in values.items() if not math.isfinite(v)}
            if bad:
                self.pending = PendingValues(self.engine.grad_accum)
                last = self.checkpoints.complete()
                keep = f"the last good checkpoint is {last[-1]}" if last else "no checkpoint was written yet"
                raise TrainingError(
                    f"non-finite loss at step {step} of phase {phase.spec.name!r} "
                    f"({', '.join(f'{k}={v}' for k, v in bad.items())}); {keep}. Lower the learning rate or "
                    "set train.grad_clip, then --resume auto"
                )
            self.metrics.add(values)
        if values:
            self.console.show(values)

    def due(self, interval: int) -> bool:
        return interval > 0 and self.state.global_step % interval == 0

    # -- validation, checkpoints, exports -----------------------------------------------------------------
    def validate(self, phase: Any) -> None:
        step = self.state.global_step
        if self.validated_at == step or not self.recipe.data.val:
            return
        self.read_back(phase)  # on every process (it may reduce), and never validate past a NaN
        self.validated_at = step
        if self.main:
            from srzoo.train.samples import save_samples

            samples: list[Any] = []  # crops of the first validation images, for `srzoo report`
            metrics, grid = validate(
                phase.export_module(self.accelerator), self.val_sets, phase.val_losses(), self.device, samples
            )
            save_samples(self.output_dir, step, phase.spec.name, samples)
            self.metrics.write(step, phase.spec.name, metrics)
            if grid is not None:
                self.metrics.image("val/grid", grid, step)
            self.console.info(
                f"validation at step {step}: " + "  ".join(f"{k}={v:.4f}" for k, v in metrics.items())
            )
            score = metrics.get(f"val/{self.val_sets[0].name}/psnr_y") if self.val_sets else None
            best = self.state.best_psnr
            if score is not None and step >= self.engine.best_warmup and (best is None or score > best):
                self.state.best_psnr, self.state.best_step = score, step
                self.export("best", phase, {"val_psnr_y": score})
        self.accelerator.wait_for_everyone()

    def refuse_non_finite(self, phase: Any, what: str) -> None:
        """Never save NaN/Inf weights: an update can break them while its loss (taken before it) was finite."""
        for model_name, model in phase.models().items():
            bad = next((n for n, p in model.named_parameters() if not torch.isfinite(p).all()), None)
            if bad is not None:
                last = self.checkpoints.complete()
                keep = f"the last good checkpoint is {last[-1]}" if last else "no checkpoint was written yet"
                raise TrainingError(
                    f"non-finite weights in the {model_name} ({bad}) after step {self.state.global_step} of "
                    f"phase {phase.spec.name!r}; {what} not written, {keep}. Lower the learning rate or set "
                    "train.grad_clip, then --resume auto"
                )

    def checkpoint(self, phase: Any) -> None:
        if self.checkpointed_at == self.state.global_step:
            return
        self.read_back(phase)  # the NaN guard: nothing after a non-finite step is saved
        self.refuse_non_finite(phase, "checkpoint")
        meta = {
            "phase": phase.spec.name, "recipe": self.recipe.name, "config_hash": config_hash(self.recipe),
            "srzoo": __version__, "processes": self.world,
        }  # fmt: skip
        path = self.checkpoints.save(self.accelerator, self.state, meta, phase.ema, self.degradation)
        self.checkpointed_at = self.state.global_step
        log.info("saved checkpoint %s", path)

    def export(self, name: str, phase: Any, extra: dict[str, Any] | None = None) -> None:
        """Generator weights (EMA when enabled) as `<output>/<name>.safetensors` with srzoo metadata."""
        self.read_back(phase)
        self.refuse_non_finite(phase, f"{name}.safetensors")
        state_dict = phase.export_state_dict(self.accelerator)
        if self.main:
            spec = self.recipe.generator
            info = {"recipe": self.recipe.name, "phase": phase.spec.name, "step": self.state.global_step}
            info |= {"ema": phase.ema is not None, "config_hash": config_hash(self.recipe), **(extra or {})}
            path = self.output_dir / f"{name}.safetensors"
            path.parent.mkdir(parents=True, exist_ok=True)
            save_weights(
                path, state_dict, arch=spec.arch, kwargs=spec.kwargs, scale=self.recipe.scale, extra=info
            )

    def end_phase(self, phase: Any) -> nn.Module:
        """Validate, checkpoint, export `<phase>.safetensors`; the next phase starts from that generator."""
        self.read_back(phase)
        self.metrics.flush(self.state.global_step, phase.spec.name, {})
        self.validate(phase)
        self.checkpoint(phase)
        self.export(phase.spec.name, phase)
        self.batches = None
        self.state.next_phase()
        return self.new_generator(phase.export_state_dict(self.accelerator))

    def finish(self, phase: Any | None) -> TrainResult:
        """After the loop: a checkpoint when stopped early, then `last.safetensors`."""
        complete = self.state.phase_index >= len(self.recipe.phases)
        status = "complete" if complete else self.stop_signal or "max_steps"
        if phase is not None:
            self.read_back(phase)
            self.metrics.flush(self.state.global_step, phase.spec.name, {})
            if not complete and self.state.global_step > 0:
                self.checkpoint(phase)
            self.export("last", phase)
        self.accelerator.wait_for_everyone()
        self.console.info(f"{status} at step {self.state.global_step}; outputs in {self.output_dir}")
        return TrainResult(status, self.state.global_step, self.output_dir)

    def close(self) -> None:
        self.console.close()
        self.accelerator.end_training()
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)
        if self._log_handler is not None:
            log.removeHandler(self._log_handler)
            self._log_handler.close()
