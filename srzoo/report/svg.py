"""Line charts as inline SVG, drawn in Python: the report pages need no plotting library in the browser."""

from __future__ import annotations

import math
from collections.abc import Sequence

from srzoo.report._html import esc

COLOURS = ("#0b62c4", "#d1495b", "#2a9d8f", "#e9a23b", "#6a4c93", "#5f6b76", "#8ab17d", "#c2185b")
_PAD_L, _PAD_R, _PAD_T, _PAD_B = 62, 12, 24, 30
Series = tuple[str, Sequence[float], Sequence[float]]  # (label, xs, ys)


def nice_ticks(lo: float, hi: float, count: int = 5, *, integer: bool = False) -> list[float]:
    """Round tick values from at or below `lo` to at or above `hi` (1, 2 or 5 times a power of ten apart).

    `integer`: ticks at least 1 apart (training steps are whole numbers).
    """
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        lo, hi = lo - (abs(lo) or 1.0) * 0.05, hi + (abs(hi) or 1.0) * 0.05
    raw = (hi - lo) / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    step = max(step, 1) if integer else step
    first, last = math.floor(lo / step), math.ceil(hi / step)
    return [round(i * step, 12) for i in range(first, last + 1)]


def _fmt(v: float, step: float) -> str:
    """A tick label with as many decimals as the tick spacing needs."""
    if v == 0:
        return "0"
    if abs(v) >= 1e5 or abs(v) < 1e-3:
        return f"{v:.2g}"
    decimals = min(6, max(0, -math.floor(math.log10(step)))) if step > 0 else 3
    return f"{v:.{decimals}f}"


def line_chart(
    title: str,
    series: Sequence[Series],
    *,
    marks: Sequence[tuple[float, str]] = (),
    width: int = 420,
    height: int = 220,
    x_label: str = "step",
) -> str:
    """An <svg> with one polyline per series (finite points only), a legend and dashed vertical `marks`."""
    points = [(x, y) for _, xs, ys in series for x, y in zip(xs, ys) if math.isfinite(x) and math.isfinite(y)]
    out = [f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">']
    out.append(f'<text class="title" x="{_PAD_L}" y="15">{esc(title)}</text>')
    if not points:
        out.append(f'<text x="{_PAD_L}" y="{height // 2}">no finite values</text></svg>')
        return "".join(out)
    xs_all, ys_all = [p[0] for p in points], [p[1] for p in points]
    x0, x1 = min(xs_all), max(xs_all)
    if x1 <= x0:
        x0, x1 = x0 - 1, x0 + 1
    xt, yt = nice_ticks(x0, x1, integer=True), nice_ticks(min(ys_all), max(ys_all))
    y0, y1 = yt[0], yt[-1]
    xstep, ystep = xt[1] - xt[0], yt[1] - yt[0]
    pw, ph = width - _PAD_L - _PAD_R, height - _PAD_T - _PAD_B

    def sx(x: float) -> float:
        return _PAD_L + (x - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return _PAD_T + ph - (y - y0) / (y1 - y0) * ph

    for t in yt:
        out.append(f'<line class="grid" x1="{_PAD_L}" x2="{_PAD_L + pw}" y1="{sy(t):.1f}" y2="{sy(t):.1f}"/>')
        out.append(f'<text x="{_PAD_L - 4}" y="{sy(t) + 3:.1f}" text-anchor="end">{_fmt(t, ystep)}</text>')
    for t in xt:
        if x0 <= t <= x1:
            out.append(
                f'<text x="{sx(t):.1f}" y="{_PAD_T + ph + 13}" text-anchor="middle">{_fmt(t, xstep)}</text>'
            )
    out.append(f'<text x="{_PAD_L + pw}" y="{height - 3}" text-anchor="end">{esc(x_label)}</text>')
    out.append(
        f'<polyline class="axis" fill="none" points="{_PAD_L},{_PAD_T} {_PAD_L},{_PAD_T + ph} '
        f'{_PAD_L + pw},{_PAD_T + ph}"/>'
    )
    for x, label in marks:
        if x0 < x < x1:
            out.append(
                f'<line class="phase" x1="{sx(x):.1f}" x2="{sx(x):.1f}" y1="{_PAD_T}" y2="{_PAD_T + ph}"/>'
            )
            out.append(f'<text x="{sx(x) + 3:.1f}" y="{_PAD_T + 10}">{esc(label)}</text>')
    for i, (label, xs, ys) in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        pts = [(sx(x), sy(y)) for x, y in zip(xs, ys) if math.isfinite(x) and math.isfinite(y)]
        if not pts:
            continue
        if len(pts) == 1:
            out.append(f'<circle cx="{pts[0][0]:.1f}" cy="{pts[0][1]:.1f}" r="3" fill="{colour}"/>')
        else:
            coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{coords}">')
            out.append(f"<title>{esc(label)}</title></polyline>")
            if len(pts) <= 40:  # few points (validation): mark them
                out += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.2" fill="{colour}"/>' for x, y in pts]
        if len(series) > 1:
            lx = _PAD_L + 8 + (i % 3) * (pw // 3)
            ly = _PAD_T + 12 + (i // 3) * 12
            out.append(f'<rect x="{lx}" y="{ly - 7}" width="10" height="3" fill="{colour}"/>')
            out.append(f'<text x="{lx + 13}" y="{ly - 3}">{esc(label)}</text>')
    out.append("</svg>")
    return "".join(out)
