"""Training phases (registered in `srzoo.phases`): each owns its models, optimizers, backward and steps.

The contract the loop relies on (docs/training.md): `Phase(spec, recipe, generator)`; `prepare(accelerator)`
wraps the phase's own models, optimizers and schedulers with Accelerate, each by name (the order of the
`accelerator.prepare` calls is the checkpoint order); `train_step(batch, accelerator) -> dict[str, Tensor|float]`
does one micro-batch inside ONE `accelerator.accumulate` block and returns its logged terms as detached device
tensors, never read back there (the session reads them at the log interval: no host sync in a step);
`after_step(accelerator, step)` runs once per optimizer step (schedulers, EMA), with `step` the phase's step
count kept by the loop; `export_module` / `export_state_dict` give the generator to save (EMA weights when
enabled).
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

from srzoo.errors import ConfigError
from srzoo.framework.build import build_discriminator, build_loss, build_optimizer, build_scheduler
from srzoo.framework.descriptors import StateDict
from srzoo.framework.registries import ARCHS
from srzoo.recipes.schema import LossSpec, PhaseSpec, Recipe
from srzoo.train.ema import GeneratorEma
from srzoo.train.fast import StepSettings

Batch = dict[str, torch.Tensor]


def _is_gan_loss(loss: nn.Module) -> bool:
    return bool(getattr(loss, "adversarial", False))


class Phase:
    """Base of every phase: the generator, its content losses, optimizer, scheduler and EMA."""

    def __init__(self, spec: PhaseSpec, recipe: Recipe, generator: nn.Module) -> None:
        self.spec, self.recipe, self.engine = spec, recipe, recipe.train
        self.notes: list[str] = []  # one-line messages the session shows when the phase begins
        self.generator = generator.train()
        self.loss_terms = self._build_losses(spec.losses)
        self.g_optimizer = build_optimizer(spec.optimizer, generator.parameters())
        self.g_scheduler = build_scheduler(spec.scheduler, self.g_optimizer, spec.iters)
        self.ema = (
            GeneratorEma(generator, self.engine.ema_decay, warmup=self.engine.ema_warmup)
            if self.engine.ema_decay
            else None
        )
        self.fast = StepSettings()  # eager until prepare() knows the device (train.compile)
        self._g: Any = self.generator
        self._losses_fast: list[Any] = [loss for _, _, loss in self.loss_terms]

    # -- what the loop and the checkpoints see ---------------------------------------------------------
    def models(self) -> dict[str, nn.Module]:
        return {"generator": self.generator}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"g_optimizer": self.g_optimizer}

    def schedulers(self) -> dict[str, Any]:
        return {"g_scheduler": self.g_scheduler}

    def prepare(self, accelerator: Any) -> None:
        """Wrap the generator, its optimizer and scheduler with Accelerate (DDP, mixed precision, device)."""
        self._settle(accelerator)
        if self.fast.fused:  # nothing has stepped yet: a fresh optimizer and schedule are the same run
            self.g_optimizer = build_optimizer(self.spec.optimizer, self.generator.parameters(), fused=True)
            self.g_scheduler = build_scheduler(self.spec.scheduler, self.g_optimizer, self.spec.iters)
        self.generator, self.g_optimizer, self.g_scheduler = accelerator.prepare(
            self.generator, self.g_optimizer, self.g_scheduler
        )
        self._to_device(accelerator)

    def _settle(self, accelerator: Any) -> None:
        """This device's step settings (train.compile); the generator and EMA in their memory format."""
        self.fast = StepSettings.resolve(self.engine, accelerator.device, accelerator.num_processes)
        self.fast.to_format(self.generator, *([self.ema.module] if self.ema is not None else []))

    def _to_device(self, accelerator: Any) -> None:
        for _, _, loss in self.loss_terms:
            loss.to(accelerator.device)
        if self.ema is not None:
            self.ema.to(accelerator.device)
        # Compiled wrappers share the prepared modules' parameters; checkpoints, EMA, exports and validation
        # keep using the plain modules.
        self._g = self.fast.wrap(self.generator)
        self._losses_fast = [self.fast.wrap(loss) for _, _, loss in self.loss_terms]

    def train_step(self, batch: Batch, accelerator: Any) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    # -- shared helpers ---------------------------------------------------------------------------------
    def _build_losses(self, specs: list[LossSpec]) -> list[tuple[str, float, nn.Module]]:
        self.loss_targets: dict[str, str] = {}  # term key -> batch entry it compares with (LossSpec.target)
        terms, seen = [], set()
        for spec in specs:
            loss = build_loss(spec.name, **spec.kwargs)
            if _is_gan_loss(loss):
                raise ConfigError(
                    f"phase {self.spec.name!r}: {spec.name!r} is a GAN loss; "
                    "give it as `gan_loss`, not in `losses`"
                )
            key = spec.name if spec.name not in seen else f"{spec.name}_{len(seen)}"
            seen.add(spec.name)
            terms.append((key, float(spec.weight), loss))
            self.loss_targets[key] = spec.target
        return terms

    def content(
        self, sr: torch.Tensor, hr: torch.Tensor, logs: dict[str, torch.Tensor], batch: Batch | None = None
    ) -> torch.Tensor:
        """Weighted sum of the content/perceptual terms; each raw (unweighted) term goes to `logs`.

        A term whose LossSpec.target is not "hr" compares with that entry of `batch` (e.g. a degradation's
        sharpened HR).
        """
        total = sr.new_zeros(())
        for (key, weight, _), loss in zip(self.loss_terms, self._losses_fast):
            target = self.loss_targets.get(key, "hr")
            if target != "hr" and (batch is None or target not in batch):
                have = sorted(batch) if batch is not None else ["hr"]
                raise ConfigError(
                    f"phase {self.spec.name!r}: loss {key!r} has target {target!r}, but batches hold "
                    f"{', '.join(have)}; a data.degradation must provide it, or drop `target`"
                )
            value = loss(sr, hr if target == "hr" else batch[target])
            logs[f"g/{key}"] = value.detach()
            total = total + weight * value
        return total

    def val_losses(self) -> dict[str, nn.Module]:
        """The losses validation reports (the content and perceptual terms of this phase)."""
        return {key: loss for key, _, loss in self.loss_terms}

    def clip(self, accelerator: Any, model: nn.Module) -> None:
        if self.engine.grad_clip and accelerator.sync_gradients:
            accelerator.clip_grad_norm_(model.parameters(), self.engine.grad_clip)

    def after_step(self, accelerator: Any, step: int) -> None:
        """Once per optimizer step (`step` = steps done in this phase): schedulers and the EMA move by one."""
        for scheduler in self.schedulers().values():
            scheduler.step()
        if self.ema is not None:
            self.ema.update(accelerator.unwrap_model(self.generator), step=step)

    def learning_rates(self) -> dict[str, float]:
        return {
            f"lr/{name.split('_')[0]}": float(s.get_last_lr()[0]) for name, s in self.schedulers().items()
        }

    def export_module(self, accelerator: Any) -> nn.Module:
        """The generator users get: EMA weights when enabled, else the trained net."""
        return self.ema.module if self.ema is not None else accelerator.unwrap_model(self.generator)

    def export_state_dict(self, accelerator: Any) -> StateDict:
        # the usual layout even when a compiled CUDA step trains in channels_last
        return {
            k: v.detach().to("cpu", memory_format=torch.contiguous_format).clone()
            for k, v in self.export_module(accelerator).state_dict().items()
        }


