"""Find datasets on disk (or fetch them) and open eval sets: modcropped HR with official or on-the-fly LR."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from srzoo.data.catalog import DatasetInfo, dataset_info
from srzoo.errors import ConfigError, DataError, InputError, did_you_mean

OFFICIAL, ON_THE_FLY = "official", "bicubic-on-the-fly"
FOLDER_OPTIONS = {"image_folder": ("path",), "paired_folder": ("hr", "lr")}


def data_root(explicit: str | os.PathLike | None = None) -> Path:
    """Datasets root: `explicit` (--data-root / recipe), else $SRZOO_DATA, else ~/.cache/srzoo/datasets."""
    chosen = explicit or os.environ.get("SRZOO_DATA") or Path.home() / ".cache" / "srzoo" / "datasets"
    return Path(chosen).expanduser().resolve()


@dataclass(frozen=True)
class Pair:
    """One image of a split: its HR file and its official LR file (None: LR is made on the fly)."""

    name: str
    hr: Path
    lr: Path | None


@dataclass(frozen=True)
class Located:
    """A split found on disk."""

    title: str
    hr_dir: Path
    pairs: list[Pair]

    @property
    def lr_source(self) -> str:
        return OFFICIAL if self.pairs and self.pairs[0].lr is not None else ON_THE_FLY


def _lr_file(lr_dir: Path, hr: Path, scale: int) -> Path | None:
    for stem in (f"{hr.stem}x{scale}", hr.stem):  # EDSR/DIV2K naming first, then same-name pairs
        for suffix in dict.fromkeys((hr.suffix, ".png")):
            if (lr_dir / f"{stem}{suffix}").is_file():
                return lr_dir / f"{stem}{suffix}"
    return None


def pairs_in(hr_dir: Path, lr_dir: Path | None, scale: int, *, strict_lr: bool = True) -> list[Pair]:
    """HR images of a folder with their LR partners; an LR folder that lacks some partners is an error."""
    from srzoo.imaging.datafiles import list_images

    if not hr_dir.is_dir():
        raise DataError(f"image folder {hr_dir} does not exist; check the path (or --data-root / SRZOO_DATA)")
    hrs = list_images(hr_dir)
    if not hrs:
        raise DataError(
            f"no images (.png/.jpg/.bmp/...) in {hr_dir}; point the dataset at a folder of images"
        )
    if lr_dir is None or not lr_dir.is_dir():
        if lr_dir is not None and strict_lr:
            raise DataError(
                f"LR folder {lr_dir} does not exist; fix the path or leave it out (LR made on the fly)"
            )
        return [Pair(p.stem, p, None) for p in hrs]
    lrs = [_lr_file(lr_dir, p, scale) for p in hrs]
    missing = [p.name for p, lr in zip(hrs, lrs) if lr is None]
    if missing:
        raise DataError(
            f"{len(missing)} HR images have no LR partner in {lr_dir} (first: {missing[0]}; expected "
            f"<name>x{scale}.png or <name>.png); complete that folder or remove it to make LR on the fly"
        )
    return [Pair(p.stem, p, lr) for p, lr in zip(hrs, lrs)]


def _missing(info: DatasetInfo, split: str, root: Path, url_hint: str) -> DataError:
    expected = root / info.splits[split].hr
    if not info.archives:
        return DataError(
            f"dataset {info.name!r} ({split}) not found at {expected}; set --data-root / SRZOO_DATA"
        )
    return DataError(
        f"dataset {info.name!r} ({split}) not found at {expected}; use download: true (--download) to fetch "
        f"{url_hint}, or point --data-root / SRZOO_DATA at a folder that has it"
    )


def _fetch_missing(info: DatasetInfo, rel: str, root: Path) -> None:
    from srzoo.data.fetch import fetch

    for archive in info.archives_for(rel):
        if any(
            not (root / dst).exists() for _, dst in archive.moves if rel == dst or rel.startswith(dst + "/")
        ):
            fetch(archive, root, what=f"dataset {info.name!r}", expected=root / rel)


def locate(
    info: DatasetInfo,
    scale: int,
    *,
    root: str | os.PathLike | None = None,
    split: str | None = None,
    download: bool = False,
    purpose: str = "eval",
    options: Mapping[str, Any] | None = None,
) -> Located:
    """Find (or, with `download`, fetch) one split of a dataset; pair its HR files with official LR ones."""
    base = data_root(root)
    options = dict(options or {})
    if info.kind in FOLDER_OPTIONS:
        needed = FOLDER_OPTIONS[info.kind]
        unknown = [k for k in options if k not in needed]
        if unknown:
            raise ConfigError(
                f"unknown kwarg {unknown[0]!r} for dataset {info.name!r}{did_you_mean(unknown[0], needed)} "
                f"(accepted: {', '.join(needed)})"
            )
        if any(options.get(k) is None for k in needed):
            example = ", ".join(f"{k}: /path/to/{k if k != 'path' else 'images'}" for k in needed)
            raise ConfigError(
                f"dataset {info.name!r} needs kwargs {', '.join(needed)}, e.g. kwargs: {{{example}}}"
            )
        folders = {k: _user_path(options[k], base) for k in needed}
        hr_dir = folders.get("path", folders.get("hr"))
        pairs = pairs_in(hr_dir, folders.get("lr"), scale)
        return Located(folder_title(hr_dir), hr_dir, pairs)
    if options:
        raise ConfigError(f"dataset {info.name!r} takes no kwargs (got {', '.join(sorted(options))})")
    split = info.split(split, purpose)
    layout = info.splits[split]
    hr_rel, lr_rel = layout.hr, layout.lr_dir(scale)
    if download:
        _fetch_missing(info, hr_rel, base)
        if lr_rel is not None:
            _fetch_missing(info, lr_rel, base)
    if not (base / hr_rel).is_dir():
        urls = " + ".join(dict.fromkeys(a.url for a in info.archives_for(hr_rel))) or "its homepage"
        raise _missing(info, split, base, urls)
    lr_dir = base / lr_rel if lr_rel is not None else None
    pairs = pairs_in(base / hr_rel, lr_dir, scale, strict_lr=False)
    title = info.title if split == info.eval_split or len(info.splits) == 1 else f"{info.title}-{split}"
    return Located(title, base / hr_rel, pairs)


def folder_title(folder: Path) -> str:
    """A folder set's display name: 'Set5' for both .../Set5 and .../Set5/HR."""
    folder = folder.resolve()
    return folder.parent.name if folder.name.upper() == "HR" else folder.name


