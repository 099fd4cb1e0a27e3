"""`srzoo demo` end to end in a handful of steps (the toy plugin's recipe): images, both phases, table, figure,
overwrite rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from srzoo.demo import HOLDOUT_IMAGES, TRAIN_IMAGES, prepare_output
from srzoo.errors import InputError

pytest.importorskip("skimage")


@pytest.mark.slow
def test_demo_runs_end_to_end_with_few_steps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from srzoo.cli import main

    out = tmp_path / "demo"
    tiny = "generator.kwargs={num_feat: 8, num_grow: 4, num_blocks: 1}"
    args = ["demo", "--recipe", "toy_x4", "--output-dir", str(out), "--steps-scale", "0.005", tiny,
            "data.batch_size=4", "phases.1.batch_size=2"]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "| bicubic |" in printed and "| toy_x4 psnr |" in printed and "| toy_x4 gan |" in printed
    assert sorted(p.stem for p in (out / "images" / "train").iterdir()) == sorted(TRAIN_IMAGES)
    assert sorted(p.stem for p in (out / "images" / "holdout").iterdir()) == sorted(HOLDOUT_IMAGES)
    for name in (
        "comparison.png",
        "results.md",
        "results.json",
        "run/psnr.safetensors",
        "run/gan.safetensors",
    ):
        assert (out / name).is_file(), name
    summary = json.loads((out / "demo.json").read_text())
    bicubic = summary["scores"]["bicubic"]["psnr"]
    assert 20 < bicubic < 40  # bicubic x4 on these photos: about 28.5 dB
    results = json.loads((out / "results.json").read_text())["results"]
    assert {r["model"] for r in results} == {"bicubic", "toy_x4 psnr", "toy_x4 gan"}
    assert all(r["n_images"] == len(HOLDOUT_IMAGES) for r in results)
    from srzoo.recipes.schema import load_recipe

    expected = [max(1, round(p.iters * 0.005)) for p in load_recipe("toy_x4").phases]
    assert summary["iterations"] == dict(zip(["psnr", "gan"], expected))
    assert load_recipe(out / "run" / "recipe.yaml").phases[0].iters == expected[0]
    with pytest.raises(InputError, match="exists and is not empty; pass --overwrite"):
        prepare_output(out, overwrite=False)


def test_overwrite_only_replaces_a_demo_folder(tmp_path: Path) -> None:
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(InputError, match="was not made by `srzoo demo`"):
        prepare_output(foreign, overwrite=True)
    assert (foreign / "thesis.tex").read_text() == "precious"
    demo = tmp_path / "demo"
    prepare_output(demo, overwrite=False)
    (demo / "old.png").write_text("x")
    prepare_output(demo, overwrite=True)
    assert not (demo / "old.png").exists() and (demo / ".srzoo-demo").is_file()


def test_without_a_demo_recipe_it_says_what_to_install(tmp_path: Path) -> None:
    """No plugin registers a recipe tagged `demo` (plugins disabled): one line naming what to do, nothing written."""
    from tests.plugin_factory import run_cli

    out = tmp_path / "demo"
    done = run_cli(["demo", "--output-dir", str(out)], env={"SRZOO_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "no installed plugin registers one: install a model plugin" in done.stderr
    assert "or pass --recipe NAME" in done.stderr and not out.exists()
