"""Data: registered datasets, downloads, evaluation sets, paired training crops and LR degradations.

Importing this package stays light (numpy + PIL on first image use); torch-side modules load on demand.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from srzoo.imaging.datafiles import load_image, save_image

if TYPE_CHECKING:
    from srzoo.data.catalog import DatasetInfo
    from srzoo.data.pairs import PairedPatchDataset
    from srzoo.data.sets import EvalSet

__all__ = [
    "build_train_dataset",
    "data_root",
    "dataset_info",
    "load_image",
    "open_eval_set",
    "open_val_sets",
    "save_image",
]


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
    """Training patches for a recipe's DataSpec; see srzoo.data.pairs.build_train_dataset."""
    from srzoo.data.pairs import build_train_dataset as build

    return build(
        data,
        scale=scale,
        patch_size=patch_size,
        augment=augment,
        seed=seed,
        progress=progress,
        hr_only=hr_only,
    )


def dataset_info(name: str) -> DatasetInfo:
    """The registered dataset description (splits, layout, archives, license) for `name`."""
    from srzoo.data.catalog import dataset_info as info

    return info(name)


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
    """An evaluation set; see srzoo.data.sets.open_eval_set."""
    from srzoo.data.sets import open_eval_set as open_set

    return open_set(
        name_or_path,
        scale,
        root=root,
        download=download,
        split=split,
        max_images=max_images,
        center_crop=center_crop,
    )


def open_val_sets(data: Any, scale: int) -> list[EvalSet]:
    from srzoo.data.sets import open_val_sets as open_sets

    return open_sets(data, scale)


def data_root(explicit: str | os.PathLike | None = None):
    from srzoo.data.sets import data_root as root

    return root(explicit)
