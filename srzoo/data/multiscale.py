"""Downscaled copies of an HR folder for multi-scale training (Real-ESRGAN's generate_multiscale_DF2K.py)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from srzoo.errors import ConfigError, DataError
from srzoo.framework.files import atomic_dir, atomic_write, refuse_inside

__all__ = ["FACTORS", "SHORT_SIDE", "Multiscale", "copy_sizes", "write_multiscale"]

log = logging.getLogger("srzoo")
# Real-ESRGAN's DF2K_multiscale: three scales, and one copy whose shorter side is 400 pixels.
FACTORS = (0.75, 0.5, 1 / 3)
SHORT_SIDE = 400
_KEEP_MODES = {"L", "LA", "RGB", "RGBA", "I;16", "I"}  # resized as they are; others go through RGB(A)


@dataclass(frozen=True)
class Multiscale:
    """What write_multiscale made: the output folder, the source images used and the copies written."""

    path: Path
    images: int
    copies: int
    skipped: list[str]


def copy_sizes(width: int, height: int, factors: tuple[float, ...], short_side: int) -> list[tuple[int, int]]:
    """(width, height) of each copy: int(side * factor) per factor, then (short_side > 0) the copy whose
    shorter side is `short_side`, the longer one int(short_side * ratio), as Real-ESRGAN's script sizes them."""
    sizes = [(int(width * f), int(height * f)) for f in factors]
    if short_side:
        if width < height:
            sizes.append((short_side, int(short_side * (height / width))))
        else:
            sizes.append((int(short_side * (width / height)), short_side))
    return sizes


def _check(factors: tuple[float, ...], short_side: int) -> None:
    if not factors and not short_side:
        raise ConfigError("no copies to make: give at least one scale or a short side > 0")
    bad = [f for f in factors if not 0 < f < 1]
    if bad:
        raise ConfigError(f"scales must be between 0 and 1 (downscaled copies), got {bad}")
    if short_side < 0:
        raise ConfigError(f"short side must be >= 0 (0: no such copy), got {short_side}")


def write_multiscale(
    source: str | Path,
    out: str | Path,
    *,
    factors: tuple[float, ...] = FACTORS,
    short_side: int = SHORT_SIDE,
    overwrite: bool = False,
) -> Multiscale:
    """Write `<stem>T<i>.png` for every image of `source` and copy i (PIL Lanczos, as the script), plus
    `multiscale.json`; the folder appears complete or not at all and never replaces `source` or a folder
    holding it. A copy with a side below one pixel is skipped and named in one warning."""
    from PIL import Image

    from srzoo.imaging.datafiles import IMAGE_EXTS

    factors, short_side = tuple(factors), int(short_side)
    _check(factors, short_side)
    source, out = Path(source), Path(out)
    if not source.is_dir():
        raise DataError(f"{source} is not a folder of HR images")
    files = sorted(
        p for p in source.iterdir() if p.suffix.lower() in IMAGE_EXTS and not p.name.startswith(".")
    )
    if not files:
        raise DataError(f"no images in {source} ({', '.join(IMAGE_EXTS)})")
    stems = [p.stem for p in files]
    twins = sorted({s for s in stems if stems.count(s) > 1})
    if twins:
        raise DataError(f"{source}: several images share the name {twins[0]!r}; their copies would collide")
    refuse_inside(source, out)
    if out.exists() and not overwrite:
        raise ConfigError(f"{out} exists; pass --overwrite to replace it or choose another output folder")
    copies, skipped = 0, []
    with atomic_dir(out, replace=overwrite) as tmp:
        for path in files:
            try:
                image = Image.open(path)
                image.load()
            except OSError as exc:
                raise DataError(f"{path}: not a readable image ({exc}); remove it or fix it") from None
            if image.mode not in _KEEP_MODES:  # palette / CMYK / 1-bit: resize the colours, not the indices
                image = image.convert("RGBA" if "transparency" in image.info else "RGB")
            for i, size in enumerate(copy_sizes(*image.size, factors, short_side)):
                if min(size) < 1:
                    skipped.append(f"{path.name} T{i} ({size[0]}x{size[1]})")
                    continue
                image.resize(size, resample=Image.LANCZOS).save(tmp / f"{path.stem}T{i}.png")
                copies += 1
        manifest = {
            "source": str(source.resolve()), "factors": list(factors), "short_side": short_side,
            "resample": "PIL Lanczos", "images": len(files), "copies": copies, "skipped": skipped,
        }  # fmt: skip
        with atomic_write(tmp / "multiscale.json") as f:
            f.write_text(json.dumps(manifest, indent=2) + "\n")
    if skipped:
        log.warning("skipped %d copies smaller than one pixel: %s", len(skipped), "; ".join(skipped))
    return Multiscale(out, len(files), copies, skipped)
