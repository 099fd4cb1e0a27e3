"""Training in-process: each phase, exports, metadata, bit-exact resume, stops, NaN guard, config errors."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file

from srzoo.errors import ConfigError
from srzoo.framework.registries import LOSSES
from srzoo.framework.weights import load_weights_file
from srzoo.recipes.schema import load_recipe
from srzoo.testing.training import write_recipe
from srzoo.train.loop import train
from srzoo.train.options import TrainOptions
from srzoo.train.session import TrainingError
from tests.toy import TOY_ARCH, toy_recipe


@pytest.fixture(scope="module")
def recipe_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    return write_recipe(root / "tiny.yaml", toy_recipe(root))


def run(recipe_file: Path, out: Path, *overrides: str, **options: object):
    return train(load_recipe(recipe_file, list(overrides)), TrainOptions(output_dir=out, **options))


def tensors(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path))


def assert_same(a: Path, b: Path) -> None:
    ta, tb = tensors(a), tensors(b)
    assert ta.keys() == tb.keys()
    different = [k for k in ta if not torch.equal(ta[k], tb[k])]
    assert not different, f"{a.name}: {len(different)} tensors differ, e.g. {different[:3]}"


def metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_supervised_phase_trains_and_exports(recipe_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    only_psnr = "phases=[{name: psnr, type: supervised, iters: 6, optimizer: {lr: 2.0e-3}}]"
    result = run(recipe_file, out, only_psnr, "train.trackers=[tensorboard]", "train.ema_decay=null")
    assert (result.status, result.global_step, result.exit_code) == ("complete", 6, 0)
    for name in ("psnr", "last", "best"):
        assert (out / f"{name}.safetensors").is_file(), name
    assert_same(out / "psnr.safetensors", out / "last.safetensors")
    # Without EMA the export is the trained net: the checkpoint of the final step holds the same weights.
    assert_same(out / "checkpoints" / "checkpoint-00000006" / "model.safetensors", out / "last.safetensors")
    meta = load_weights_file(out / "last.safetensors").srzoo_meta
    assert meta["arch"] == TOY_ARCH and meta["scale"] == 4 and meta["kwargs"]["num_feat"] == 8
    assert meta["extra"]["phase"] == "psnr" and meta["extra"]["step"] == 6 and meta["extra"]["ema"] is False
    from srzoo.inference.model import load_model

    model = load_model(out / "last.safetensors")
    assert model(torch.rand(1, 3, 8, 8)).shape == (1, 3, 32, 32)
    # keep_checkpoints=2 of the saves at steps 2, 4, 6
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "checkpoint-00000004",
        "checkpoint-00000006",
    ]
    records = metrics(out)
    train_steps = [r["step"] for r in records if "train/g/l1" in r]
    assert train_steps == [1, 2, 3, 4, 5, 6]
    assert all(r["lr/g"] == pytest.approx(2e-3) for r in records if "lr/g" in r)
    val = [r for r in records if "val/val/psnr_y" in r]
    assert [r["step"] for r in val] == [3, 6]
    # Validation scores the exported generator exactly as `srzoo bench` does.
    from srzoo.eval.bench import run_bench

    val_dir = Path(load_recipe(recipe_file).data.val[0].kwargs["path"])
    bench = run_bench(model, [str(val_dir)], baseline=False).results[0]
    assert val[-1]["val/val/psnr_y"] == pytest.approx(bench.mean("psnr"), abs=0.02)
    assert val[-1]["val/val/ssim_y"] == pytest.approx(bench.mean("ssim"), abs=1e-3)
    assert list((out / "logs").rglob("events.out.tfevents.*")), "no TensorBoard event file"
    assert "complete at step 6" in (out / "train.log").read_text()


def test_adversarial_phase_starts_from_previous_ema_and_logs_every_term(
    recipe_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "zero"
    run(recipe_file, out, "phases.1.iters=0")
    # A 0-iteration GAN phase exports exactly the generator it started from: the PSNR phase's EMA weights.
    assert_same(out / "psnr.safetensors", out / "gan.safetensors")
    psnr_ckpt = tensors(out / "checkpoints" / "checkpoint-00000004" / "model.safetensors")
    ema = tensors(out / "psnr.safetensors")
    assert any(not torch.equal(psnr_ckpt[k], ema[k]) for k in ema), "EMA should differ from the raw weights"

    out2 = tmp_path / "gan"
    run(recipe_file, out2, "phases.0.iters=1")
    records = [r for r in metrics(out2) if r["phase"] == "gan" and "train/g/adv" in r]
    assert len(records) == 4
    for key in ("g/l1", "g/toy_feature", "g/adv", "g/total", "d/adv", "d/real_logit", "d/fake_logit"):
        assert all(isinstance(r[f"train/{key}"], float) for r in records), key
    lrs = [r["lr/d"] for r in metrics(out2) if r["phase"] == "gan" and "lr/d" in r]
    assert lrs == pytest.approx(
        [1e-4, 5e-5, 5e-5, 5e-5]
    )  # multistep at 2 iterations, stepped once per iteration
    total = records[0]
    expected = 0.01 * total["train/g/l1"] + total["train/g/toy_feature"] + 0.005 * total["train/g/adv"]
    assert total["train/g/total"] == pytest.approx(expected, rel=1e-5)
    d_start = tensors(out2 / "checkpoints" / "checkpoint-00000004" / "model_1.safetensors")
    d_end = tensors(out2 / "checkpoints" / "checkpoint-00000005" / "model_1.safetensors")
    assert any(not torch.equal(d_start[k], d_end[k]) for k in d_end), "the discriminator never stepped"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("workers", "accum", "precision"),
    [
        pytest.param(0, 1, "no", id="plain"),
        # training refuses bf16 where it would only be emulated (AVX2); tests/test_precision.py checks that
        pytest.param(1, 2, "bf16", id="workers+accum+bf16", marks=pytest.mark.native_bf16),
    ],
)
def test_resume_is_bit_exact_across_the_phase_boundary(
    recipe_file: Path, tmp_path: Path, workers: int, accum: int, precision: str
) -> None:
    options = (
        f"data.num_workers={workers}",
        f"train.grad_accum={accum}",
        f"train.mixed_precision={precision}",
    )
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    run(recipe_file, straight, *options)
    first = run(recipe_file, resumed, *options, max_steps=3)  # stops inside the PSNR phase
    assert (first.status, first.global_step) == ("max_steps", 3)
    assert (resumed / "last.safetensors").is_file() and not (resumed / "gan.safetensors").exists()
    assert (resumed / "checkpoints" / "checkpoint-00000003").is_dir()
    second = run(recipe_file, resumed, *options, resume="auto")
    assert (second.status, second.global_step) == ("complete", 8)
    final = "checkpoints/checkpoint-00000008"
    names = ["last.safetensors", "psnr.safetensors", "gan.safetensors"]
    names += [f"{final}/{n}.safetensors" for n in ("model", "model_1", "ema")]
    for name in names:
        assert_same(straight / name, resumed / name)
    # grad_accum micro-batches make one iteration: the schedulers and the step count move once per iteration
    lrs = [r["lr/g"] for r in metrics(straight) if r["phase"] == "gan" and "lr/g" in r]
    assert lrs == pytest.approx([1e-4, 5e-5, 5e-5, 5e-5])


def test_existing_run_needs_resume_and_resume_needs_a_checkpoint(recipe_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run(recipe_file, out, max_steps=1)
    with pytest.raises(ConfigError, match="already holds a run; pass --resume auto"):
        run(recipe_file, out, max_steps=2)
    with pytest.raises(ConfigError, match="not a complete srzoo checkpoint"):
        run(recipe_file, tmp_path / "other", resume=str(tmp_path))
    fresh = run(recipe_file, tmp_path / "fresh", resume="auto", max_steps=1)  # nothing to resume: starts at 0
    assert fresh.global_step == 1


class _Boom(torch.nn.Module):
    """L1 that misbehaves on its `at`-th call: returns NaN, or sends this process a signal."""

    calls = 0
    at = 3
    action = "nan"

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        type(self).calls += 1
        loss = (pred - target).abs().mean()
        if type(self).calls == self.at:
            if self.action == "nan":
                return loss * float("nan")
            os.kill(os.getpid(), getattr(signal, self.action))
        return loss


@pytest.fixture
def boom():
    _Boom.calls = 0
    LOSSES.register("test_boom", _Boom)
    yield _Boom
    LOSSES.unregister("test_boom")


def test_nan_loss_stops_with_the_last_good_checkpoint_intact(recipe_file: Path, tmp_path: Path, boom) -> None:
    boom.action = "nan"
    out = tmp_path / "run"
    with pytest.raises(TrainingError, match=r"non-finite loss at step 3 of phase 'psnr' \(g/test_boom=nan"):
        run(recipe_file, out, "phases.0.losses=[{name: test_boom}]")
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["checkpoint-00000002"]
    weights = tensors(out / "checkpoints" / "checkpoint-00000002" / "model.safetensors")
    assert all(torch.isfinite(t).all() for t in weights.values())
    assert not (out / "last.safetensors").exists()  # a crash is not a stop: no export of NaN weights


@pytest.mark.parametrize(("sig", "code"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_signal_saves_a_checkpoint_and_last(
    recipe_file: Path, tmp_path: Path, boom, sig: str, code: int
) -> None:
    boom.action, boom.at = sig, 3
    out = tmp_path / "run"
    before = signal.getsignal(signal.SIGINT)
    result = run(recipe_file, out, "phases.0.losses=[{name: test_boom}]", "train.checkpoint_interval=0")
    assert (result.status, result.global_step, result.exit_code) == (sig, 3, code)
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["checkpoint-00000003"]
    assert (out / "last.safetensors").is_file()
    assert signal.getsignal(signal.SIGINT) is before  # handlers restored


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["phases.0.gan_loss={name: toy_gan}"], "is supervised: remove gan_loss"),
        (["discriminator=null"], "needs `gan_loss`"),
        (["phases.1.losses=[{name: toy_gan}]"], "'toy_gan' is a GAN loss; give it as `gan_loss`"),
        (["discriminator.kwargs.input_size=64"], "input_size 64 differs from the HR patch size 32"),
        (
            ["train.grad_accum=2", "data.batch_size=3"],
            "batch_size 3 is not divisible by processes x grad_accum = 1 x 2",
        ),
        (["train.trackers=[mlflow]"], "'mlflow' is not supported"),
    ],
)
def test_config_errors_are_one_line(
    recipe_file: Path, tmp_path: Path, overrides: list[str], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        run(recipe_file, tmp_path / "run", *overrides)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_trackers_missing_package_is_an_error_and_wandb_goes_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    from srzoo.train import logging as train_logging

    monkeypatch.setitem(train_logging.TRACKER_PACKAGES, "wandb", "srzoo_no_such_package")
    with pytest.raises(ConfigError, match="package 'srzoo_no_such_package' is not installed"):
        train_logging.check_trackers(["wandb"])
    monkeypatch.setitem(train_logging.TRACKER_PACKAGES, "wandb", "wandb")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    assert train_logging.check_trackers(["wandb", "tensorboard"]) == ["wandb", "tensorboard"]
    assert os.environ["WANDB_MODE"] == "offline"
    monkeypatch.setenv("WANDB_MODE", "disabled")  # an explicit choice is respected
    train_logging.check_trackers(["wandb"])
    assert os.environ["WANDB_MODE"] == "disabled"


def test_cli_train_runs_and_reports_errors_in_one_line(recipe_file: Path, tmp_path: Path, capsys) -> None:
    from srzoo.cli import main

    out = tmp_path / "cli"
    assert (
        main(["train", str(recipe_file), "phases.1.iters=1", "--max-steps", "5", "--output-dir", str(out)])
        == 0
    )
    assert (out / "gan.safetensors").is_file() and load_weights_file(out / "last.safetensors").srzoo_meta
    assert main(["train", str(recipe_file), "phases.0.itres=1", "--output-dir", str(tmp_path / "bad")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("srzoo train: error: unknown key 'phases.0.itres' — did you mean 'iters'")


def test_budget_fits_iterations_to_measured_step_times(recipe_file: Path) -> None:
    from srzoo.train.budget import StepTimes, step_seconds

    times = StepTimes([0.5, 2.0], threads=1)
    assert times.iterations(100.0, (0.8, 0.2)) == [160, 10]
    assert times.iterations(-5.0, (0.8, 0.2)) == [1, 1]  # never zero: a phase always runs
    assert StepTimes.overrides([160, 10]) == ["phases.0.iters=160", "phases.1.iters=10"]
    with pytest.raises(ConfigError, match="one budget fraction per phase"):
        times.iterations(100.0, (1.0,))
    seconds = step_seconds(load_recipe(recipe_file), 1, steps=1)  # a real adversarial step, data included
    assert 0.0 < seconds < 60.0


def test_budget_timing_shrugs_off_one_stalled_step(recipe_file: Path) -> None:
    from srzoo.train import budget

    def clock_for(durations: list[float]):  # step i takes durations[i] (the first is the warm-up)
        ticks, now = [], 0.0
        for d in durations:
            ticks += [now, now + d]
            now += d + 1.0
        return iter(ticks).__next__

    recipe = load_recipe(recipe_file)
    stalled = [0.9, 0.1, 0.1, 2.0, 0.1, 0.1]  # another process takes the core for one step
    assert len(stalled) - 1 == budget.TIMED_STEPS
    assert budget.step_seconds(recipe, 0, clock=clock_for(stalled)) == pytest.approx(0.1)
    # what two timed steps made of the same stall: the plan's step time x10, a tenth of the steps it could run
    assert budget.step_seconds(recipe, 0, steps=2, clock=clock_for([0.9, 0.1, 2.0])) == pytest.approx(1.05)


@pytest.mark.parametrize(
    ("affinity", "one_thread", "all_cores", "timed", "chosen"),
    [
        ({0}, 0.2, 0.1, [1], 1),  # pinned to one core (taskset): two threads are not even timed
        ({0, 1}, 0.2, 0.1, [2, 1], 2),  # 2x faster on both cores: clearly pays, chosen
        ({0, 1}, 0.2, 0.15, [2, 1], 1),  # 0.75x: under PARALLEL_GAIN's 30 % margin, one thread is safer
        (None, 0.2, 0.1, [2, 1], 2),  # no affinity API (macOS, Windows): all of os.cpu_count()
    ],
)
def test_budget_times_the_cores_the_process_may_use(
    monkeypatch: pytest.MonkeyPatch, affinity: set[int] | None, one_thread: float, all_cores: float,
    timed: list[int], chosen: int,
) -> None:  # fmt: skip
    from srzoo.train import budget

    if affinity is None:
        monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    else:
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: affinity, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    seen: list[int] = []

    def fake_step_seconds(recipe: object, index: int, steps: int = budget.TIMED_STEPS) -> float:
        seen.append(torch.get_num_threads())
        return {1: one_thread, 2: all_cores}[torch.get_num_threads()] if index == 0 else 1.5

    monkeypatch.setattr(budget, "step_seconds", fake_step_seconds)
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # left over from earlier code: a pinned process must still time one thread
    try:
        times = budget.measure(SimpleNamespace(phases=[0, 1]))
        assert seen[:-1] == timed and times.threads == chosen == torch.get_num_threads()
        assert times.step_seconds == [{1: one_thread, 2: all_cores}[chosen], 1.5]
    finally:
        torch.set_num_threads(before)


def test_validation_grid_is_lr_bicubic_sr_hr_side_by_side() -> None:
    import numpy as np

    from srzoo.train.validate import comparison_grid

    rng = np.random.default_rng(0)
    hr = rng.integers(0, 256, (40, 64, 3), dtype=np.uint8)
    lr = hr[::4, ::4].copy()
    sr = 255 - hr
    grid = comparison_grid(lr, sr, hr, scale=4, side=32)
    assert grid.shape == (32, 4 * 32 + 3 * 4, 3) and grid.dtype == np.uint8
    top, left = 4, 16  # centre crop of 32 px, aligned to the scale
    assert np.array_equal(grid[:, 3 * 36 :], hr[top : top + 32, left : left + 32])  # HR last
    assert np.array_equal(grid[:, 2 * 36 : 2 * 36 + 32], sr[top : top + 32, left : left + 32])
    assert np.array_equal(grid[:4, :4], np.repeat(np.repeat(lr[1:2, 4:5], 4, 0), 4, 1))  # nearest LR first