def _user_path(value: Any, base: Path) -> Path:
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() or not (base / path).exists() else base / path


def parse_set_name(name_or_path: str) -> tuple[DatasetInfo | None, str | None]:
    """'set5' -> (set5 info, None); 'div2k-valid' -> (div2k info, 'valid'); a folder path -> (None, None)."""
    from srzoo.framework.registries import DATASETS

    text = str(name_or_path)
    key = text.lower()
    if key in DATASETS:
        return dataset_info(key), None
    base, _, split = key.rpartition("-")
    if base in DATASETS and split in dataset_info(base).splits:
        return dataset_info(base), split
    if os.sep in text or "/" in text or Path(text).expanduser().is_dir():
        return None, None
    dataset_info(key)  # raises UnknownNameError with did-you-mean
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class EvalImage:
    """One evaluation image: uint8 HR modcropped to the scale, and LR of exactly HR / scale."""

    name: str
    hr: np.ndarray
    lr: np.ndarray


class EvalSet:
    """An evaluation/validation set; images are decoded lazily, one at a time."""

    def __init__(self, name: str, scale: int, pairs: list[Pair], *, center_crop: int | None = None) -> None:
        self.name, self.scale, self.pairs = name, int(scale), list(pairs)
        self.lr_source = OFFICIAL if self.pairs and self.pairs[0].lr is not None else ON_THE_FLY
        self.center_crop = int(center_crop or 0)
        self.files: list[Path] = [f for p in self.pairs for f in (p.hr, p.lr) if f is not None]

    def __len__(self) -> int:
        return len(self.pairs)

    def __repr__(self) -> str:
        return f"EvalSet({self.name!r}, x{self.scale}, {len(self)} images, lr={self.lr_source})"

    def __iter__(self) -> Iterator[EvalImage]:
        for pair in self.pairs:
            yield self.load(pair)

    def load(self, pair: Pair) -> EvalImage:
        from srzoo.data.degrade import bicubic_lr
        from srzoo.imaging.datafiles import load_image
        from srzoo.imaging.resize import modcrop

        s = self.scale
        try:
            hr = modcrop(load_image(pair.hr), s)
            lr = load_image(pair.lr) if pair.lr is not None else bicubic_lr(hr, s)
        except InputError as exc:
            raise DataError(f"{self.name}: {exc}") from None
        lr = _match_channels(lr, hr, pair, self.name)
        if lr.shape[:2] != (hr.shape[0] // s, hr.shape[1] // s):
            raise DataError(
                f"{self.name}: LR {pair.lr} is {lr.shape[1]}x{lr.shape[0]} but HR {pair.hr} modcropped to "
                f"x{s} is {hr.shape[1]}x{hr.shape[0]}; the LR file does not belong to this HR at x{s}"
            )
        if self.center_crop >= s:
            hr, lr = _center_crop(hr, lr, self.center_crop, s)
        return EvalImage(pair.name, hr, lr)


def _match_channels(lr: np.ndarray, hr: np.ndarray, pair: Pair, name: str) -> np.ndarray:
    """Give LR the HR's channel layout (grey HR keeps grey LR: the metrics score grey as R = G = B)."""
    if lr.ndim == hr.ndim:
        return lr
    if lr.ndim == 2:
        return np.repeat(lr[..., None], 3, axis=2)
    if (lr[..., 0] == lr[..., 1]).all() and (lr[..., 0] == lr[..., 2]).all():
        return np.ascontiguousarray(lr[..., 0])
    raise DataError(f"{name}: HR {pair.hr} is greyscale but its LR {pair.lr} is colour; they do not match")


def _center_crop(hr: np.ndarray, lr: np.ndarray, size: int, s: int) -> tuple[np.ndarray, np.ndarray]:
    """Scale-aligned centre crop of side `size` (HR pixels, rounded down to the scale) of both images."""
    ch, cw = (min(size - size % s, n) for n in hr.shape[:2])
    top, left = (hr.shape[0] - ch) // 2 // s * s, (hr.shape[1] - cw) // 2 // s * s
    hr_c = hr[top : top + ch, left : left + cw]
    lr_c = lr[top // s : (top + ch) // s, left // s : (left + cw) // s]
    return np.ascontiguousarray(hr_c), np.ascontiguousarray(lr_c)


def open_eval_set(
    name_or_path: str,
    scale: int,
    *,
    root: str | os.PathLike | None = None,
    download: bool = False,
    split: str | None = None,
    max_images: int | None = None,
    center_crop: int | None = None,
) -> EvalSet:
    """A registered set ('set5', 'div2k-valid', ...) or a folder: HR images, or EDSR HR/ + LR_bicubic/X<s>/, or
    HR/ + LR/X<s>/ (other degradations, e.g. the sets `srzoo degrade` writes)."""
    if int(scale) < 1:
        raise ConfigError(f"scale must be a positive integer, got {scale}")
    info, parsed_split = parse_set_name(name_or_path)
    if info is None:
        folder = Path(name_or_path).expanduser()
        edsr = (folder / "HR").is_dir()
        hr_dir = folder / "HR" if edsr else folder
        lr_dirs = [folder / sub / f"X{scale}" for sub in ("LR_bicubic", "LR")]
        lr_dir = next((d for d in lr_dirs if d.is_dir()), lr_dirs[0]) if edsr else None
        pairs = pairs_in(hr_dir, lr_dir, scale, strict_lr=False)
        located = Located(folder_title(folder), hr_dir, pairs)
    else:
        located = locate(info, int(scale), root=root, split=split or parsed_split, download=download)
    pairs = located.pairs[:max_images] if max_images else located.pairs
    return EvalSet(located.title, int(scale), pairs, center_crop=center_crop)


def open_val_sets(data: Any, scale: int) -> list[EvalSet]:
    """The validation sets of a recipe's DataSpec (`data.val`), with its max-images and centre-crop."""
    sets = []
    for spec in data.val:
        info = dataset_info(spec.name)
        located = locate(
            info,
            scale,
            root=spec.root or data.root,
            split=spec.split,
            download=spec.download,
            options=spec.kwargs,
        )
        pairs = located.pairs[: data.val_max_images] if data.val_max_images else located.pairs
        sets.append(EvalSet(located.title, scale, pairs, center_crop=data.val_center_crop or None))
    return sets
