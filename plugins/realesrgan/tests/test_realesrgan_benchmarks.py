"""benchmarks/train_quality_real.py's summary: per-image gains over each baseline and the table that shows them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "benchmarks"  # the checkout's benchmark scripts
sys.path.insert(0, str(BENCH))

import train_quality_real as tqr  # noqa: E402  (benchmarks/ is a folder of scripts, not a package)


def _scores(psnr: dict[str, float]) -> dict:
    return {"psnr": sum(psnr.values()) / len(psnr), "ssim": 0.5, "images": psnr}


def test_per_image_gains_and_their_table() -> None:
    results = {
        "bicubic": {"set5": _scores({"a": 20.0, "b": 25.0, "c": 30.0}), "bsd100": _scores({"x": 22.0, "y": 23.0})},
        "bicubic-trained": {"set5": _scores({"a": 20.5, "b": 25.0, "c": 29.0}), "bsd100": _scores({"x": 22.0, "y": 22.0})},
        "real-world psnr": {"set5": _scores({"a": 21.0, "b": 24.5, "c": 30.25}), "bsd100": _scores({"x": 23.0, "y": 23.5})},
    }  # fmt: skip
    gains = tqr.per_image_gains(results, "real-world psnr", "bicubic")
    assert gains["set5"] == {"min": -0.5, "median": 0.25, "max": 1.0, "below": 1, "images": 3}
    assert gains["bsd100"] == {"min": 0.5, "median": 0.75, "max": 1.0, "below": 0, "images": 2}
    over_trained = tqr.per_image_gains(results, "real-world psnr", "bicubic-trained")
    assert over_trained["set5"] == {"min": -0.5, "median": 0.5, "max": 1.25, "below": 1, "images": 3}
    summary = {
        "budget_minutes": 15.0, "results": results, "targets": [], "iterations": {"psnr": 10},
        "step_seconds": [0.5], "threads": 1, "bicubic_model": "m.safetensors", "machine": "test",
        "timing": {"total_minutes": 1.0, "train_minutes": 0.5}, "notes": [],
        "per_image_gains": {"bicubic": gains, "bicubic-trained": over_trained},
        "recipe": "realesrgan_tiny_x4", "init": "m.safetensors",
    }  # fmt: skip
    text = tqr.markdown(summary)
    assert "| bicubic | set5 | -0.50 | +0.25 | +1.00 | 1 of 3 |" in text
    assert "| bicubic-trained | bsd100 | +1.00 | +1.25 | +1.50 | 0 of 2 |" in text
    with pytest.raises(KeyError):  # a set the bench did not score is an error, not a silent gap
        tqr.per_image_gains({"bicubic": {}, "real-world psnr": {}}, "real-world psnr", "bicubic")


def test_a_variant_run_is_named_and_checked_before_it_trains() -> None:
    args = tqr.parse(["--set", "data.batch_size=8", "--set", "phases.0.optimizer.lr=1e-3", "--tag", "b8"])
    assert args.variant == ["data.batch_size=8", "phases.0.optimizer.lr=1e-3"]
    assert tqr.results_stem(args.tag) == "train_quality_real_b8"
    assert args.output_dir.name == "train_quality_real_b8"  # never the recipe's own run directory
    own = tqr.parse([])
    assert (tqr.results_stem(own.tag), own.output_dir.name) == ("train_quality_real", "train_quality_real")
    for bad in (
        ["--set", "data.batch_size=8"],  # a variant must not overwrite the recipe's results
        ["--set", "data.batch_size", "--tag", "b8"],  # not KEY=VALUE
        ["--tag", "../b8"],  # names files
        ["--from-scratch"],  # a variant too: it needs its own name
    ):
        with pytest.raises(SystemExit) as exit_:
            tqr.parse(bad)
        assert exit_.value.code == 2


def test_a_variant_table_names_its_overrides_and_shows_no_figures() -> None:
    scores = {"set5": _scores({"a": 20.0}), "bsd100": _scores({"x": 22.0})}
    summary = {
        "budget_minutes": 15.0, "results": {"bicubic": scores}, "targets": [], "iterations": {"psnr": 10},
        "step_seconds": [0.5], "threads": 1, "bicubic_model": "m.safetensors", "machine": "test",
        "timing": {"total_minutes": 1.0, "train_minutes": 0.5}, "notes": [], "per_image_gains": {},
        "recipe": "realesrgan_tiny_x4", "init": "m.safetensors",
    }  # fmt: skip
    own = tqr.markdown(summary)
    assert own.startswith("# Real-world training quality: realesrgan_tiny_x4 in 15 minutes")
    assert "train_quality_real_comparison.png" in own
    variant = tqr.markdown(summary | {"variant": ["data.batch_size=8"], "tag": "b8"})
    assert variant.startswith(
        "# Real-world training quality: realesrgan_tiny_x4 with `data.batch_size=8` (run `b8`) in 15 minutes"
    )
    assert ".png" not in variant
    rerun = tqr.markdown(summary | {"variant": [], "tag": "pinned"})  # the recipe as is, as a named run
    assert rerun.startswith("# Real-world training quality: realesrgan_tiny_x4 (run `pinned`) in 15 minutes")
    assert ".png" not in rerun  # it writes no figures, so it links none
    assert "starts from it (`generator.weights`" in own and "own initialisation" not in own
    scratch = tqr.markdown(
        summary
        | {"variant": ["generator.arch=srvgg_compact"], "tag": "c", "from_scratch": True, "init": None}
    )
    assert "trains from the arch's own initialisation." in scratch
    assert "starts from it" not in scratch
    assert tqr.parse(["--from-scratch", "--tag", "scratch"]).from_scratch


def test_reference_rows_join_the_tiny_models_only_on_the_same_inputs(tmp_path: Path) -> None:
    import json

    import real_world_reference as ref

    args = ref.parse(["--model", "x4plus=a.pth", "--model", "net=b.pth"])
    assert args.models == {"x4plus": "a.pth", "net": "b.pth"}
    for bad in (["--model", "a.pth"], ["--model", "x=a", "--model", "x=b"], ["--model", "bicubic=a"]):
        with pytest.raises(SystemExit) as exit_info:
            ref.parse(bad)
        assert exit_info.value.code == 2

    bicubic = {"set5": {"psnr": 23.27, "ssim": 0.6}, "bsd100": {"psnr": 22.71, "ssim": 0.5}}
    saved = {
        "bicubic": bicubic,
        "real-world psnr": {s: {"psnr": 24.0, "ssim": 0.7, "images": {}} for s in bicubic},
    }
    (tiny := tmp_path / "train_quality_real.json").write_text(json.dumps({"results": saved}))
    rows, note = ref.tiny_rows(tiny, bicubic)
    assert (
        rows == {"real-world psnr": {s: {"psnr": 24.0, "ssim": 0.7} for s in bicubic}}
        and "the same inputs" in note
    )
    other = {**bicubic, "bsd100": {"psnr": 22.71 + 1e-6, "ssim": 0.5}}  # one LR file differs somewhere
    rows, note = ref.tiny_rows(tiny, other)
    assert rows == {} and "other inputs" in note
    rows, note = ref.tiny_rows(tmp_path / "missing.json", bicubic)
    assert rows == {} and "missing" in note

    results = {
        "bicubic": {s: {**v, "niqe": 7.5, "seconds_per_image": 0.01} for s, v in bicubic.items()},
        "x4plus": {s: {"psnr": 22.5, "ssim": 0.65, "niqe": 4.25, "seconds_per_image": 1.5} for s in bicubic},
    }
    rows, note = ref.tiny_rows(tiny, bicubic)
    summary = {
        "results": results,
        "tiny": rows,
        "tiny_note": note,
        "models": {},
        "minutes": 1.0,
        "machine": "m",
    }
    text = ref.markdown(summary)
    assert "| x4plus | 22.50 | 0.6500 | 4.25 | 22.50 | 0.6500 | 4.25 | 1.50 |" in text
    assert "| real-world psnr * | 24.00 | 0.7000 | — | 24.00 | 0.7000 | — | — |" in text


def test_reference_self_ensemble_adds_a_plus_row_per_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np
    import real_world_reference as ref
    import torch
    from PIL import Image

    from srzoo.framework.build import build_arch
    from srzoo.framework.weights import save_weights

    monkeypatch.setattr(ref, "METRICS", ("psnr", "ssim"))  # NIQE needs larger images than these
    rng = np.random.default_rng(0)
    sets = {}
    for name in ("set5", "bsd100"):
        folder = tmp_path / f"{name}_folder"
        folder.mkdir()
        for i in range(2):
            img = rng.integers(0, 256, (12, 10, 3)).astype(np.uint8).repeat(4, 0).repeat(4, 1)
            Image.fromarray(img).save(folder / f"{i}.png")
        sets[name] = folder
    torch.manual_seed(0)
    kwargs = {"num_feat": 8, "num_grow": 4, "num_blocks": 1}
    net = build_arch("rrdbnet", scale=4, **kwargs)
    with torch.no_grad():  # an output around mid-grey that depends on the input, not one clamped flat
        net.conv_last.weight.mul_(0.1)
        net.conv_last.bias.fill_(0.5)
    save_weights(
        weights := tmp_path / "net.safetensors", net.state_dict(), arch="rrdbnet", kwargs=kwargs, scale=4
    )
    table, cards, _ = ref.bench({"net": str(weights)}, sets, self_ensemble=True)
    assert list(table) == ["bicubic", "net", "net+"] and list(cards) == ["net"]
    for name in sets:
        assert table["net+"][name]["psnr"] != table["net"][name]["psnr"]  # the 8-way mean is another output
    args = ref.parse(["--model", "net=net.safetensors", "--self-ensemble", "--tag", "x8"])
    assert args.self_ensemble and args.tag == "x8"
    summary = {"results": table, "tiny": {}, "tiny_note": "none", "models": cards, "minutes": 1.0, "machine": "m",
               "self_ensemble": True}  # fmt: skip
    assert "Rows marked + are the model's mean output over the 8 flips/rotations" in ref.markdown(summary)


def test_the_table_says_where_a_run_started() -> None:
    base = {
        "budget_minutes": 15.0, "results": {}, "targets": [], "iterations": {"psnr": 10}, "step_seconds": [0.5],
        "threads": 1, "bicubic_model": "m.safetensors", "machine": "test", "per_image_gains": {}, "notes": [],
        "timing": {"total_minutes": 1.0, "train_minutes": 0.5}, "tag": "t", "recipe": "r", "variant": [],
    }  # fmt: skip
    started = {
        "m.safetensors": "starts from it (`generator.weights`, as Real-ESRNet starts from ESRGAN)",
        None: "trains from the arch's own initialisation.",
        "x4plus.pth": "starts from `x4plus.pth` (`generator.weights`)",
    }
    for init, sentence in started.items():
        text = tqr.markdown(base | {"init": init})
        assert sentence in text and sum(s in text for s in started.values()) == 1, init


def test_the_benchmark_recipe_and_where_each_starts() -> None:
    own = tqr.parse([])
    assert own.recipe == "realesrnet_x4plus_cpu" and tqr.starting_weights(own) is None  # the recipe's zoo tag
    tiny = tqr.parse(["--recipe", "realesrgan_tiny_x4", "--tag", "tiny"])
    assert tqr.starting_weights(tiny) == tiny.bicubic_model
    scratch = tqr.parse(["--recipe", "realesrgan_tiny_x4", "--tag", "s", "--from-scratch"])
    assert tqr.starting_weights(scratch) is None
    local = tqr.parse(["--init", "x4plus.pth"])  # a local copy of the recipe's own weights: not a variant
    assert tqr.starting_weights(local) == Path("x4plus.pth") and local.tag is None
    with pytest.raises(SystemExit) as exit_:
        tqr.parse(
            ["--recipe", "realesrgan_tiny_x4"]
        )  # another recipe must not replace the benchmark's results
    assert exit_.value.code == 2


def test_the_first_phase_gets_most_of_the_time() -> None:
    assert tqr.phase_shares(1) == (1.0,)
    assert tqr.phase_shares(2) == pytest.approx((0.9, 0.1))
    three = tqr.phase_shares(3)
    assert three == pytest.approx((0.9, 0.05, 0.05)) and sum(three) == pytest.approx(1.0)
