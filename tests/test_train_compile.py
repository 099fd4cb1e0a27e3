"""train.compile and the deferred readback: eager training is plain PyTorch bit for bit; compiled training
matches it within a stated tolerance, resumes exactly, accumulates; the NaN guard still protects checkpoints.

Uses the test-only toy plugin (tests/toyplugin). torch.compile on CPU builds C++ kernels with the system
compiler: the compiled tests are marked slow (a cold inductor cache costs minutes on 2 busy cores).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from srzoo.errors import ConfigError
from srzoo.framework.build import build_arch, build_discriminator, build_loss
from srzoo.framework.registries import LOSSES
from srzoo.recipes.schema import load_recipe
from srzoo.testing.training import write_recipe
from srzoo.train.fast import StepSettings, resolve_mode
from srzoo.train.loop import train
from srzoo.train.options import TrainOptions
from srzoo.train.readback import PendingValues
from srzoo.train.session import TrainingError
from tests.toy import toy_recipe

# Stated before measuring. Compiled (inductor) and eager kernels sum in different orders, so values agree
# to float32 rounding that Adam then carries on: per-step losses within a relative 1e-4, and the weights'
# distance from the eager run's within 1e-3 of how far training moved them (a norm ratio, robust to Adam
# amplifying rounding in near-zero gradient entries).
LOSS_RTOL = 1e-4
UPDATE_RTOL = 1e-3
PHASES = ("phases.0.iters=3", "phases.1.iters=3", "train.ema_decay=null")


@pytest.fixture(scope="module")
def recipe_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("compile")
    return write_recipe(root / "toy.yaml", toy_recipe(root))


def run(recipe_file: Path, out: Path, *overrides: str, **options: Any) -> Any:
    return train(load_recipe(recipe_file, list(overrides)), TrainOptions(output_dir=out, **options))


def train_records(out: Path) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [r for r in records if any(k.startswith("train/") for k in r)]


def tensors(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path))


# -- settings ----------------------------------------------------------------------------------------------
def test_compile_mode_per_device() -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_mode("auto", cpu, grad_accum=4, world=2) == "default"
    assert resolve_mode("auto", cuda, grad_accum=1, world=1) == "reduce-overhead"  # CUDA graphs
    assert resolve_mode("auto", cuda, grad_accum=2, world=1) == "max-autotune-no-cudagraphs"
    assert resolve_mode("auto", cuda, grad_accum=1, world=2) == "max-autotune-no-cudagraphs"
    with pytest.raises(ConfigError, match="need a CUDA device"):
        resolve_mode("reduce-overhead", cpu, grad_accum=1, world=1)
    with pytest.raises(ConfigError, match="grad_accum 1"):
        resolve_mode("max-autotune", cuda, grad_accum=2, world=1)
    engine = load_recipe("toy_x4", ["train.compile=true"]).train
    assert StepSettings.resolve(engine, cpu) == StepSettings(compile=True, mode="default")
    on_gpu = StepSettings.resolve(engine, cuda)
    assert (on_gpu.mode, on_gpu.channels_last, on_gpu.fused) == ("reduce-overhead", True, True)
    assert StepSettings.resolve(load_recipe("toy_x4").train, cuda) == StepSettings()  # off: nothing changes


def test_pending_values_average_like_the_per_step_readback() -> None:
    pending = PendingValues(grad_accum=2)
    a, b = torch.tensor(0.1), torch.tensor(0.7, dtype=torch.bfloat16)
    pending.add(1, [{"g/l1": a, "g/x": 2.0}, {"g/l1": b, "g/x": 4.0}], {"lr/g": 1e-3})
    pending.add(2, [{"g/l1": torch.tensor([float("nan")]), "g/x": 0.0}] * 2, {"lr/g": 5e-4})
    (s1, v1), (s2, v2) = pending.read()
    assert len(pending) == 0 and (s1, s2) == (1, 2)
    assert v1 == {"g/l1": 0.0 + float(a) / 2 + float(b) / 2, "g/x": 3.0, "lr/g": 1e-3}  # the same bits
    assert list(v1) == ["g/l1", "g/x", "lr/g"] and math.isnan(v2["g/l1"])
    # processes: one float32 mean per value, keys sorted (what the per-step all-reduce did)
    pending.add(3, [{"g/b": 1.0, "g/a": 3.0}, {"g/b": 1.0, "g/a": 3.0}], {})
    [(_, mean)] = pending.read(lambda t: t * 0.5)
    assert list(mean) == ["g/a", "g/b"] and mean == {"g/a": 1.5, "g/b": 0.5}


# -- eager: plain PyTorch, bit for bit ---------------------------------------------------------------------
def _reference(recipe: Any, accum: int) -> tuple[dict[str, torch.Tensor], list[dict[str, float]]]:
    """Both phases by hand (set_seed / build / Adam / backward, as the session orders them): G weights, logs."""
    from accelerate.utils import set_seed

    from srzoo.data import build_train_dataset
    from srzoo.train.data import train_batches

    set_seed(recipe.seed)
    g = build_arch(recipe.generator.arch, scale=recipe.scale, **recipe.generator.kwargs)
    logs: list[dict[str, float]] = []
    for index, spec in enumerate(recipe.phases):
        set_seed(recipe.seed + 1000 * (index + 1))
        losses = [(float(s.weight), build_loss(s.name, **s.kwargs)) for s in spec.losses]
        g_opt = torch.optim.Adam(g.parameters(), lr=spec.optimizer.lr, betas=spec.optimizer.betas)
        if spec.type == "adversarial":
            gan = build_loss(spec.gan_loss.name)
            kwargs = {**recipe.discriminator.kwargs, "input_size": spec.patch_size}
            d = build_discriminator(recipe.discriminator.arch, **kwargs)
            d_opt = torch.optim.Adam(d.parameters(), lr=spec.optimizer.lr, betas=spec.optimizer.betas)
        seed = recipe.seed * 1000 + index
        data = build_train_dataset(
            recipe.data, scale=recipe.scale, patch_size=spec.patch_size, augment=spec.augment, seed=seed,
            progress=False,
        )  # fmt: skip
        batches = train_batches(
            data, micro=spec.batch_size // accum, seed=seed, rank=0, world=1, start_micro_batch=0,
            num_workers=0, device=torch.device("cpu"),
        )  # fmt: skip
        for _ in range(spec.iters):
            sums: dict[str, float] = {}
            for _ in range(accum):
                batch = next(batches)
                sr = g(batch["lr"])
                terms = [loss(sr, batch["hr"]) for _, loss in losses]
                total = sr.new_zeros(())
                for (weight, _), value in zip(losses, terms):
                    total = total + weight * value
                step = {f"g/{s.name}": float(v.detach()) for s, v in zip(spec.losses, terms)}
                if spec.type == "adversarial":
                    d.requires_grad_(False)
                    g_adv = gan.g_loss(d(batch["hr"]).detach(), d(sr))
                    total = total + spec.gan_loss.weight * g_adv
                (total / accum).backward()
                if spec.type == "adversarial":
                    d.requires_grad_(True)
                    d_adv = gan.d_loss(d(batch["hr"]), d(sr.detach()))
                    (d_adv / accum).backward()
                    step |= {"g/adv": float(g_adv.detach()), "d/adv": float(d_adv.detach())}
                step["g/total"] = float(total.detach())
                for key, value in step.items():
                    sums[key] = sums.get(key, 0.0) + value / accum
            g_opt.step()
            g_opt.zero_grad(set_to_none=True)
            if spec.type == "adversarial":
                d_opt.step()
                d_opt.zero_grad(set_to_none=True)
            logs.append(sums)
    return g.state_dict(), logs


@pytest.mark.parametrize("accum", [pytest.param(1, marks=pytest.mark.slow), 2])
def test_eager_training_is_plain_pytorch_bit_for_bit(recipe_file: Path, tmp_path: Path, accum: int) -> None:
    """train.compile off: weights and every logged loss are exactly those of the hand-written loop."""
    overrides = (
        *PHASES,
        f"train.grad_accum={accum}",
        "train.log_interval=2",
        "phases.1.scheduler.name=constant",
        "train.val_interval=0",
        "train.checkpoint_interval=0",
    )
    run(recipe_file, tmp_path / "run", *overrides)
    weights, logs = _reference(load_recipe(recipe_file, list(overrides)), accum)
    exported = tensors(tmp_path / "run" / "last.safetensors")
    assert exported.keys() == weights.keys()
    assert [k for k in weights if not torch.equal(weights[k], exported[k])] == []
    # log_interval 2 over 3 + 3 steps: means of steps (1, 2), (3), (4), (5, 6) (a phase end flushes)
    groups = [[0, 1], [2], [3], [4, 5]]
    records = train_records(tmp_path / "run")
    assert [r["step"] for r in records] == [2, 3, 4, 6]
    for record, group in zip(records, groups):
        for key in logs[group[0]]:
            expected = sum(logs[i][key] for i in group) / len(group)
            assert record[f"train/{key}"] == expected, key


def test_nan_guard_reads_back_before_any_checkpoint(recipe_file: Path, tmp_path: Path) -> None:
    """Values are read at the log interval (5 here), yet a NaN at step 3 stops the run before step 4's
    checkpoint: the error names step 3 and checkpoint 2 is the last one."""

    class Boom(torch.nn.Module):
        calls = 0

        def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            type(self).calls += 1
            loss = F.l1_loss(pred, target)
            return loss * float("nan") if type(self).calls == 3 else loss

    LOSSES.register("test_compile_boom", Boom)
    try:
        with pytest.raises(
            TrainingError, match=r"non-finite loss at step 3 of phase 'psnr' \(g/test_compile_boom"
        ):
            run(
                recipe_file, tmp_path / "run", "phases.0.losses=[{name: test_compile_boom}]",
                "train.log_interval=5", "train.checkpoint_interval=2", "train.val_interval=0",
            )  # fmt: skip
    finally:
        LOSSES.unregister("test_compile_boom")
    assert [p.name for p in (tmp_path / "run" / "checkpoints").iterdir()] == ["checkpoint-00000002"]


@pytest.mark.slow
def test_channels_last_and_fused_adam_save_the_usual_layout(
    recipe_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CUDA settings of a compiled step (channels_last, fused Adam), eager here: checkpoints and exports
    are contiguous with plain keys, a resumed run continues exactly, and the numbers stay those of NCHW."""
    cuda_like = StepSettings(channels_last=True, fused=True)
    monkeypatch.setattr(StepSettings, "resolve", classmethod(lambda cls, *a, **k: cuda_like))
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    run(recipe_file, straight, *PHASES)
    run(recipe_file, resumed, *PHASES, max_steps=4)
    run(recipe_file, resumed, *PHASES, resume="auto")
    monkeypatch.undo()
    run(recipe_file, tmp_path / "nchw", *PHASES)
    for name in ("last.safetensors", "checkpoints/checkpoint-00000006/model_1.safetensors"):
        a, b = tensors(straight / name), tensors(resumed / name)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
    layout, nchw = tensors(straight / "last.safetensors"), tensors(tmp_path / "nchw" / "last.safetensors")
    assert layout.keys() == nchw.keys()
    for key in nchw:
        torch.testing.assert_close(layout[key], nchw[key], rtol=1e-4, atol=1e-5)


