"""Headless Chromium for the report tests and benchmarks/report_screenshot.py (Playwright, system browser)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# Chromium as root in a container: no sandbox, no GPU, nothing that talks to the network on its own.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser() -> str | None:
    """$SRZOO_CHROMIUM, else the first Chromium on PATH (Debian's package installs /usr/bin/chromium)."""
    explicit = os.environ.get("SRZOO_CHROMIUM")
    if explicit:
        return explicit
    return next((path for name in CANDIDATES if (path := shutil.which(name))), None)


def why_no_browser() -> str | None:
    """None when a page can be opened; else the reason (for a skip message)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the python package 'playwright' is not installed (pip install -e '.[test]')"
    if find_browser() is None:
        return "no Chromium found (apt-get install chromium, or set SRZOO_CHROMIUM to the browser)"
    return None


@contextmanager
def open_page(width: int = 1280, height: int = 900) -> Iterator[tuple[Any, list[str], list[str]]]:
    """(page, console errors and page errors, non-file requests) in a fresh headless Chromium."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    remote: list[str] = []
    with tempfile.TemporaryDirectory(prefix="srzoo-chromium-") as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=find_browser(), headless=True, args=FLAGS,
            viewport={"width": width, "height": height},
        )  # fmt: skip
        try:
            page = context.new_page()
            page.on(
                "console",
                lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
            page.on(
                "request", lambda r: None if r.url.startswith(("file:", "data:")) else remote.append(r.url)
            )
            yield page, errors, remote
        finally:
            context.close()