class SupervisedPhase(Phase):
    """Content losses only (ESRGAN's PSNR-oriented pre-training)."""

    def __init__(self, spec: PhaseSpec, recipe: Recipe, generator: nn.Module) -> None:
        if spec.gan_loss is not None or spec.d_optimizer is not None:
            raise ConfigError(
                f"phase {spec.name!r} is supervised: remove gan_loss/d_optimizer or use type: adversarial"
            )
        super().__init__(spec, recipe, generator)
        if not self.loss_terms:
            raise ConfigError(f"phase {spec.name!r}: list at least one loss, e.g. losses: [{{name: l1}}]")

    def train_step(self, batch: Batch, accelerator: Any) -> dict[str, torch.Tensor]:
        logs: dict[str, torch.Tensor] = {}
        with accelerator.accumulate(self.generator):
            with accelerator.autocast():
                total = self.content(self._g(batch["lr"]), batch["hr"], logs, batch)
            accelerator.backward(total)
            self.clip(accelerator, self.generator)
            self.g_optimizer.step()
            self.g_optimizer.zero_grad(set_to_none=True)
        logs["g/total"] = total.detach()
        return logs


class AdversarialPhase(Phase):
    """Generator + discriminator: content + perceptual + adversarial terms, then one discriminator update.

    Per micro-batch, inside ONE `accelerator.accumulate(G, D)` (two blocks would count every micro-batch
    twice, so G would never reach a sync step under gradient accumulation): a generator step with D frozen,
    then a discriminator step on real and detached fake (two D forwards, one backward).
    """

    def __init__(self, spec: PhaseSpec, recipe: Recipe, generator: nn.Module) -> None:
        if spec.gan_loss is None or recipe.discriminator is None:
            raise ConfigError(
                f"phase {spec.name!r} is adversarial: it needs `gan_loss` "
                "(e.g. {name: ragan, weight: 0.005}) "
                "and a recipe-level `discriminator`"
            )
        super().__init__(spec, recipe, generator)
        self.gan = build_loss(spec.gan_loss.name, **spec.gan_loss.kwargs)
        if not hasattr(self.gan, "d_loss") or not hasattr(self.gan, "g_loss"):
            raise ConfigError(
                f"gan_loss {spec.gan_loss.name!r} has no d_loss/g_loss; use a GAN loss such as ragan"
            )
        self.gan_weight = float(spec.gan_loss.weight)
        self.discriminator = self._build_discriminator(spec, recipe, self.notes).train()
        self.d_optimizer = build_optimizer(
            spec.d_optimizer or spec.optimizer, self.discriminator.parameters()
        )
        self.d_scheduler = build_scheduler(spec.d_scheduler or spec.scheduler, self.d_optimizer, spec.iters)
        self._d_plain: nn.Module = self.discriminator
        self._d: Any = self.discriminator
        self._d_frozen: Any = self.discriminator

    @staticmethod
    def _build_discriminator(spec: PhaseSpec, recipe: Recipe, notes: list[str]) -> nn.Module:
        assert recipe.discriminator is not None
        kwargs = dict(recipe.discriminator.kwargs)
        patch = spec.patch_size
        factory = ARCHS.get(recipe.discriminator.arch)
        accepts_size = "input_size" in inspect.signature(factory).parameters
        if accepts_size and "input_size" not in kwargs:
            kwargs["input_size"] = patch  # the D sees HR patches: default its input size to the phase's patch
        elif accepts_size and kwargs["input_size"] != patch:
            raise ConfigError(
                f"phase {spec.name!r}: discriminator input_size {kwargs['input_size']} differs from the HR "
                f"patch "
                f"size {patch}; drop input_size (it defaults to the patch) or change patch_size"
            )
        net = build_discriminator(recipe.discriminator.arch, **kwargs)
        if recipe.discriminator.weights is not None:  # a resumed run's checkpoint overwrites these
            from srzoo.train.init_weights import load_initial_weights

            note = load_initial_weights(
                net,
                recipe.discriminator.arch,
                recipe.discriminator.weights,
                "discriminator",
                strict=recipe.discriminator.weights_strict,
            )
            notes += [note] if note else []
        return net

    def models(self) -> dict[str, nn.Module]:
        return {"generator": self.generator, "discriminator": self.discriminator}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"g_optimizer": self.g_optimizer, "d_optimizer": self.d_optimizer}

    def schedulers(self) -> dict[str, Any]:
        return {"g_scheduler": self.g_scheduler, "d_scheduler": self.d_scheduler}

    def prepare(self, accelerator: Any) -> None:
        """G, then D, with their optimizers and schedulers (the checkpoint order)."""
        self._settle(accelerator)
        self.fast.to_format(self.discriminator)
        if self.fast.fused:  # nothing has stepped yet: fresh optimizers and schedules are the same run
            spec, d_params = self.spec, self.discriminator.parameters()
            self.g_optimizer = build_optimizer(spec.optimizer, self.generator.parameters(), fused=True)
            self.g_scheduler = build_scheduler(spec.scheduler, self.g_optimizer, spec.iters)
            self.d_optimizer = build_optimizer(spec.d_optimizer or spec.optimizer, d_params, fused=True)
            self.d_scheduler = build_scheduler(
                spec.d_scheduler or spec.scheduler, self.d_optimizer, spec.iters
            )
        (
            self.generator,
            self.discriminator,
            self.g_optimizer,
            self.d_optimizer,
            self.g_scheduler,
            self.d_scheduler,
        ) = accelerator.prepare(
            self.generator,
            self.discriminator,
            self.g_optimizer,
            self.d_optimizer,
            self.g_scheduler,
            self.d_scheduler,
        )
        self._to_device(accelerator)
        self.gan.to(accelerator.device)
        # The frozen-D forward of the generator step bypasses DDP: no D gradient exists to reduce there.
        self._d_plain = accelerator.unwrap_model(self.discriminator)
        self._d, self._d_frozen = self.fast.wrap(self.discriminator), self.fast.wrap(self._d_plain)

    def train_step(self, batch: Batch, accelerator: Any) -> dict[str, torch.Tensor]:
        lr, hr = batch["lr"], batch["hr"]
        logs: dict[str, torch.Tensor] = {}
        with accelerator.accumulate(self.generator, self.discriminator):
            self._d_plain.requires_grad_(False)
            with accelerator.autocast():
                sr = self._g(lr)
                g_total = self.content(sr, hr, logs, batch)
                real_logits = self._d_frozen(hr).detach()
                g_adv = self.gan.g_loss(real_logits, self._d_frozen(sr))
                g_total = g_total + self.gan_weight * g_adv
            accelerator.backward(g_total)
            self.clip(accelerator, self.generator)
            self.g_optimizer.step()
            self.g_optimizer.zero_grad(set_to_none=True)

            self._d_plain.requires_grad_(True)
            with accelerator.autocast():
                real = self._d(hr)
                fake = self._d(sr.detach())
                d_adv = self.gan.d_loss(real, fake)
            accelerator.backward(d_adv)
            self.clip(accelerator, self.discriminator)
            self.d_optimizer.step()
            self.d_optimizer.zero_grad(set_to_none=True)
        logs.update({"g/adv": g_adv.detach(), "g/total": g_total.detach(), "d/adv": d_adv.detach()})
        logs.update(
            {"d/real_logit": real.detach().float().mean(), "d/fake_logit": fake.detach().float().mean()}
        )
        return logs
