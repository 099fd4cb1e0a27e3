"""The data.degradation hook: a test-only degradation plugin gets HR-only batches on the device, seeded per
micro-batch; its state rides in checkpoints, so an exact resume reproduces the run; losses can name targets."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from srzoo.errors import ConfigError, UnknownNameError
from srzoo.framework.registries import DEGRADATIONS
from srzoo.recipes.schema import load_recipe
from srzoo.testing.training import write_recipe
from srzoo.train.data import degradation_generator
from srzoo.train.loop import train
from srzoo.train.options import TrainOptions
from tests.toy import toy_recipe

SEEN: list[dict] = []  # what the plugin was called with, per micro-batch


class NoisyPool:
    """A stateful test degradation: box-downscale + generator noise, mixed with a running mean of past LRs."""

    def __init__(self, *, scale: int, sigma: float = 0.05, memory: float = 0.5) -> None:
        self.scale, self.sigma, self.memory = scale, sigma, memory
        self.running: torch.Tensor | None = None

    def __call__(self, batch: dict[str, torch.Tensor], generator: torch.Generator) -> dict[str, torch.Tensor]:
        hr = batch["hr"]
        SEEN.append(
            {"keys": sorted(batch), "shape": tuple(hr.shape), "device": hr.device.type, "gen": generator}
        )
        lr = F.avg_pool2d(hr, self.scale)
        lr = lr + self.sigma * torch.randn(lr.shape, generator=generator).to(lr.device)
        if self.running is not None:  # state: the output depends on every earlier batch of the phase
            lr = lr + self.memory * (self.running - self.running.mean())
        self.running = lr.detach().mean(0)
        return {"lr": lr.clamp(0, 1), "hr": hr, "hr_soft": F.avg_pool2d(hr, 3, 1, 1)}

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {} if self.running is None else {"running": self.running}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.running = state.get("running")


@pytest.fixture(autouse=True)
def _plugin() -> None:
    DEGRADATIONS.register("test_noisy_pool", NoisyPool)
    SEEN.clear()
    yield
    DEGRADATIONS.unregister("test_noisy_pool")


@pytest.fixture(scope="module")
def recipe_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("degrade")
    data = toy_recipe(root)
    data["data"]["degradation"] = {"name": "test_noisy_pool", "kwargs": {"sigma": 0.1}}
    data["phases"] = [
        {"name": "psnr", "type": "supervised", "iters": 4, "optimizer": {"lr": 1e-3},
         "losses": [{"name": "l1"}, {"name": "l1", "weight": 0.5, "target": "hr_soft"}]},
    ]  # fmt: skip
    data["train"].update({"checkpoint_interval": 2, "val_interval": 0})
    return write_recipe(root / "degrade.yaml", data)


def run(recipe_file: Path, out: Path, *overrides: str, **options: object):
    return train(load_recipe(recipe_file, list(overrides)), TrainOptions(output_dir=out, **options))


def test_degradation_gets_hr_only_batches_and_trains(recipe_file: Path, tmp_path: Path) -> None:
    result = run(recipe_file, tmp_path / "run")
    assert result.status == "complete" and result.global_step == 4
    assert len(SEEN) == 4 and all(s["keys"] == ["hr", "index"] for s in SEEN)
    assert all(s["shape"] == (4, 3, 32, 32) and s["device"] == "cpu" for s in SEEN)
    assert all(isinstance(s["gen"], torch.Generator) and s["gen"].device.type == "cpu" for s in SEEN)
    # the pool state went into the checkpoint, one file per process
    state = load_file(
        str(tmp_path / "run" / "checkpoints" / "checkpoint-00000004" / "degradation-0.safetensors")
    )
    assert state["running"].shape == (3, 8, 8)


def test_generator_is_a_function_of_seed_rank_and_micro_batch() -> None:
    draw = [
        torch.rand(3, generator=degradation_generator(*key))
        for key in ((7, 0, 5), (7, 0, 5), (7, 1, 5), (7, 0, 6), (8, 0, 5))
    ]
    assert torch.equal(draw[0], draw[1])
    assert all(not torch.equal(draw[0], other) for other in draw[2:])


def test_exact_resume_reproduces_the_degraded_run(recipe_file: Path, tmp_path: Path) -> None:
    straight = run(recipe_file, tmp_path / "a")
    first = [s["gen"].initial_seed() for s in SEEN]
    SEEN.clear()
    assert run(recipe_file, tmp_path / "b", max_steps=2).status == "max_steps"
    SEEN.clear()
    resumed = run(recipe_file, tmp_path / "b", resume="auto")
    assert straight.global_step == resumed.global_step == 4
    assert [s["gen"].initial_seed() for s in SEEN] == first[2:]  # the same micro-batch seeds
    a, b = (
        load_file(str(tmp_path / "a" / "last.safetensors")),
        load_file(str(tmp_path / "b" / "last.safetensors")),
    )
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_without_the_saved_state_differs(
    recipe_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checkpointed state matters: a degradation that ignores it on resume ends elsewhere (so the test above
    can fail). The checkpoint stays intact: deleting its state file would make `--resume auto` refuse it."""
    run(recipe_file, tmp_path / "a")
    run(recipe_file, tmp_path / "b", max_steps=2)
    loaded: list[dict] = []
    monkeypatch.setattr(NoisyPool, "load_state_dict", lambda self, state: loaded.append(state))
    run(recipe_file, tmp_path / "b", resume="auto")
    assert len(loaded) == 1 and loaded[0]["running"].shape == (3, 8, 8)  # offered, and dropped
    a, b = (
        load_file(str(tmp_path / "a" / "last.safetensors")),
        load_file(str(tmp_path / "b" / "last.safetensors")),
    )
    assert any(not torch.equal(a[k], b[k]) for k in a)


