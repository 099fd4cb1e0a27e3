"""Strict recipes: typed coercion, unknown keys with suggestions, dotted overrides, `base` merging."""

from __future__ import annotations

from pathlib import Path

import pytest

from srzoo.errors import ConfigError
from srzoo.recipes.loader import apply_overrides, merge
from srzoo.recipes.schema import Recipe, load_recipe

MINIMAL = """
name: mini
scale: 4
generator: {arch: bicubic}
phases:
  - name: psnr
    type: supervised
    iters: 1e3
    optimizer: {lr: 2e-4, betas: [0.9, 0.99]}
train:
  mixed_precision: no
  grad_clip: 0.5
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_yaml_quirks_are_coerced_to_declared_types(tmp_path: Path) -> None:
    recipe = load_recipe(write(tmp_path, "mini.yaml", MINIMAL))
    assert isinstance(recipe, Recipe)
    phase = recipe.phases[0]
    assert phase.iters == 1000 and isinstance(phase.iters, int)  # "1e3" is a string to PyYAML
    assert phase.optimizer.lr == pytest.approx(2e-4)  # so is "2e-4"
    assert phase.optimizer.betas == (0.9, 0.99)
    assert recipe.train.mixed_precision == "no"  # YAML 1.1 reads `no` as False


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("phases.0.optimizr.lr=1", "unknown key 'phases.0.optimizr' — did you mean 'optimizer'"),
        (
            "train.mixed_precision=fp61",
            "train.mixed_precision: 'fp61' is not one of 'no', 'fp16', 'bf16' — did you mean 'fp16'",
        ),
        ("phases.0.iters=many", "phases.0.iters: expected an integer, got 'many'"),
        ("phases.3.iters=1", "phases.3 is not an index of a 1-item list"),
        ("scale", "must look like key.sub=value"),
        ("sede=1", "unknown key 'sede' — did you mean 'seed'"),
    ],
)
def test_bad_keys_and_values_are_one_line_errors(tmp_path: Path, override: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_recipe(write(tmp_path, "mini.yaml", MINIMAL), [override])
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_overrides_reach_nested_lists_and_parse_yaml_values(tmp_path: Path) -> None:
    recipe = load_recipe(
        write(tmp_path, "mini.yaml", MINIMAL),
        ["phases.0.iters=10", "phases.0.scheduler.milestones=[5, 8]", "train.grad_clip=null", "seed=7"],
    )
    assert recipe.phases[0].iters == 10
    assert recipe.phases[0].scheduler.milestones == [5, 8]
    assert recipe.train.grad_clip is None
    assert recipe.seed == 7


def test_missing_required_key_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="missing required key 'phases.0.iters'"):
        load_recipe(
            write(tmp_path, "bad.yaml", "name: x\ngenerator: {arch: bicubic}\nphases: [{name: a, type: s}]\n")
        )


def test_invalid_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.yaml", "name: x\nphases: [\n  - oops: : :\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml:\d+: invalid YAML"):
        load_recipe(path)


def test_base_merges_named_lists_by_name(tmp_path: Path) -> None:
    write(tmp_path, "parent.yaml", MINIMAL)
    child = write(
        tmp_path,
        "child.yaml",
        "base: parent.yaml\nname: child\nphases:\n  - {name: psnr, patch_size: 192}\n  - {name: gan, type: adversarial, iters: 5}\n",
    )
    recipe = load_recipe(child)
    assert recipe.name == "child"
    assert [p.name for p in recipe.phases] == ["psnr", "gan"]
    assert recipe.phases[0].patch_size == 192
    assert recipe.phases[0].iters == 1000  # inherited
    assert recipe.phases[0].optimizer.lr == pytest.approx(2e-4)


def test_base_cycle_is_detected(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "base: b.yaml\nname: a\n")
    write(tmp_path, "b.yaml", "base: a.yaml\nname: b\n")
    with pytest.raises(ConfigError, match="recipe base cycle"):
        load_recipe(tmp_path / "a.yaml")


def test_recipe_by_registered_name_and_unknown_name() -> None:
    assert load_recipe("toy_x4").name == "toy_x4"  # registered by the test-only toy plugin
    with pytest.raises(Exception, match="unknown recipe 'toy_x5' — did you mean 'toy_x4'"):
        load_recipe("toy_x5")


def test_requires_names_the_missing_plugin_in_one_line(tmp_path: Path) -> None:
    needs = write(tmp_path, "needs.yaml", "requires: [srzoo-toy, srzoo-no-such-plugin]\n" + MINIMAL)
    with pytest.raises(ConfigError) as info:
        load_recipe(needs)
    message = str(info.value)
    assert message == (
        "recipe needs.yaml needs the plugin srzoo-no-such-plugin, which is not installed: "
        "pip install srzoo-no-such-plugin"
    )
    two = write(tmp_path, "two.yaml", "requires: [srzoo-no-such-plugin, srzoo-nor-this]\n" + MINIMAL)
    with pytest.raises(ConfigError) as info:
        load_recipe(two)
    assert str(info.value) == (
        "recipe two.yaml needs the plugins srzoo-no-such-plugin, srzoo-nor-this, which are not installed: "
        "pip install srzoo-no-such-plugin srzoo-nor-this"
    )
    # an installed distribution (the toy plugin) satisfies it, as a bare string too
    assert load_recipe(write(tmp_path, "ok.yaml", "requires: [srzoo-toy]\n" + MINIMAL)).name == "mini"
    assert load_recipe(write(tmp_path, "one.yaml", "requires: srzoo-toy\n" + MINIMAL)).name == "mini"
    with pytest.raises(ConfigError, match="`requires` must be a list of distribution names"):
        load_recipe(write(tmp_path, "bad.yaml", "requires: {srzoo-toy: 1}\n" + MINIMAL))


def test_cli_train_says_which_plugin_to_install(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from srzoo.cli import main

    needs = write(tmp_path, "needs.yaml", "requires: [srzoo-no-such-plugin]\n" + MINIMAL)
    assert main(["train", str(needs), "--output-dir", str(tmp_path / "run")]) != 0
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "pip install srzoo-no-such-plugin" in captured.err
    assert "Traceback" not in captured.err + captured.out and not (tmp_path / "run").exists()


def test_merge_replaces_plain_lists_and_keeps_base_untouched() -> None:
    base = {"a": [1, 2], "b": {"c": 1, "d": 2}}
    merged = merge(base, {"a": [3], "b": {"c": 5}})
    assert merged == {"a": [3], "b": {"c": 5, "d": 2}}
    assert base == {"a": [1, 2], "b": {"c": 1, "d": 2}}
    assert apply_overrides(base, ["b.e=x"])["b"]["e"] == "x" and "e" not in base["b"]
