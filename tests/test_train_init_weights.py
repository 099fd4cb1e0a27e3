"""`generator.weights` / `discriminator.weights`: a recipe starts training from given weights (fine-tuning)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from srzoo.errors import SrzooError
from srzoo.framework.build import build_discriminator
from srzoo.framework.weights import save_weights
from srzoo.recipes.schema import load_recipe
from srzoo.testing.training import write_recipe
from srzoo.train.loop import train
from srzoo.train.options import TrainOptions
from srzoo.train.phases import AdversarialPhase
from tests.toy import TOY_ARCH, TOY_TINY, toy_recipe

ONE_PHASE = "phases=[{name: psnr, type: supervised, iters: %d, optimizer: {lr: %s}}]"


@pytest.fixture(scope="module")
def recipe_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("init")
    return write_recipe(root / "tiny.yaml", toy_recipe(root))


def run(recipe_file: Path, out: Path, *overrides: str):
    return train(load_recipe(recipe_file, ["train.ema_decay=null", *overrides]), TrainOptions(output_dir=out))


def max_diff(a: Path, b: Path) -> float:
    ta, tb = load_file(str(a)), load_file(str(b))
    assert ta.keys() == tb.keys()
    return max(float((ta[k] - tb[k]).abs().max()) for k in ta)


def test_generator_starts_from_the_given_weights(recipe_file: Path, tmp_path: Path) -> None:
    first = tmp_path / "first"
    assert run(recipe_file, first, ONE_PHASE % (3, "2.0e-3")).status == "complete"
    start = first / "last.safetensors"
    # One step at a learning rate of 1e-12 moves no weight by more than ~1e-11: the run's output is its start.
    tuned = tmp_path / "tuned"
    assert (
        run(recipe_file, tuned, ONE_PHASE % (1, "1.0e-12"), f"generator.weights={start}").status == "complete"
    )
    fresh = tmp_path / "fresh"
    assert run(recipe_file, fresh, ONE_PHASE % (1, "1.0e-12")).status == "complete"
    assert max_diff(tuned / "last.safetensors", start) < 1e-9
    assert max_diff(fresh / "last.safetensors", start) > 1e-3  # without weights: the arch's own init
    assert f"generator starts from {start}" in (tuned / "train.log").read_text()
    # A training run directory works as well as the file (its last.safetensors, as `srzoo infer RUN_DIR`).
    again = tmp_path / "again"
    assert (
        run(recipe_file, again, ONE_PHASE % (1, "1.0e-12"), f"generator.weights={first}").status == "complete"
    )
    assert max_diff(again / "last.safetensors", start) < 1e-9


def test_weights_that_do_not_fit_are_one_line_errors(recipe_file: Path, tmp_path: Path) -> None:
    other = save_weights(
        tmp_path / "wide.safetensors",
        {k: torch.zeros(1) for k in ("x",)},
        arch="bicubic",
        kwargs={},
        scale=4,
    )
    from srzoo.framework.build import build_arch

    wide_kwargs = {**TOY_TINY, "num_feat": 2 * TOY_TINY["num_feat"]}
    wide = build_arch(TOY_ARCH, scale=4, **wide_kwargs)
    wide_file = save_weights(
        tmp_path / "wider.safetensors", wide.state_dict(), arch=TOY_ARCH, kwargs=wide_kwargs, scale=4
    )
    cases = {
        str(tmp_path / "missing.safetensors"): "does not exist",
        str(other): "holds arch 'bicubic'",
        str(wide_file): "weights do not fit the recipe's generator",
    }
    for index, (ref, message) in enumerate(cases.items()):
        with pytest.raises(SrzooError) as err:
            run(recipe_file, tmp_path / f"bad{index}", ONE_PHASE % (1, "1.0e-3"), f"generator.weights={ref}")
        text = str(err.value)
        assert message in text and "\n" not in text, text


def test_discriminator_starts_from_the_given_weights(recipe_file: Path, tmp_path: Path) -> None:
    recipe = load_recipe(recipe_file)
    spec = next(p for p in recipe.phases if p.type == "adversarial")
    d = build_discriminator("toy_discriminator", num_feat=4, input_size=spec.patch_size)
    with torch.no_grad():
        for p in d.parameters():
            p.add_(torch.randn_like(p))
    path = tmp_path / "d.pth"
    torch.save(d.state_dict(), path)
    recipe = load_recipe(recipe_file, [f"discriminator.weights={path}"])
    built = AdversarialPhase._build_discriminator(spec, recipe)
    for key, value in d.state_dict().items():
        assert torch.equal(built.state_dict()[key], value), key
