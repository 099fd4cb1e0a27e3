"""Training spandrel archs with srzoo: the shipped recipes validate and build at full size; a tiny SPAN recipe
trains both phases, resumes, and its weights load in spandrel with the same output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from srzoo import RECIPES, ConfigError, build_arch, load_model, load_recipe
from srzoo.inference.export import export_model  # what `srzoo export` runs
from srzoo.testing.pytest_plugin import shared_data  # noqa: F401  (also without srzoo's pytest11 plugin)
from srzoo.train.loop import train
from srzoo.train.options import TrainOptions

PLUGIN_RECIPES = Path(__file__).resolve().parents[1] / "srzoo_spandrel" / "recipes"
REGISTRY = Path(__file__).resolve().parents[3] / "registry"  # the repository's recipe folder (by path)
FILES = sorted(PLUGIN_RECIPES.glob("*.yaml"))
TOLERANCE = 1e-5  # CPU fp32, stated before measuring (as in test_spandrel_roundtrip.py)

# (arch, trainable parameters, all parameters) of each recipe's generator at its real size. SwinIR-light x4 is
# the paper's 897K plus its 24 relative-position tables (225 offsets x 6 heads each), which the paper does not
# count; SPAN's extra parameters are the re-parameterised eval convs, derived from the trained ones.
SIZES = {
    "swinir_light_x4": ("swinir", 929_628, 929_628),
    "span_x4": ("span", 1_840_488, 2_236_728),
    "omnisr_x4": ("omnisr", 805_376, 805_376),
    "swinir_tiny_x4": ("swinir", 48_996, 48_996),
    "span_tiny_x4": ("span", 211_624, 256_152),
    "omnisr_tiny_x4": ("omnisr", 27_536, 27_536),
}


def test_every_recipe_file_is_registered_and_the_full_ones_are_in_registry() -> None:
    assert {p.stem for p in FILES} == set(SIZES)
    assert {n for n in RECIPES.names() if RECIPES.entry(n).dist == "srzoo-spandrel"} == set(SIZES)
    for path in FILES:
        assert load_recipe(path).name == path.stem
        if "_tiny_" not in path.stem:
            assert load_recipe(REGISTRY / path.name) == load_recipe(path)  # registry/ reaches it by path


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_recipe_validates_and_builds_its_generator_at_real_size(path: Path) -> None:
    recipe = load_recipe(path.stem)  # strict: an unknown key anywhere would raise here
    assert recipe == load_recipe(path)
    arch, trainable, total = SIZES[path.stem]
    assert (recipe.generator.arch, recipe.scale) == (arch, 4)
    assert [(p.name, p.type) for p in recipe.phases] == [("psnr", "supervised"), ("gan", "adversarial")]
    gan = recipe.phases[1]
    assert (gan.gan_loss.name, gan.gan_loss.weight) == ("ragan", 0.005)
    assert [(x.name, x.weight) for x in gan.losses] == [("l1", 0.01), ("perceptual", 1.0)]
    net = build_arch(arch, scale=recipe.scale, **recipe.generator.kwargs)
    assert sum(p.numel() for p in net.parameters() if p.requires_grad) == trainable
    assert sum(p.numel() for p in net.parameters()) == total
    side = recipe.phases[0].patch_size // recipe.scale
    with torch.no_grad():
        assert net.eval()(torch.rand(1, 3, side, side)).shape == (1, 3, side * 4, side * 4)


def test_swinir_light_is_the_papers_network() -> None:
    kwargs = load_recipe("swinir_light_x4").generator.kwargs
    assert {k: kwargs[k] for k in ("embed_dim", "depths", "num_heads", "window_size", "mlp_ratio")} == {
        "embed_dim": 60,
        "depths": [6, 6, 6, 6],
        "num_heads": [6, 6, 6, 6],
        "window_size": 8,
        "mlp_ratio": 2.0,
    }
    assert (kwargs["upsampler"], kwargs["img_size"]) == ("pixelshuffledirect", 64)


def test_misspelt_generator_kwarg_is_an_error_with_a_suggestion() -> None:
    recipe = load_recipe("span_tiny_x4", ["generator.kwargs={feature_channel: 8}"])
    with pytest.raises(ConfigError, match="feature_channels"):
        build_arch(recipe.generator.arch, scale=recipe.scale, **recipe.generator.kwargs)
    with pytest.raises(ConfigError):
        load_recipe("span_tiny_x4", ["phases.0.iterz=3"])


def test_tiny_span_trains_both_phases_resumes_and_loads_in_spandrel(
    shared_data: Path,  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
) -> None:
    from spandrel import ModelLoader

    overrides = [
        f"data.root={shared_data}",
        "data.patch_size=32",  # HR; LR 8 x 8 (SPAN has no size requirement)
        "data.batch_size=2",
        "data.num_workers=0",
        "data.val_max_images=1",
        "data.val_center_crop=64",
        "phases.0.iters=3",
        "phases.1.iters=2",
        "phases.1.batch_size=2",
        "phases.1.losses.1.kwargs.layer_weights={conv2_2: 1.0}",  # a shallow VGG: seconds, not a minute
        "phases.1.losses.1.kwargs.weights=none",  # ImageNet VGG19 cannot be downloaded in tests
        "train.trackers=[]",
        "train.checkpoint_interval=2",
    ]
    recipe = load_recipe("span_tiny_x4", overrides)
    out = tmp_path / "run"
    first = train(recipe, TrainOptions(output_dir=out, max_steps=4))  # 3 psnr steps, then 1 of 2 gan steps
    assert (first.status, first.global_step) == ("max_steps", 4)
    assert (out / "psnr.safetensors").is_file() and not (out / "gan.safetensors").exists()
    second = train(recipe, TrainOptions(output_dir=out, resume="auto"))
    assert (second.status, second.global_step) == ("complete", 5)
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = sorted({r["step"] for r in records if r.get("phase") == "gan" and "train/g/adv" in r})
    assert steps == [4, 5]  # the resumed run continued at step 5, it did not restart the phase

    # srzoo's plain model (its own ops, clamped to [0, 1]): the weights are what is compared here. The fused fast
    # path is compared with spandrel on random nets in test_spandrel_roundtrip.py.
    model = load_model(out / "gan.safetensors", fast=False)
    exported = tmp_path / "span_x4.safetensors"
    export_model(model, exported, "safetensors")  # as `srzoo export` does
    x = torch.rand(1, 3, 20, 24, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        ours = model(x)
    assert ours.shape == (1, 3, 80, 96)
    trained = load_file(str(out / "gan.safetensors"))
    # the run's own file and the export both load in spandrel
    for path in (out / "gan.safetensors", exported):
        desc = ModelLoader(device="cpu").load_from_file(path)
        assert (desc.architecture.id, desc.scale) == ("SPAN", 4)
        theirs_state = desc.model.state_dict()
        assert all(torch.equal(theirs_state[k], v) for k, v in trained.items() if "eval_conv" not in k)
        desc.model.eval()
        with torch.inference_mode():
            theirs = desc(x)
        assert float((ours - theirs).abs().max()) <= TOLERANCE
    psnr = load_file(str(out / "psnr.safetensors"))
    assert any(not torch.equal(psnr[k], trained[k]) for k in trained)  # the GAN phase moved the generator
