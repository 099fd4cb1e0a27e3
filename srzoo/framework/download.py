"""Fetch a URL into the cache with a progress bar, sha256 verification and an atomic rename."""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from srzoo.errors import DataError
from srzoo.framework.files import atomic_write, sha256_file


def download(
    url: str, dest: str | os.PathLike, *, sha256: str | None, what: str = "file", hint: str = ""
) -> Path:
    """Return `dest`, downloading `url` there first unless a file with the right hash is already present.

    The file appears under its final name only after the hash matched, so an interrupted download never
    looks complete. Failures raise DataError with the URL and `hint` (e.g. which option supplies a local copy).
    """
    dest = Path(dest)
    if dest.is_file() and (sha256 is None or sha256_file(dest) == sha256):
        return dest
    suffix = f"; {hint}" if hint else ""
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=60) as response, atomic_write(dest) as tmp:
            total = int(response.headers.get("Content-Length") or 0) or None
            with (
                open(tmp, "wb") as out,
                tqdm(
                    total=total, unit="B", unit_scale=True, desc=f"downloading {dest.name}", leave=False
                ) as bar,
            ):
                while block := response.read(1 << 20):
                    out.write(block)
                    digest.update(block)
                    bar.update(len(block))
            if sha256 is not None and digest.hexdigest() != sha256:
                raise DataError(
                    f"{what} from {url} has sha256 {digest.hexdigest()}, expected {sha256}: the download is "
                    f"corrupt or the file changed upstream; nothing was kept{suffix}"
                )
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataError(f"cannot download {what} from {url} ({reason}){suffix}") from None
    return dest
