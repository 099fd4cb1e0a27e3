"""HTML building blocks of the report pages: escaping, the page shell with inlined CSS/JS, score tables."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from srzoo.framework.files import atomic_write

_SLUG = re.compile(r"[^A-Za-z0-9._-]+")


def esc(value: object) -> str:
    """Text or attribute value, HTML-escaped (quotes included)."""
    return html.escape(str(value), quote=True)


def slug(name: str) -> str:
    """A file/folder/id-safe form of a label ('esrgan tiny psnr' -> 'esrgan_tiny_psnr')."""
    return _SLUG.sub("_", name).strip("_") or "_"


def asset(name: str) -> str:
    """A file shipped in srzoo/report/static (package data)."""
    return resources.files("srzoo.report").joinpath("static", name).read_text(encoding="utf-8")


def write_page(path: Path, title: str, body: str) -> Path:
    """index.html with the CSS and JS inlined: one file plus its images, no network, works from file://."""
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>\n{asset('report.css')}</style>\n</head>\n<body>\n"
        f"{body}\n<script>\n{asset('report.js')}</script>\n</body>\n</html>\n"
    )
    with atomic_write(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path


@dataclass
class Cell:
    """A table cell: shown text, a sort value (None: text sort; NaN-like missing: '') and CSS classes."""

    text: str
    sort: float | str | None = None
    classes: str = ""
    html: bool = False  # text is already HTML (e.g. a link)

    def render(self) -> str:
        attrs = ""
        if self.sort is not None:
            attrs += f' data-v="{esc(self.sort)}"'
        classes = self.classes if self.sort is not None else f"{self.classes} text".strip()  # words: left
        if classes:
            attrs += f' class="{esc(classes)}"'
        return f"<td{attrs}>{self.text if self.html else esc(self.text)}</td>"


@dataclass
class Table:
    """A sortable score table (one header row so a column index is the same in header and body)."""

    header: Sequence[str]
    rows: list[tuple[list[Cell], str]] = field(default_factory=list)  # (cells, row CSS class)
    css: str = "scores"

    def add(self, cells: list[Cell], row_class: str = "") -> None:
        self.rows.append((cells, row_class))

    def render(self) -> str:
        head = "".join(f'<th class="sortable" scope="col">{esc(h)}</th>' for h in self.header)
        body = []
        for cells, row_class in self.rows:
            cls = f' class="{esc(row_class)}"' if row_class else ""
            body.append(f"<tr{cls}>" + "".join(c.render() for c in cells) + "</tr>")
        return (
            f'<div class="tablewrap"><table class="{self.css}"><thead><tr>{head}</tr></thead>\n<tbody>\n'
            + "\n".join(body)
            + "\n</tbody></table></div>"
        )


def number_cell(value: float | None, fmt: str, *, unavailable: bool = False, best: bool = False) -> Cell:
    if unavailable:
        return Cell("unavailable", "", "unavailable")
    if value is None:
        return Cell("n/a", "")
    return Cell(fmt.format(value), value, "best" if best else "")