# -- compiled ----------------------------------------------------------------------------------------------
def _assert_close_training(compiled: Path, eager: Path, init: dict[str, torch.Tensor]) -> None:
    a, b = train_records(compiled), train_records(eager)
    assert [r["step"] for r in a] == [r["step"] for r in b]
    for ra, rb in zip(a, b):
        for key in (k for k in rb if k.startswith("train/")):
            assert ra[key] == pytest.approx(rb[key], rel=LOSS_RTOL), (ra["step"], key)
    wa, wb = tensors(compiled / "last.safetensors"), tensors(eager / "last.safetensors")
    assert wa.keys() == wb.keys() == init.keys()  # no `_orig_mod.` anywhere
    diff = math.sqrt(sum(float((wa[k] - wb[k]).double().square().sum()) for k in wb))
    moved = math.sqrt(sum(float((wb[k] - init[k]).double().square().sum()) for k in wb))
    assert diff <= UPDATE_RTOL * moved, (diff, moved)


def _initial_generator(recipe_file: Path) -> dict[str, torch.Tensor]:
    from accelerate.utils import set_seed

    recipe = load_recipe(recipe_file)
    set_seed(recipe.seed)
    net = build_arch(recipe.generator.arch, scale=recipe.scale, **recipe.generator.kwargs)
    return net.state_dict()


