"""`srzoo multiscale`: Real-ESRGAN's DF2K_multiscale copies (sizes, Lanczos pixels, names), and refusals that
keep the source safe (also for `srzoo degrade` on a folder)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srzoo.cli import main
from srzoo.data.multiscale import copy_sizes, write_multiscale
from srzoo.errors import ConfigError, DataError


def test_copy_sizes_are_the_scripts() -> None:
    """generate_multiscale_DF2K.py on a 2040x1356 DIV2K image: int(side * s) for 0.75, 0.5, 1/3, then the
    copy whose shorter side is 400 (the longer int(400 * 2040 / 1356)); a portrait image turns it round."""
    assert copy_sizes(2040, 1356, (0.75, 0.5, 1 / 3), 400) == [
        (1530, 1017),
        (1020, 678),
        (680, 452),
        (601, 400),
    ]
    assert copy_sizes(1356, 2040, (), 400) == [(400, 601)]
    assert copy_sizes(1000, 800, (0.5,), 0) == [(500, 400)]


def _images(folder: Path) -> Path:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (60, 90, 3)).astype(np.uint8)).save(folder / "wide.png")
    Image.fromarray(rng.integers(0, 65536, (80, 40)).astype(np.uint16)).save(
        folder / "deep.png"
    )  # 16-bit grey
    Image.fromarray(rng.integers(0, 256, (30, 30, 3)).astype(np.uint8)).convert("P").save(folder / "pal.png")
    return folder


def test_copies_are_pil_lanczos_with_the_scripts_names(tmp_path: Path) -> None:
    src = _images(tmp_path / "hr")
    before = {p.name: p.read_bytes() for p in src.iterdir()}
    made = write_multiscale(src, tmp_path / "ms", factors=(0.75, 0.5, 1 / 3), short_side=20)
    assert (made.images, made.copies, made.skipped) == (3, 12, [])
    wide = Image.open(src / "wide.png")
    for i, size in enumerate([(67, 45), (45, 30), (30, 20), (30, 20)]):  # 90x60: x0.75, x0.5, x1/3, short 20
        got = Image.open(tmp_path / "ms" / f"wideT{i}.png")
        assert got.size == size and got.mode == "RGB"
        assert np.array_equal(np.asarray(got), np.asarray(wide.resize(size, resample=Image.LANCZOS)))
    deep = Image.open(tmp_path / "ms" / "deepT1.png")
    assert deep.size == (20, 40) and np.asarray(deep).max() > 255  # 16 bits stay 16 bits
    assert Image.open(tmp_path / "ms" / "palT0.png").mode == "RGB"  # palette indices are not resampled
    manifest = json.loads((tmp_path / "ms" / "multiscale.json").read_text())
    assert (
        manifest["factors"] == [0.75, 0.5, 1 / 3]
        and manifest["short_side"] == 20
        and manifest["copies"] == 12
    )
    assert {p.name: p.read_bytes() for p in src.iterdir()} == before  # the source is untouched


def test_a_copy_under_one_pixel_is_skipped_and_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    src = tmp_path / "hr"
    src.mkdir()
    Image.new("RGB", (2, 5)).save(src / "tiny.png")
    made = write_multiscale(src, tmp_path / "ms", factors=(0.5, 1 / 3), short_side=0)
    assert made.copies == 1 and made.skipped == ["tiny.png T1 (0x1)"]
    assert "tiny.png T1 (0x1)" in caplog.text


def test_refusals_keep_the_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _images(tmp_path / "hr")
    with pytest.raises(ConfigError, match="is the source .* or holds it"):
        write_multiscale(src, src, overwrite=True)
    with pytest.raises(ConfigError, match="is the source .* or holds it"):
        write_multiscale(src, tmp_path, overwrite=True)
    (tmp_path / "taken").mkdir()
    with pytest.raises(ConfigError, match="exists; pass --overwrite"):
        write_multiscale(src, tmp_path / "taken")
    with pytest.raises(ConfigError, match="between 0 and 1"):
        write_multiscale(src, tmp_path / "x", factors=(1.5,))
    with pytest.raises(ConfigError, match="no copies to make"):
        write_multiscale(src, tmp_path / "x", factors=(), short_side=0)
    (empty := tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images in"):
        write_multiscale(empty, tmp_path / "x")
    Image.new("RGB", (8, 8)).save(src / "wide.jpg")  # wide.png and wide.jpg would both write wideT0.png
    with pytest.raises(DataError, match="share the name 'wide'"):
        write_multiscale(src, tmp_path / "x")
    (src / "wide.jpg").unlink()
    assert sorted(p.name for p in src.iterdir()) == ["deep.png", "pal.png", "wide.png"]
    assert not (tmp_path / "x").exists()

    capsys.readouterr()
    assert main(["multiscale", str(src), str(tmp_path), "--overwrite"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and "holds it" in err
    assert (
        main(["multiscale", str(src), str(tmp_path / "ok"), "--scales", "1/2,1/4", "--short-side", "0"]) == 0
    )
    assert "wrote 6 copies of 3 images" in capsys.readouterr().out
    assert Image.open(tmp_path / "ok" / "wideT1.png").size == (22, 15)
    for bad in ("0.5,2", "half", "1/0"):
        with pytest.raises(SystemExit) as exit_info:
            main(["multiscale", str(src), str(tmp_path / "no"), "--scales", bad])
        assert exit_info.value.code == 2
        assert "--scales" in capsys.readouterr().err


def test_degrade_refuses_to_write_over_its_source_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch.nn.functional as F

    from srzoo.framework.registries import DEGRADATIONS

    def box(scale: int):
        return lambda batch, generator: {"lr": F.avg_pool2d(batch["hr"], scale), "hr": batch["hr"]}

    src = _images(tmp_path / "photos")
    DEGRADATIONS.register("test_box", box)
    try:
        code = main(["degrade", str(src), str(tmp_path), "--degradation", "test_box", "--overwrite"])
        assert code == 1 and "holds it" in capsys.readouterr().err
        assert sorted(p.name for p in src.iterdir()) == ["deep.png", "pal.png", "wide.png"]
        assert main(["degrade", str(src), str(tmp_path / "deg"), "--degradation", "test_box"]) == 0
        assert len(list((tmp_path / "deg" / "LR" / "X4").iterdir())) == 3
    finally:
        DEGRADATIONS.unregister("test_box")
