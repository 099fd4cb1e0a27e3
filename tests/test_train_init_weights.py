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
    built = AdversarialPhase._build_discriminator(spec, recipe, [])
    for key, value in d.state_dict().items():
        assert torch.equal(built.state_dict()[key], value), key


def test_weights_strict_false_loads_what_fits_and_names_the_rest(recipe_file: Path, tmp_path: Path) -> None:
    from srzoo.framework.build import build_arch

    own = build_arch(TOY_ARCH, scale=4, **TOY_TINY).state_dict()
    torch.manual_seed(1)
    sd = {k: v + torch.randn_like(v) for k, v in own.items()}
    first = next(k for k, v in sd.items() if v.ndim == 4)
    sd[first] = torch.zeros(1, *sd[first].shape[1:])  # another shape, as an x2 RRDBNet's conv_first vs x4's
    sd["extra.weight"] = torch.zeros(3)
    torch.save({"params": sd}, path := tmp_path / "partial.pth")  # a foreign file: BasicSR's container key
    with pytest.raises(SrzooError) as err:  # strict, the default: one line naming what does not fit
        run(recipe_file, tmp_path / "strict", ONE_PHASE % (1, "1.0e-12"), f"generator.weights={path}")
    assert "shape mismatch" in str(err.value) and first in str(err.value) and "\n" not in str(err.value)

    out = tmp_path / "partial"
    overrides = (ONE_PHASE % (1, "1.0e-12"), f"generator.weights={path}", "generator.weights_strict=false")
    assert run(recipe_file, out, *overrides).status == "complete"
    got = load_file(str(out / "last.safetensors"))
    assert got.keys() == own.keys() and got[first].shape == own[first].shape
    assert max(float((got[k] - sd[k]).abs().max()) for k in own if k != first) < 1e-9  # the rest: the file's
    log = (out / "train.log").read_text()
    note = next(line for line in log.splitlines() if "weights_strict: false" in line)
    assert f"loaded {len(own) - 1} of {len(own)} tensors" in note and first in note and "extra.weight" in note

    # an srzoo export of another scale: refused when strict (with the way out), loaded in part when not
    x2 = save_weights(tmp_path / "x2.safetensors", own, arch=TOY_ARCH, kwargs=dict(TOY_TINY), scale=2)
    with pytest.raises(SrzooError, match=r"are x2, but the recipe trains x4 \(set generator.weights_strict"):
        run(recipe_file, tmp_path / "x2strict", ONE_PHASE % (1, "1.0e-12"), f"generator.weights={x2}")
    overrides = (ONE_PHASE % (1, "1.0e-12"), f"generator.weights={x2}", "generator.weights_strict=false")
    assert run(recipe_file, tmp_path / "x2partial", *overrides).status == "complete"

    unrelated = tmp_path / "unrelated.pth"
    torch.save({"params": {"x": torch.zeros(2)}}, unrelated)
    with pytest.raises(SrzooError, match="no tensor fits the recipe's generator"):
        run(recipe_file, tmp_path / "none", ONE_PHASE % (1, "1.0e-3"), f"generator.weights={unrelated}",
            "generator.weights_strict=false")  # fmt: skip
    with pytest.raises(SrzooError, match="weights_strict: false needs `weights`"):
        load_recipe(recipe_file, ["generator.weights_strict=false"])


def test_a_discriminator_loaded_in_part_says_so(recipe_file: Path, tmp_path: Path) -> None:
    recipe = load_recipe(recipe_file)
    spec = next(p for p in recipe.phases if p.type == "adversarial")
    sd = build_discriminator("toy_discriminator", num_feat=4, input_size=spec.patch_size).state_dict()
    first = next(iter(sd))
    sd[first] = torch.zeros(2)
    torch.save(sd, path := tmp_path / "d.pth")
    recipe = load_recipe(recipe_file, [f"discriminator.weights={path}", "discriminator.weights_strict=false"])
    notes: list[str] = []
    AdversarialPhase._build_discriminator(spec, recipe, notes)
    assert len(notes) == 1 and notes[0].startswith(f"note: discriminator.weights {path}: loaded")
    assert first in notes[0]
