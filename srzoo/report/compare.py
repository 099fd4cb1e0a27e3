"""The comparison view's HTML: a two-image slider, pixel-exact zoom, an overview and synchronised tiles."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from srzoo.report._html import esc

ZOOMS = ("fit", "1", "2", "4", "8")
DEFAULT_ZOOM = "2"  # SR differences are pixel-level: start magnified on the most detailed region


@dataclass
class Variant:
    """One picture of the same scene: an SR output, the HR, the bicubic baseline or the (magnified) LR."""

    label: str
    src: str  # URL relative to the page
    caption: str = ""  # e.g. '28.42 dB / 0.8123'


@dataclass
class Comparison:
    """One image across variants; all are shown on the HR pixel grid (width x height)."""

    key: str  # HTML id
    title: str
    width: int
    height: int
    region: tuple[int, int, int]  # (left, top, side) in HR pixels: where the view starts
    variants: list[Variant]
    left: int = 0  # indices of the variants the slider starts with
    right: int = 1
    overview: int = 0  # variant drawn in the overview thumbnail (the HR when there is one)
    tiles: Sequence[int] | None = None  # which variants get a tile (None: all)
    note: str = ""
    extra: list[str] = field(default_factory=list)  # HTML shown under the title (e.g. a score table)

    def render(self) -> str:
        if len(self.variants) < 2:
            raise ValueError(f"comparison {self.title!r} needs at least two images")
        x, y, side = self.region
        tiles = range(len(self.variants)) if self.tiles is None else self.tiles

        def select(css: str, chosen: int) -> str:
            opts = "".join(
                f'<option value="{esc(v.src)}"{" selected" if i == chosen else ""}>{esc(v.label)}</option>'
                for i, v in enumerate(self.variants)
            )
            return f'<select class="{css}">{opts}</select>'

        zoom = "".join(
            f'<option value="{z}"{" selected" if z == DEFAULT_ZOOM else ""}>{z if z == "fit" else f"{z}x"}'
            "</option>"
            for z in ZOOMS
        )
        a, b = self.variants[self.left], self.variants[self.right]
        tile_html = "".join(
            f'<figure><div class="vp"><img loading="lazy" decoding="async" src="{esc(self.variants[i].src)}" '
            f'alt="{esc(self.variants[i].label)}"></div><figcaption><b>{esc(self.variants[i].label)}</b>'
            f"{esc(self.variants[i].caption)}</figcaption></figure>"
            for i in tiles
        )
        return f"""<div class="cmp" id="{esc(self.key)}" data-w="{self.width}" data-h="{self.height}" \
data-region="{x},{y},{side}">
<div class="cmp-head"><h3>{esc(self.title)}</h3>
<label>left {select("cmp-a", self.left)}</label><label>right {select("cmp-b", self.right)}</label>
<label>zoom <select class="cmp-z">{zoom}</select></label>
<label>split <input class="cmp-range" type="range" min="0" max="1000" value="500"></label></div>
{"".join(self.extra)}
<div class="cmp-body">
<div class="cmp-overview" title="click or drag to choose the region">\
<img loading="lazy" decoding="async" src="{esc(self.variants[self.overview].src)}" alt="overview" \
width="{self.width}" height="{self.height}"><div class="cmp-box"></div></div>
<div class="cmp-slider vp px"><img loading="lazy" decoding="async" src="{esc(b.src)}" alt="right">\
<div class="cmp-clip"><img loading="lazy" decoding="async" src="{esc(a.src)}" alt="left"></div>\
<div class="cmp-handle"></div><span class="cmp-tag a">{esc(a.label)}</span>\
<span class="cmp-tag b">{esc(b.label)}</span></div>
</div>
<div class="cmp-tiles">{tile_html}</div>
<div class="cmp-hint">Drag the white handle to move the split; drag a zoomed view or a tile to pan all \
of them together; click the thumbnail to choose a region. Zoom is nearest-neighbour: one image pixel is \
zoom x zoom screen pixels. {esc(self.note)}</div>
</div>"""
