"""Evaluation sets: official LR vs srzoo's on-the-fly bicubic, layouts, names, greyscale, crops and errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from srzoo.data.sets import data_root, open_eval_set, open_val_sets
from srzoo.errors import ConfigError, DataError, UnknownNameError
from srzoo.imaging.datafiles import load_image, save_image
from srzoo.recipes.schema import DatasetSpec, DataSpec


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny matmuls on a shared 2-core box are far faster single-threaded."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _arrays(evalset):
    return {im.name: (im.hr, im.lr) for im in evalset}


@pytest.mark.parametrize("folder", ["Set5", "Set14"])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_on_the_fly_lr_is_bit_exact_with_official_files(shared_data: Path, folder: str, scale: int) -> None:
    official = open_eval_set(folder.lower(), scale, root=shared_data)
    made = open_eval_set(str(shared_data / folder / "HR"), scale)
    assert official.lr_source == "official" and made.lr_source == "bicubic-on-the-fly"
    assert official.name == made.name == folder
    assert len(official) == len(made) == {"Set5": 5, "Set14": 14}[folder]
    a, b = _arrays(official), _arrays(made)
    assert a.keys() == b.keys()
    for name, (hr, lr) in a.items():
        assert hr.shape[0] % scale == 0 and hr.shape[1] % scale == 0
        assert lr.shape[:2] == (hr.shape[0] // scale, hr.shape[1] // scale)
        assert np.array_equal(hr, b[name][0]), name
        assert np.array_equal(lr, b[name][1]), (
            f"{name} x{scale}: on-the-fly LR differs from the official file"
        )


def test_div2k_layout_and_x4_sample(shared_data: Path) -> None:
    official = open_eval_set("div2k", 4, root=shared_data, split="train")
    assert official.name == "DIV2K-train" and official.lr_source == "official" and len(official) == 2
    assert [p.name for p in official.files] == ["0004.png", "0004x4.png", "0006.png", "0006x4.png"]
    made = open_eval_set(str(shared_data / "DIV2K" / "DIV2K_train_HR"), 4)
    for x, y in zip(official, made):
        assert x.hr.shape == (1344, 2040, 3) if x.name == "0004" else (1356, 2040, 3)
        assert np.array_equal(x.lr, y.lr)


def test_greyscale_bridge_stays_greyscale(shared_data: Path) -> None:
    for evalset in (
        open_eval_set("set14", 3, root=shared_data),
        open_eval_set(str(shared_data / "Set14"), 3),
    ):
        bridge = next(im for im in evalset if im.name == "bridge")
        assert bridge.hr.shape == (510, 510) and bridge.lr.shape == (170, 170)
        assert bridge.hr.dtype == np.uint8 and bridge.lr.dtype == np.uint8


def test_edsr_folder_path_uses_official_lr(shared_data: Path) -> None:
    evalset = open_eval_set(str(shared_data / "Set5"), 2)
    assert evalset.name == "Set5" and evalset.lr_source == "official" and len(evalset.files) == 10


def test_center_crop_and_max_images(shared_data: Path) -> None:
    full = _arrays(open_eval_set("set5", 3, root=shared_data))
    cropped = list(open_eval_set("set5", 3, root=shared_data, max_images=2, center_crop=100))
    assert [im.name for im in cropped] == ["baby", "bird"]
    for im in cropped:
        assert im.hr.shape == (99, 99, 3) and im.lr.shape == (33, 33, 3)
        hr, lr = full[im.name]
        top, left = (hr.shape[0] - 99) // 2 // 3 * 3, (hr.shape[1] - 99) // 2 // 3 * 3
        assert np.array_equal(im.hr, hr[top : top + 99, left : left + 99])
        assert np.array_equal(im.lr, lr[top // 3 : top // 3 + 33, left // 3 : left // 3 + 33])


def test_names_splits_and_unknown_names(shared_data: Path) -> None:
    assert open_eval_set("SET5", 4, root=shared_data).name == "Set5"
    assert open_eval_set("div2k-train", 4, root=shared_data).name == "DIV2K-train"
    with pytest.raises(UnknownNameError, match="did you mean 'set14'"):
        open_eval_set("set41", 4, root=shared_data)
    with pytest.raises(ConfigError, match="no split 'nope'"):
        open_eval_set("set5", 4, root=shared_data, split="nope")


def test_missing_dataset_is_one_line_with_path_and_url(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        open_eval_set("urban100", 4, root=tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert str(tmp_path / "Urban100" / "HR") in message
    assert "https://cv.snu.ac.kr/research/EDSR/benchmark.tar" in message and "download" in message


def test_data_root_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SRZOO_DATA", str(tmp_path / "env"))
    assert data_root(tmp_path / "explicit") == (tmp_path / "explicit").resolve()
    assert data_root() == (tmp_path / "env").resolve()
    monkeypatch.delenv("SRZOO_DATA")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data_root() == (tmp_path / ".cache" / "srzoo" / "datasets").resolve()


def test_folder_errors_and_mismatched_lr(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no images"):
        open_eval_set(str(tmp_path), 2)
    save_image(tmp_path / "HR" / "a.png", np.full((8, 8, 3), 100, np.uint8))
    save_image(tmp_path / "LR_bicubic" / "X2" / "ax2.png", np.full((3, 4, 3), 100, np.uint8))
    with pytest.raises(DataError, match="does not belong to this HR"):
        list(open_eval_set(str(tmp_path), 2))
    (tmp_path / "HR" / "b.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="no LR partner"):
        open_eval_set(str(tmp_path), 2)


def test_val_sets_from_a_data_spec(shared_data: Path) -> None:
    spec = DataSpec(
        root=str(shared_data),
        val=[
            DatasetSpec("set5"),
            DatasetSpec("image_folder", kwargs={"path": str(shared_data / "T91" / "HR")}),
        ],
        val_max_images=3,
        val_center_crop=64,
    )
    sets = open_val_sets(spec, 4)
    assert [s.name for s in sets] == ["Set5", "T91"] and [len(s) for s in sets] == [3, 3]
    assert all(im.hr.shape == (64, 64, 3) and im.lr.shape == (16, 16, 3) for s in sets for im in s)
    with pytest.raises(ConfigError, match="did you mean 'path'"):
        open_val_sets(DataSpec(val=[DatasetSpec("image_folder", kwargs={"pth": "x"})]), 4)


def test_image_io_round_trip(tmp_path: Path) -> None:
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    assert np.array_equal(load_image(save_image(tmp_path / "x.png", rgb)), rgb)
    grey = np.array([[0, 255]], dtype=np.uint8)
    assert np.array_equal(load_image(save_image(tmp_path / "g.png", grey)), grey)
    chw = np.array([[[0.0, 1.0]], [[0.5, 0.25]], [[1.0, 0.0]]], dtype=np.float32)  # (3, 1, 2) in [0, 1]
    assert load_image(save_image(tmp_path / "f.png", chw)).tolist() == [[[0, 128, 255], [255, 64, 0]]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.png", "g.png", "x.png"]  # no temp files left
