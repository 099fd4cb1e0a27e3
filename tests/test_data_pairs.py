"""Training patches: alignment, exact LR, D4, degradations (both backends), determinism, bad data, cache."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from srzoo.data import build_train_dataset
from srzoo.data.degrade import d4, lr_crop_on_the_fly
from srzoo.data.pairs import make_train_loader
from srzoo.data.sets import open_eval_set
from srzoo.errors import ConfigError, DataError
from srzoo.imaging.datafiles import load_image, save_image
from srzoo.recipes.schema import AugmentSpec, DatasetSpec, DataSpec

PLAIN = AugmentSpec(hflip=False, rot90=False)


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _build(
    spec: DatasetSpec | list[DatasetSpec], *, scale=2, patch=32, augment=PLAIN, seed=0, root=None, cache=False
):
    specs = spec if isinstance(spec, list) else [spec]
    data = DataSpec(root=str(root) if root else None, train=specs, cache=cache)
    return build_train_dataset(
        data, scale=scale, patch_size=patch, augment=augment, seed=seed, progress=False
    )


def _rgb(a: np.ndarray) -> np.ndarray:
    return np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a


@pytest.mark.parametrize(
    ("name", "folder", "scale", "patch"), [("set5", "Set5", 4, 64), ("set14", "Set14", 3, 48)]
)
def test_patches_are_aligned_crops_of_official_and_on_the_fly_lr(
    shared_data, name, folder, scale, patch
) -> None:
    official = _build(DatasetSpec(name, kwargs={"repeat": 2}), scale=scale, patch=patch, root=shared_data)
    made = _build(
        DatasetSpec("image_folder", kwargs={"path": str(shared_data / folder / "HR"), "repeat": 2}),
        scale=scale,
        patch=patch,
    )
    assert all(im.lr is not None for im in official.images) and all(im.lr is None for im in made.images)
    full = {im.name: (_rgb(im.hr), _rgb(im.lr)) for im in open_eval_set(name, scale, root=shared_data)}
    for i in range(len(official)):
        image, d = official.draws(i)
        assert d.top % scale == 0 and d.left % scale == 0
        hr, lr = official.patch_arrays(i)
        hr_full, lr_full = full[image.hr.stem]
        s, p = scale, patch
        assert np.array_equal(hr, hr_full[d.top : d.top + p, d.left : d.left + p])
        assert np.array_equal(lr, lr_full[d.top // s : (d.top + p) // s, d.left // s : (d.left + p) // s])
        hr2, lr2 = made.patch_arrays(i)  # same seed, same draws: LR made from the HR crop's neighbourhood
        assert np.array_equal(hr2, hr) and np.array_equal(lr2, lr), f"sample {i} ({image.hr.name})"


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_on_the_fly_crop_is_exact_at_borders_and_corners(shared_data: Path, scale: int) -> None:
    hr = load_image(shared_data / "Set5" / "HR" / "bird.png")  # 288 x 288
    lr_file = load_image(shared_data / "Set5" / "LR_bicubic" / f"X{scale}" / f"birdx{scale}.png")
    p = 12 * scale
    h = hr.shape[0] - hr.shape[0] % scale
    for top, left in [
        (0, 0),
        (0, h - p),
        (h - p, 0),
        (h - p, h - p),
        (scale, 2 * scale),
        (10 * scale, 7 * scale),
    ]:
        got = lr_crop_on_the_fly(hr, top, left, p, scale)
        want = lr_file[top // scale : (top + p) // scale, left // scale : (left + p) // scale]
        assert np.array_equal(got, want), (scale, top, left)


def test_d4_is_applied_identically_to_hr_and_lr(shared_data: Path) -> None:
    spec = DatasetSpec("set5", kwargs={"repeat": 4})
    plain = _build(spec, scale=4, patch=64, root=shared_data, seed=7)
    aug = _build(
        spec, scale=4, patch=64, root=shared_data, seed=7, augment=AugmentSpec(hflip=True, rot90=True)
    )
    ops = set()
    for i in range(len(aug)):
        op = aug.draws(i)[1].op
        ops.add(op)
        hr, lr = aug.patch_arrays(i)
        hr0, lr0 = plain.patch_arrays(i)
        assert np.array_equal(hr, d4(hr0, op)) and np.array_equal(lr, d4(lr0, op))
    assert len(ops) >= 5  # 20 draws from the 8 ops
    hflip_only = _build(spec, scale=4, patch=64, root=shared_data, seed=7, augment=AugmentSpec(rot90=False))
    assert {hflip_only.draws(i)[1].op for i in range(len(aug))} == {0, 1}


def _uniform_folder(folder: Path, n: int = 4, side: int = 64) -> Path:
    for k in range(n):
        save_image(folder / f"u{k}.png", np.full((side, side, 3), 128, np.uint8))
    return folder


@pytest.mark.parametrize("backend", ["torchvision", "albumentations"])
def test_lr_degradations_both_backends(tmp_path: Path, shared_data: Path, backend: str) -> None:
    heavy = AugmentSpec(hflip=False, rot90=False, jpeg_prob=1.0, dropout_prob=1.0, backend=backend)
    spec = DatasetSpec("set5", kwargs={"repeat": 2})
    clean, dirty = _build(spec, root=shared_data), _build(spec, root=shared_data, augment=heavy)
    for i in range(4):
        hr0, lr0 = clean.patch_arrays(i)
        hr, lr = dirty.patch_arrays(i)
        assert np.array_equal(hr, hr0)  # degradations touch LR only
        assert not np.array_equal(lr, lr0) and lr.shape == lr0.shape and lr.dtype == np.uint8
        assert np.array_equal(lr, dirty.patch_arrays(i)[1])  # deterministic per sample
    # On a flat grey image only the dropout holes show: every sample has its own, and holes are black.
    flat = _build(DatasetSpec("image_folder", kwargs={"path": str(_uniform_folder(tmp_path))}), augment=heavy)
    lrs = [flat.patch_arrays(i)[1] for i in range(4)]
    holes = [(lr == 0).all(axis=2) for lr in lrs]
    assert all(0 < h.mean() < 0.5 for h in holes)
    assert len({h.tobytes() for h in holes}) == 4


@pytest.mark.parametrize("backend", ["torchvision", "albumentations"])
def test_batches_identical_for_0_and_2_workers_and_after_resume(shared_data: Path, backend: str) -> None:
    augment = AugmentSpec(jpeg_prob=0.5, dropout_prob=0.5, backend=backend)
    ds = _build(
        DatasetSpec("set5", kwargs={"repeat": 2}), scale=2, patch=32, root=shared_data, augment=augment
    )

    def batches(workers: int, start: int, count: int) -> list[dict]:
        loader = iter(make_train_loader(ds, batch_size=4, num_workers=workers, seed=3, start_sample=start))
        return [next(loader) for _ in range(count)]

    serial = batches(0, 0, 6)  # 24 samples: crosses two epochs of 10
    parallel = batches(2, 0, 6)
    resumed = batches(2, 3 * 4, 3)
    for a, b in zip(serial, parallel):
        assert (
            torch.equal(a["index"], b["index"])
            and torch.equal(a["lr"], b["lr"])
            and torch.equal(a["hr"], b["hr"])
        )
    for a, b in zip(serial[3:], resumed):
        assert torch.equal(a["index"], b["index"]) and torch.equal(a["lr"], b["lr"])
    epoch0 = torch.cat([b["index"] for b in serial])[:10]
    assert sorted(epoch0.tolist()) == list(range(10))  # each epoch is a permutation
    assert serial[0]["lr"].shape == (4, 3, 16, 16) and serial[0]["hr"].dtype == torch.float32
    assert float(serial[0]["hr"].min()) >= 0.0 and float(serial[0]["hr"].max()) <= 1.0


def test_two_workers_do_not_repeat_albumentations_draws(tmp_path: Path) -> None:
    augment = AugmentSpec(hflip=False, rot90=False, dropout_prob=1.0, backend="albumentations")
    folder = _uniform_folder(tmp_path, n=1)
    ds = _build(DatasetSpec("image_folder", kwargs={"path": str(folder), "repeat": 8}), augment=augment)
    loader = iter(make_train_loader(ds, batch_size=1, num_workers=2, seed=0))
    lrs = [next(loader)["lr"] for _ in range(4)]  # workers 0 and 1 alternate
    assert len({lr.numpy().tobytes() for lr in lrs}) == 4


def test_epochs_and_global_indices_agree(shared_data: Path) -> None:
    ds = _build(DatasetSpec("set5"), root=shared_data, augment=AugmentSpec())
    later = ds[len(ds) + 2]
    ds.set_epoch(1)
    assert torch.equal(ds[2]["lr"], later["lr"]) and ds[2]["index"] == 2
    ds.set_epoch(0)
    assert not torch.equal(ds[2]["hr"], later["hr"])


def test_bad_images_are_skipped_with_one_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "train"
    for k in range(3):
        save_image(
            folder / f"good{k}.png", np.random.default_rng(k).integers(0, 256, (40, 48, 3), dtype=np.uint8)
        )
    save_image(folder / "tiny.png", np.zeros((10, 10, 3), np.uint8))
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    whole = (folder / "good0.png").read_bytes()
    (folder / "truncated.png").write_bytes(whole[: len(whole) // 2])
    with caplog.at_level(logging.WARNING, logger="srzoo"):
        ds = _build(DatasetSpec("image_folder", kwargs={"path": str(folder)}))
    assert sorted(p.hr.name for p in ds.images) == ["good0.png", "good1.png", "good2.png"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.name == "srzoo"]
    assert len(warnings) == 1
    text = warnings[0].getMessage()
    assert "skipped 3 training image(s)" in text
    assert all(name in text for name in ("tiny.png", "corrupt.png", "truncated.png")) and "good" not in text


def test_empty_training_data_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "train"
    save_image(folder / "small.png", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(DataError, match=r"no usable training images in .*train"):
        _build(DatasetSpec("image_folder", kwargs={"path": str(folder)}))
    with pytest.raises(ConfigError, match=r"data\.train is empty"):
        _build([])
    with pytest.raises(ConfigError, match="multiple of the scale 3"):
        _build(DatasetSpec("image_folder", kwargs={"path": str(folder)}), scale=3, patch=32)


def test_array_cache_is_identical_and_memory_mapped(shared_data: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SRZOO_CACHE", str(tmp_path / "cache"))
    spec = DatasetSpec("set14")
    plain = _build(spec, scale=3, patch=48, root=shared_data, augment=AugmentSpec())
    cached = _build(spec, scale=3, patch=48, root=shared_data, augment=AugmentSpec(), cache=True)
    arrays = sorted((tmp_path / "cache" / "data" / "arrays").glob("*.npy"))
    assert len(arrays) == 28  # 14 HR + 14 official LR, decoded once
    assert isinstance(cached.cache.load(cached.images[0].hr), np.memmap)
    for i in range(len(plain)):
        assert all(np.array_equal(a, b) for a, b in zip(plain.patch_arrays(i), cached.patch_arrays(i)))


def test_shared_training_sets_build(shared_data: Path) -> None:
    ds = _build([DatasetSpec("t91"), DatasetSpec("bsds200")], scale=4, patch=64, root=shared_data)
    assert len(ds) == 291  # T91 + BSDS200, the classic "291" set; every image fits a 64-pixel patch
    assert all(im.lr is None for im in ds.images)
    div2k = _build(DatasetSpec("div2k"), scale=4, patch=64, root=shared_data)
    assert [im.lr.name for im in div2k.images] == ["0004x4.png", "0006x4.png"]