def test_unknown_degradation_kwarg_and_missing_target_are_config_errors(
    recipe_file: Path, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="unknown argument 'sigmaa'.*did you mean 'sigma'"):
        run(recipe_file, tmp_path / "x", "data.degradation.kwargs={sigmaa: 0.1}")
    with pytest.raises(ConfigError, match="target 'hr_sharp'"):
        run(recipe_file, tmp_path / "y", "phases.0.losses.1.target=hr_sharp", max_steps=1)
    with pytest.raises(UnknownNameError, match="did you mean 'test_noisy_pool'"):
        run(recipe_file, tmp_path / "z", "data.degradation.name=test_noisy_pol")


def test_budget_times_steps_with_the_degradation(recipe_file: Path) -> None:
    # the budget's step timing must make batches as training does: HR-only patches through the hook, which
    # also provides the `hr_soft` target one loss names (a timing on dataset pairs would miss both)
    from srzoo.train.budget import step_seconds

    seconds = step_seconds(load_recipe(recipe_file), 0, steps=2)
    assert 0.0 < seconds < 60.0
    assert len(SEEN) == 3 and all(s["keys"] == ["hr", "index"] and s["shape"] == (4, 3, 32, 32) for s in SEEN)
    recipe = load_recipe(recipe_file)
    seeds = [s["gen"].initial_seed() for s in SEEN]  # one generator per micro-batch, as training seeds them
    assert seeds == [degradation_generator(recipe.seed, 0, k).initial_seed() for k in range(3)]


class SoftTarget:
    """A test hook that reads pairs (`reads_pairs`): it keeps the dataset's LR and adds a smoothed HR target."""

    reads_pairs = True

    def __init__(self, *, scale: int, size: int = 3) -> None:
        self.scale, self.size = scale, size

    def __call__(self, batch: dict[str, torch.Tensor], generator: torch.Generator) -> dict[str, torch.Tensor]:
        SEEN.append({"keys": sorted(batch), "lr": batch["lr"].clone(), "hr": batch["hr"].clone()})
        soft = F.avg_pool2d(batch["hr"], self.size, 1, self.size // 2, count_include_pad=False)
        return {"lr": batch["lr"], "hr": batch["hr"], "hr_soft": soft}


def test_a_pair_reading_hook_gets_the_datasets_pairs(recipe_file: Path, tmp_path: Path) -> None:
    """`reads_pairs = True`: the loader reads LR/HR pairs as without a degradation (here MATLAB-bicubic LR made
    on the fly), the hook adds a target a loss names; `srzoo degrade` refuses such a hook (it makes no LR)."""
    from srzoo.data.synth import write_degraded_set
    from srzoo.imaging.resize import imresize

    DEGRADATIONS.register("test_soft_target", SoftTarget)
    try:
        result = run(recipe_file, tmp_path / "run", "data.degradation={name: test_soft_target}")
        assert result.status == "complete" and result.global_step == 4
        assert len(SEEN) == 4 and all(s["keys"] == ["hr", "index", "lr"] for s in SEEN)
        for seen in SEEN:  # the dataset's own pairs: LR patches of the MATLAB-bicubic downscaled image
            assert seen["hr"].shape == (4, 3, 32, 32) and seen["lr"].shape == (4, 3, 8, 8)
            # away from the patch border (bicubic x1/4 reaches 2 LR pixels), where the whole image's LR saw
            # pixels outside the HR patch: equal to the patch's own downscale within one 8-bit level
            inner = (seen["lr"] - imresize(seen["hr"], scale=1 / 4))[..., 2:-2, 2:-2]
            assert float(inner.abs().max()) <= 1 / 255 + 1e-6
        with pytest.raises(ConfigError, match="works on a dataset's LR/HR pairs and makes no LR"):
            write_degraded_set("set5", tmp_path / "deg", degradation="test_soft_target", scale=4, seed=0)
    finally:
        DEGRADATIONS.unregister("test_soft_target")


class GlobalNoise:
    """Breaks the contract: draws from torch's global RNG instead of the generator it is given."""

    def __init__(self, *, scale: int) -> None:
        self.scale = scale

    def __call__(self, batch: dict[str, torch.Tensor], generator: torch.Generator) -> dict[str, torch.Tensor]:
        lr = F.avg_pool2d(batch["hr"], self.scale)
        return {"lr": (lr + 0.05 * torch.randn(lr.shape)).clamp(0, 1), "hr": batch["hr"]}


class ForgetfulPool(NoisyPool):
    """Breaks the contract: saves its state but does not restore it."""

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.running = None


def test_the_contract_checker_passes_good_hooks_and_names_what_bad_ones_break() -> None:
    from srzoo.testing import check_degradation

    DEGRADATIONS.register("test_soft_target", SoftTarget)
    DEGRADATIONS.register("test_global_noise", GlobalNoise)
    DEGRADATIONS.register("test_forgetful_pool", ForgetfulPool)
    try:
        check_degradation("test_noisy_pool", kwargs={"sigma": 0.1})  # stateful, seeded: passes
        check_degradation("test_soft_target", scale=2, hr_size=32)  # reads pairs: passes
        with pytest.raises(AssertionError, match="draw only from the generator"):
            check_degradation("test_global_noise")
        with pytest.raises(AssertionError, match="a restored state makes another next batch"):
            check_degradation("test_forgetful_pool")
    finally:
        for name in ("test_soft_target", "test_global_noise", "test_forgetful_pool"):
            DEGRADATIONS.unregister(name)
