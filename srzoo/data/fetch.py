"""Fetch a dataset archive, verify it, extract it and arrange it into srzoo's layout, atomic per folder."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path

from srzoo.data.catalog import Archive
from srzoo.errors import DataError
from srzoo.framework.download import download
from srzoo.framework.files import atomic_dir

log = logging.getLogger("srzoo")
DOWNLOADS = ".downloads"  # archives are kept here (under the data root) only until they are extracted


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def verify_archive(path: Path, archive: Archive) -> None:
    """Check size and md5 where published (sha256 is checked by the downloader); delete the file if wrong."""
    problem = None
    if archive.size is not None and path.stat().st_size != archive.size:
        problem = f"has {path.stat().st_size} bytes, expected {archive.size}"
    elif archive.md5 is not None and (got := _md5(path)) != archive.md5:
        problem = f"has md5 {got}, expected {archive.md5}"
    if problem:
        path.unlink(missing_ok=True)
        raise DataError(
            f"{archive.filename} from {archive.url} {problem}: the download is corrupt or the file changed "
            "upstream; nothing was kept"
        )


def extract(path: Path, dest: Path) -> None:
    """Unpack a .zip or .tar(.gz) into `dest`, refusing members that would land outside it."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                zf.extractall(dest)  # zipfile strips absolute paths and '..'
        elif tarfile.is_tarfile(path):
            with tarfile.open(path) as tf:
                if hasattr(tarfile, "data_filter"):
                    tf.extractall(dest, filter="data")  # rejects links and paths outside dest
                else:  # Python before 3.10.12 / 3.11.4: the same rules by hand
                    for member in tf.getmembers():
                        parts = Path(member.name).parts
                        if member.issym() or member.islnk() or member.name.startswith("/") or ".." in parts:
                            raise DataError(f"{path} has an unsafe member {member.name!r}; not extracting it")
                    tf.extractall(dest)
        else:
            raise DataError(f"{path} is neither a zip nor a tar archive; delete it and download again")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise DataError(f"cannot extract {path} ({exc}); delete it and download again") from None


def _copy_images(src: Path, dst: Path, to_png: bool) -> int:
    """Move the image files of `src` (recursively, keeping sub-folders) into `dst`; returns how many."""
    from srzoo.imaging.datafiles import is_image_file, load_image, save_image

    count = 0
    for path in sorted(src.rglob("*")):
        if not is_image_file(path):
            continue  # e.g. Thumbs.db, ground-truth .mat files
        rel = path.relative_to(src)
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if to_png and path.suffix.lower() != ".png":
            save_image(target.with_suffix(".png"), load_image(path))  # lossless: the decoded pixels
        else:
            os.replace(path, target)
        count += 1
    return count


def arrange(archive: Archive, extracted: Path, root: Path) -> list[Path]:
    """Install each (archive folder -> root folder) move that is not present yet; returns the new folders.

    Each destination is built in a temporary folder and renamed into place when complete, so an interrupted
    run never leaves a folder that looks like a finished dataset.
    """
    made = []
    for pattern, dst in archive.moves:
        dest = root / dst
        if dest.exists():
            continue
        found = [p for p in sorted(extracted.glob(pattern)) if p.is_dir()]
        if len(found) != 1:
            raise DataError(
                f"{archive.filename} has {len(found)} folders matching {pattern!r}, expected one: the "
                f"archive layout changed upstream; report it (url {archive.url})"
            )
        with atomic_dir(dest) as tmp:
            if _copy_images(found[0], tmp, archive.to_png) == 0:
                raise DataError(f"{archive.filename}: folder {pattern!r} holds no images (url {archive.url})")
        made.append(dest)
    return made


def fetch(archive: Archive, root: Path, *, what: str, expected: Path) -> list[Path]:
    """Download, verify, extract and arrange one archive under `root`."""
    root.mkdir(parents=True, exist_ok=True)
    target = root / DOWNLOADS / archive.filename
    hint = f"or put the extracted files at {expected} yourself (or the archive at {target})"
    log.info("downloading %s for %s from %s", archive.filename, what, archive.url)
    download(archive.url, target, sha256=archive.sha256, what=f"{what} ({archive.filename})", hint=hint)
    verify_archive(target, archive)
    scratch = Path(tempfile.mkdtemp(prefix=".extract-", dir=root))
    try:
        extract(target, scratch)
        made = arrange(archive, scratch, root)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    target.unlink(missing_ok=True)  # the archive is only a means; keeping it would double the disk use
    return made
