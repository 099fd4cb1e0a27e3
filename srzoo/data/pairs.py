"""Training pairs: aligned random HR/LR patches, D4, LR-only degradations; deterministic per sample."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from srzoo.data.cache import ArrayCache, scan
from srzoo.data.degrade import Draws, LRDegrader, d4, draw, lr_crop_on_the_fly
from srzoo.errors import ConfigError, DataError, InputError
from srzoo.imaging.datafiles import to_rgb

log = logging.getLogger("srzoo")
_PERMUTATION = 0x5EED  # stream tag: the sampler's shuffle never shares draws with the samples themselves


@dataclass(frozen=True)
class TrainImage:
    """One usable training image: HR file, official LR file (None: LR made on the fly), modcropped HR size."""

    hr: Path
    lr: Path | None
    hw: tuple[int, int]


def _seed(value: int) -> int:
    return int(value) % (1 << 63)  # SeedSequence entropy must be non-negative


class PairedPatchDataset(Dataset):
    """Map-style dataset of {"lr", "hr", "index"} patches; `index` beyond len() counts as a later epoch.

    Sample `index` uses only numpy.random.default_rng([seed, epoch, index % len]) with
    epoch = set_epoch value + index // len, so it is identical for any num_workers, any worker, and after a
    resume. LR comes from the official file when there is one (cropped at HR coords / scale), else from MATLAB
    bicubic on a margin around the HR crop (bit-identical to degrading the whole image, see degrade.py).
    """

    def __init__(
        self,
        images: list[TrainImage],
        *,
        scale: int,
        patch_size: int,
        augment: Any,
        seed: int,
        cache: ArrayCache | None = None,
        hr_only: bool = False,
    ) -> None:
        if not images:
            raise DataError(
                "the training dataset is empty; check data.train (and the warning about skipped images)"
            )
        check_patch(patch_size, scale)
        self.images, self.scale, self.patch_size = list(images), int(scale), int(patch_size)
        self.augment, self.seed, self.cache = augment, _seed(seed), cache
        self.degrader = LRDegrader(augment)
        self.epoch = 0
        self.hr_only = bool(hr_only)  # a recipe's data.degradation makes the LR on the device instead

    def __len__(self) -> int:
        return len(self.images)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def draws(self, index: int) -> tuple[TrainImage, Draws]:
        """The image and every random value sample `index` uses (for tests and debugging)."""
        epoch, i = self.epoch + index // len(self), index % len(self)
        image = self.images[i]
        rng = np.random.default_rng([self.seed, _seed(epoch), i])
        return image, draw(rng, image.hw, self.patch_size, self.scale, self.augment)

    def _read(self, path: Path) -> np.ndarray:
        from srzoo.imaging.datafiles import load_image

        try:
            return self.cache.load(path) if self.cache is not None else load_image(path)
        except InputError as exc:
            raise DataError(f"training image became unreadable: {exc}; remove it or restore it") from None

    def patch_arrays(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """uint8 (HR, LR) patches of sample `index`, (p, p, 3) and (p/s, p/s, 3), before float conversion."""
        image, d = self.draws(index)
        s, p = self.scale, self.patch_size
        hr = self._read(image.hr)
        hr_patch = hr[d.top : d.top + p, d.left : d.left + p]
        if image.lr is not None:
            lr_patch = self._read(image.lr)[d.top // s : (d.top + p) // s, d.left // s : (d.left + p) // s]
        else:
            lr_patch = lr_crop_on_the_fly(hr, d.top, d.left, p, s)
        # Greyscale images train as R = G = B, the way the metrics score them.
        hr_patch, lr_patch = to_rgb(hr_patch), to_rgb(lr_patch)
        hr_patch, lr_patch = d4(hr_patch, d.op), d4(lr_patch, d.op)
        lr_patch = self.degrader(np.ascontiguousarray(lr_patch), d)
        return np.ascontiguousarray(hr_patch), np.ascontiguousarray(lr_patch)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if self.hr_only:
            image, d = self.draws(int(index))
            p = self.patch_size
            hr = to_rgb(self._read(image.hr)[d.top : d.top + p, d.left : d.left + p])
            return {"hr": _to_tensor(np.ascontiguousarray(d4(hr, d.op))), "index": int(index)}
        hr, lr = self.patch_arrays(int(index))
        return {"lr": _to_tensor(lr), "hr": _to_tensor(hr), "index": int(index)}


def _to_tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(array.transpose(2, 0, 1).copy()).float().div_(255.0)


def check_patch(patch_size: int, scale: int) -> None:
    if patch_size < scale or patch_size % scale:
        raise ConfigError(f"patch_size {patch_size} must be a positive multiple of the scale {scale}")


def usable_images(
    entries: list[tuple[Path, Path | None]],
    *,
    scale: int,
    patch_size: int,
    cache: ArrayCache | None,
    progress: bool = True,
) -> list[TrainImage]:
    """Images big enough for a patch and readable; the others are skipped with ONE warning listing them."""
    files = [f for hr, lr in entries for f in (hr, lr) if f is not None]
    sizes = scan(list(dict.fromkeys(files)), cache, progress=progress)
    usable, skipped = [], []
    for hr, lr in entries:
        got = sizes[hr]
        if isinstance(got, str):
            skipped.append(f"{hr} ({got})")
            continue
        h, w = got[0] - got[0] % scale, got[1] - got[1] % scale
        if h < patch_size or w < patch_size:
            skipped.append(f"{hr} ({got[1]}x{got[0]}, smaller than the {patch_size}-pixel patch)")
            continue
        if lr is not None and sizes[lr] != (h // scale, w // scale):
            why = (
                sizes[lr]
                if isinstance(sizes[lr], str)
                else f"LR size {sizes[lr][1]}x{sizes[lr][0]} is not HR/{scale}"
            )
            skipped.append(f"{hr} (its LR {lr.name}: {why})")
            continue
        usable.append(TrainImage(hr, lr, (h, w)))
    if skipped:
        log.warning(
            "skipped %d training image(s) that are unreadable or too small: %s",
            len(skipped),
            "; ".join(skipped),
        )
    return usable


def build_train_dataset(
    data: Any,
    *,
    scale: int,
    patch_size: int,
    augment: Any,
    seed: int,
    progress: bool = True,
    hr_only: bool = False,
) -> PairedPatchDataset:
    """The training dataset of a recipe's DataSpec: every `data.train` set (kwarg `repeat` weights a set).

    `hr_only`: samples are {"hr", "index"} (D4-augmented HR patches; LR files are not read).
    """
    from srzoo.data.catalog import dataset_info
    from srzoo.data.sets import locate

    check_patch(patch_size, scale)
    if not data.train:
        raise ConfigError("data.train is empty; list at least one dataset, e.g. data.train: [{name: div2k}]")
    entries: list[tuple[Path, Path | None]] = []
    where = []
    for spec in data.train:
        options = dict(spec.kwargs)
        repeat = options.pop("repeat", 1)
        if not isinstance(repeat, int) or repeat < 1:
            raise ConfigError(
                f"data.train {spec.name!r}: kwargs.repeat must be a positive integer, got {repeat!r}"
            )
        located = locate(
            dataset_info(spec.name),
            scale,
            root=spec.root or data.root,
            split=spec.split,
            download=spec.download,
            purpose="train",
            options=options,
        )
        entries += [(p.hr, None if hr_only else p.lr) for p in located.pairs] * repeat
        where.append(str(located.hr_dir))
    cache = ArrayCache() if data.cache else None
    images = usable_images(entries, scale=scale, patch_size=patch_size, cache=cache, progress=progress)
    if not images:
        raise DataError(
            f"no usable training images in {', '.join(where)} (all unreadable or smaller than the "
            f"{patch_size}-pixel patch); fix data.train or lower the patch size"
        )
    return PairedPatchDataset(
        images, scale=scale, patch_size=patch_size, augment=augment, seed=seed, cache=cache, hr_only=hr_only
    )


class InfiniteSampler(Sampler[int]):
    """Endless global indices epoch * n + i, reshuffled per epoch from (seed, epoch); `start` skips samples.

    Resuming after k optimizer steps of batch b is `start=k * b`: the batches that follow are the ones an
    uninterrupted run would have seen.
    """

    def __init__(self, n: int, seed: int, *, start: int = 0, shuffle: bool = True) -> None:
        self.n, self.seed, self.start, self.shuffle = int(n), _seed(seed), int(start), shuffle

    def __iter__(self) -> Iterator[int]:
        k, epoch, order = self.start, -1, np.arange(self.n)
        while True:
            e, pos = divmod(k, self.n)
            if e != epoch and self.shuffle:
                epoch, order = e, np.random.default_rng([self.seed, _PERMUTATION, e]).permutation(self.n)
            yield e * self.n + int(order[pos])
            k += 1


def make_train_loader(
    dataset: PairedPatchDataset,
    *,
    batch_size: int,
    num_workers: int,
    seed: int,
    start_sample: int = 0,
    pin_memory: bool = False,
) -> DataLoader:
    """An endless DataLoader of batches over `dataset`, the same for any num_workers; see InfiniteSampler."""
    sampler = InfiniteSampler(len(dataset), seed, start=start_sample)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        pin_memory=pin_memory,
        drop_last=True,
        persistent_workers=num_workers > 0,
    )