@pytest.mark.slow
def test_compiled_training_matches_eager_and_resumes_exactly(recipe_file: Path, tmp_path: Path) -> None:
    from torch._dynamo.utils import counters

    init = _initial_generator(recipe_file)
    run(recipe_file, tmp_path / "eager", *PHASES)
    graphs = counters["stats"]["unique_graphs"]
    run(recipe_file, tmp_path / "compiled", *PHASES, "train.compile=true")
    assert counters["stats"]["unique_graphs"] > graphs, "nothing was compiled"
    _assert_close_training(tmp_path / "compiled", tmp_path / "eager", init)
    # stopped inside the GAN phase and resumed: the same bits as the uninterrupted compiled run
    first = run(recipe_file, tmp_path / "resumed", *PHASES, "train.compile=true", max_steps=4)
    assert first.global_step == 4
    run(recipe_file, tmp_path / "resumed", *PHASES, "train.compile=true", resume="auto")
    for name in ("last.safetensors", "checkpoints/checkpoint-00000006/model_1.safetensors"):
        a, b = tensors(tmp_path / "compiled" / name), tensors(tmp_path / "resumed" / name)
        assert all(torch.equal(a[k], b[k]) for k in a), name
    # the checkpoint loads without torch.compile: plain keys, the eager modules
    from srzoo.inference.model import load_model

    model = load_model(tmp_path / "resumed" / "last.safetensors")
    assert model(torch.rand(1, 3, 8, 8)).shape == (1, 3, 32, 32)


@pytest.mark.slow
def test_compiled_gradient_accumulation_matches_eager(recipe_file: Path, tmp_path: Path) -> None:
    init = _initial_generator(recipe_file)
    run(recipe_file, tmp_path / "eager", *PHASES, "train.grad_accum=2")
    run(recipe_file, tmp_path / "compiled", *PHASES, "train.grad_accum=2", "train.compile=true")
    _assert_close_training(tmp_path / "compiled", tmp_path / "eager", init)
