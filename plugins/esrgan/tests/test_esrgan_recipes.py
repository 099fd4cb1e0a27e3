"""The plugin's recipes are registered under their names, reachable from registry/, parse strictly and build;
esrgan_x4 is the paper."""

from __future__ import annotations

from pathlib import Path

import pytest
from torch import nn

from srzoo import RECIPES, Recipe, build_arch, load_recipe
from srzoo.framework.build import build_phase, count_parameters

PLUGIN_RECIPES = Path(__file__).resolve().parents[1] / "srzoo_esrgan" / "recipes"
REGISTRY = Path(__file__).resolve().parents[3] / "registry"  # the repository's recipe folder (by path)
FILES = sorted(PLUGIN_RECIPES.glob("*.yaml"))


def offline(recipe: Recipe) -> list[str]:
    """Overrides for building without a download: random VGG for perceptual losses."""
    return [
        f"phases.{i}.losses.{j}.kwargs.weights=none"
        for i, phase in enumerate(recipe.phases)
        for j, loss in enumerate(phase.losses)
        if loss.name == "perceptual"
    ]


def test_every_recipe_file_is_registered_under_its_own_name() -> None:
    assert {p.stem for p in FILES} == {n for n in RECIPES.names() if RECIPES.entry(n).dist == "srzoo-esrgan"}
    for path in FILES:
        assert load_recipe(path).name == path.stem
        assert load_recipe(REGISTRY / path.name) == load_recipe(path)  # registry/ reaches it by path


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_recipe_parses_and_every_phase_builds(path: Path) -> None:
    recipe = load_recipe(path.stem)
    assert recipe == load_recipe(path)  # the registered name and the file are the same recipe
    recipe = load_recipe(path.stem, offline(recipe))
    generator = build_arch(recipe.generator.arch, scale=recipe.scale, **recipe.generator.kwargs)
    for spec in recipe.phases:
        phase = build_phase(spec, recipe, generator)
        assert spec.iters > 0
        assert set(phase.models()) <= {"generator", "discriminator"} and "generator" in phase.models()
        for name, model in phase.models().items():
            assert isinstance(model, nn.Module) and getattr(phase, name) is model
        assert set(phase.optimizers()) == {f"{m[0]}_optimizer" for m in phase.models()}
        if "discriminator" in phase.models():
            patch = spec.patch_size
            assert phase.discriminator.input_size == patch


def test_esrgan_x4_is_the_paper() -> None:
    r = load_recipe("esrgan_x4")
    assert (r.scale, r.generator.arch, r.generator.kwargs) == (
        4,
        "rrdbnet",
        {"num_feat": 64, "num_grow": 32, "num_blocks": 23},
    )
    assert (r.data.patch_size, r.data.batch_size) == (128, 16)
    assert [(d.name, d.split) for d in r.data.train] == [("div2k", "train")]
    assert [(d.name, d.split) for d in r.data.val] == [("div2k", "valid")]  # held out from training
    psnr, gan = r.phases
    assert (psnr.name, psnr.type, [(x.name, x.weight) for x in psnr.losses]) == (
        "psnr",
        "supervised",
        [("l1", 1.0)],
    )
    assert (psnr.optimizer.name, psnr.optimizer.lr) == ("adam", 2e-4)
    assert (psnr.scheduler.name, psnr.scheduler.step_size, psnr.scheduler.gamma) == ("step", 200_000, 0.5)
    assert (gan.name, gan.type, gan.iters) == ("gan", "adversarial", 400_000)
    losses = {x.name: x for x in gan.losses}
    assert losses["l1"].weight == 0.01 and losses["perceptual"].weight == 1.0
    assert losses["perceptual"].kwargs["layer_weights"] == {"conv5_4": 1.0}
    assert losses["perceptual"].kwargs["vgg_type"] == "vgg19"
    assert (gan.gan_loss.name, gan.gan_loss.weight) == ("ragan", 0.005)
    for opt in (gan.optimizer, gan.d_optimizer):
        assert (opt.name, opt.lr, opt.betas) == ("adam", 1e-4, (0.9, 0.99))
    for sched in (gan.scheduler, gan.d_scheduler):
        assert (sched.name, sched.milestones, sched.gamma) == (
            "multistep",
            [50_000, 100_000, 200_000, 300_000],
            0.5,
        )
    assert r.train.ema_decay == 0.999


@pytest.mark.parametrize(
    ("name", "patches", "blocks", "train_sets"),
    [
        ("esrgan_seed_p128", (128, 128), 23, ["div2k"]),
        ("esrgan_seed_p192to128_bsds", (192, 128), 23, ["div2k", "bsds500"]),
        ("esrgan_seed_p192", (192, 192), 23, ["div2k"]),
        ("esrgan_seed_p192to128_b16_bsds", (192, 128), 16, ["div2k", "bsds500"]),
    ],
)
def test_seed_runs_differ_from_the_paper_only_where_they_should(
    name: str, patches: tuple[int, int], blocks: int, train_sets: list[str]
) -> None:
    seed, paper = load_recipe(name), load_recipe("esrgan_x4")
    assert tuple(p.patch_size for p in seed.phases) == patches
    assert seed.generator.kwargs["num_blocks"] == blocks
    assert [d.name for d in seed.data.train] == train_sets
    assert (seed.data.augment.jpeg_prob, seed.data.augment.dropout_prob) == (0.25, 0.25)
    for mine, theirs in zip(seed.phases, paper.phases):
        assert (mine.losses, mine.gan_loss, mine.optimizer, mine.scheduler, mine.iters) == (
            theirs.losses,
            theirs.gan_loss,
            theirs.optimizer,
            theirs.scheduler,
            theirs.iters,
        )


def test_tiny_recipe_is_small_and_short() -> None:
    r = load_recipe("esrgan_tiny_x4")
    generator = build_arch(r.generator.arch, scale=r.scale, **r.generator.kwargs)
    assert count_parameters(generator) < 500_000
    assert [p.type for p in r.phases] == ["supervised", "adversarial"]
    assert sum(p.iters for p in r.phases) <= 5000
    assert [d.name for d in r.data.train] == ["t91", "bsds200"]
