"""Seeded degraded evaluation sets and sample grids from a registered degradation (`srzoo degrade`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from srzoo.errors import ConfigError
from srzoo.framework.build import build_degradation, reads_pairs
from srzoo.framework.files import atomic_dir, atomic_write, refuse_inside

MANIFEST = "degradation.json"


@dataclass
class DegradedSet:
    """What `write_degraded_set` wrote: the EDSR-layout folder `srzoo bench` reads, and how it was made."""

    path: Path
    images: int
    manifest: dict[str, Any]


def image_generator(seed: int, index: int) -> torch.Generator:
    """The generator image `index` of a set is degraded with: a pure function of (seed, index)."""
    state = np.random.SeedSequence([int(seed) % (1 << 63), 0x5E7, int(index)]).generate_state(
        1, dtype=np.uint64
    )
    return torch.Generator().manual_seed(int(state[0]))


def _hr_tensor(array: np.ndarray, scale: int) -> torch.Tensor:
    from srzoo.imaging.datafiles import to_rgb

    rgb = to_rgb(array)
    h, w = rgb.shape[0] - rgb.shape[0] % scale, rgb.shape[1] - rgb.shape[1] % scale  # modcrop
    return torch.from_numpy(np.array(rgb[:h, :w])).permute(2, 0, 1)[None].float() / 255.0


def _to_uint8(t: torch.Tensor) -> np.ndarray:
    return (t[0].clamp(0, 1) * 255.0).round().to(torch.uint8).permute(1, 2, 0).numpy()


def _lr_maker(name: str, scale: int, kwargs: dict) -> Any:
    """The degradation `name`, refused if it works on LR/HR pairs (`reads_pairs`) instead of making the LR."""
    fn = build_degradation(name, scale, **kwargs)
    if reads_pairs(fn):
        raise ConfigError(
            f"degradation {name!r} works on a dataset's LR/HR pairs and makes no LR from an HR image; "
            "use one that does (srzoo list degradations)"
        )
    return fn


def write_degraded_set(
    source: str,
    out: str | Path,
    *,
    degradation: str,
    kwargs: dict[str, Any] | None = None,
    scale: int = 4,
    seed: int = 0,
    root: str | Path | None = None,
    overwrite: bool = False,
) -> DegradedSet:
    """Degrade every HR image of `source` (a registered eval set or a folder) once, image i seeded by (seed, i).

    Writes `out/HR/<name>.png` (modcropped to the scale), `out/LR/X<s>/<name>x<s>.png` and `out/degradation.json`
    (degradation, kwargs, seed, scale, sources); `srzoo bench out` then scores models on these pairs.
    """
    from srzoo._version import __version__
    from srzoo.data.sets import open_eval_set
    from srzoo.imaging.datafiles import load_image, save_image

    out = Path(out)
    # a folder of HR images: OUT must not be it, nor hold it (--overwrite replaces OUT)
    if Path(source).is_dir():
        refuse_inside(source, out)
    if out.exists() and not overwrite:
        raise ConfigError(f"{out} exists; pass --overwrite to replace it or choose another output folder")
    kwargs = dict(kwargs or {})
    fn = _lr_maker(degradation, scale, kwargs)
    pairs = open_eval_set(source, scale, root=root).pairs
    files = []
    with atomic_dir(out, replace=overwrite) as tmp:
        for index, pair in enumerate(pairs):
            hr = _hr_tensor(load_image(pair.hr), scale)
            with torch.no_grad():
                lr = fn({"hr": hr}, image_generator(seed, index))["lr"]
            save_image(tmp / "HR" / f"{pair.name}.png", _to_uint8(hr))
            save_image(tmp / "LR" / f"X{scale}" / f"{pair.name}x{scale}.png", _to_uint8(lr))
            files.append(pair.name)
        manifest = {
            "degradation": degradation, "kwargs": kwargs, "seed": int(seed), "scale": int(scale),
            "source": str(source), "images": files, "srzoo": __version__, "torch": torch.__version__,
        }  # fmt: skip
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return DegradedSet(out, len(files), manifest)


def degradation_grid(
    source: str,
    out: str | Path,
    *,
    degradation: str,
    kwargs: dict[str, Any] | None = None,
    scale: int = 4,
    seed: int = 0,
    root: str | Path | None = None,
    images: int = 4,
    samples: int = 5,
    crop: int = 128,
) -> Path:
    """A PNG grid: per row one HR centre crop, then `samples` degradations of it (LR shown at HR size, nearest)."""
    from PIL import Image

    from srzoo.data.sets import open_eval_set
    from srzoo.imaging.datafiles import load_image

    crop -= crop % scale
    fn = _lr_maker(degradation, scale, dict(kwargs or {}))
    pairs = open_eval_set(source, scale, root=root).pairs[: max(1, images)]
    rows = []
    for index, pair in enumerate(pairs):
        hr = _hr_tensor(load_image(pair.hr), scale)
        h, w = hr.shape[-2:]
        if min(h, w) < crop:
            raise ConfigError(
                f"{pair.hr} is smaller than the {crop}-pixel grid crop; pass a smaller --grid-crop"
            )
        top, left = (h - crop) // 2 // scale * scale, (w - crop) // 2 // scale * scale
        hr = hr[..., top : top + crop, left : left + crop]
        cells = [hr]
        for k in range(samples):
            with torch.no_grad():
                lr = fn({"hr": hr}, image_generator(seed, index * samples + k))["lr"]
            cells.append(torch.nn.functional.interpolate(lr, scale_factor=scale, mode="nearest"))
        rows.append(torch.cat(cells, dim=-1))
    grid = _to_uint8(torch.cat(rows, dim=-2))
    out = Path(out)
    with atomic_write(out) as tmp:
        Image.fromarray(grid).save(tmp, format="PNG")
    return out
