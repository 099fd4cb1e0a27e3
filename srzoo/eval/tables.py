"""Bench results: per-image and per-set scores, and their renderings as a markdown table and as JSON."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from srzoo.framework.files import atomic_write

LOWER_IS_BETTER = frozenset({"niqe", "lpips"})
# Table precision: PSNR/SSIM as SR papers print them; JSON keeps full float64.
FORMATS = {"psnr": "{:.2f}", "ssim": "{:.4f}", "niqe": "{:.3f}", "lpips": "{:.4f}"}
UNAVAILABLE = "unavailable"


@dataclass
class ImageScore:
    """One output image's scores (None where a metric does not apply) and its model time."""

    name: str
    scores: dict[str, float | None]
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, **self.scores, "seconds": self.seconds}


@dataclass
class SetResult:
    """One model on one set: per-image scores, total model seconds and output megapixels."""

    model: str
    set: str
    scale: int
    metrics: tuple[str, ...]
    images: list[ImageScore] = field(default_factory=list)
    seconds: float = 0.0
    megapixels: float = 0.0

    def mean(self, metric: str) -> float | None:
        """Mean over the images that have the metric; None when none has it (e.g. LPIPS unavailable)."""
        values = [v for v in (i.scores.get(metric) for i in self.images) if v is not None]
        return float(sum(values) / len(values)) if values else None

    @property
    def seconds_per_image(self) -> float:
        return self.seconds / max(1, len(self.images))

    @property
    def megapixels_per_second(self) -> float:
        return self.megapixels / self.seconds if self.seconds > 0 else math.inf

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "set": self.set,
            "scale": self.scale,
            **{m: self.mean(m) for m in self.metrics},
            "n_images": len(self.images),
            "seconds_per_image": self.seconds_per_image,
            "megapixels_per_second": self.megapixels_per_second,
            "images": [i.to_json() for i in self.images],
        }


@dataclass
class BenchReport:
    """What `run_bench` returns: the convention the numbers were measured under, one SetResult per row/set."""

    convention: dict[str, Any]
    results: list[SetResult]
    metrics: tuple[str, ...]
    unavailable: dict[str, str] = field(default_factory=dict)
    show: int = 0
    figures: dict[str, Path] = field(default_factory=dict)

    @property
    def models(self) -> list[str]:
        return list(dict.fromkeys(r.model for r in self.results))

    @property
    def sets(self) -> list[str]:
        return list(dict.fromkeys(r.set for r in self.results))

    def result(self, model: str, set_name: str) -> SetResult:
        for r in self.results:
            if r.model == model and r.set == set_name:
                return r
        raise KeyError(f"no result for model {model!r} on set {set_name!r}")

    def to_json(self) -> dict[str, Any]:
        return {
            "convention": self.convention,
            "metrics_unavailable": dict(self.unavailable),
            "results": [r.to_json() for r in self.results],
            "figures": {k: str(v) for k, v in self.figures.items()},
        }

    def write_json(self, path: str | Path) -> Path:
        with atomic_write(path) as tmp:
            tmp.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        return Path(path)

    def cell(self, result: SetResult, metric: str) -> str:
        """A table cell: the set mean in paper precision, or 'unavailable'."""
        if metric in self.unavailable:
            return UNAVAILABLE
        value = result.mean(metric)
        return "n/a" if value is None else FORMATS[metric].format(value)

    def to_markdown(self) -> str:
        """The table (a row per model: metrics per set, s/img, MP/s), its convention and best/worst lists."""
        header = ["model"]
        for s in self.sets:
            header += [f"{s} {m.upper()}{' ↓' if m in LOWER_IS_BETTER else ''}" for m in self.metrics]
        header += ["s/img", "MP/s"]
        lines = ["| " + " | ".join(header) + " |", "|---" + "|---:" * (len(header) - 1) + "|"]
        for model in self.models:
            row = [model]
            mine = [r for r in self.results if r.model == model]
            for s in self.sets:
                result = next((r for r in mine if r.set == s), None)
                row += [self.cell(result, m) if result else "" for m in self.metrics]
            seconds = sum(r.seconds for r in mine)
            images = sum(len(r.images) for r in mine)
            mp = sum(r.megapixels for r in mine)
            row += [f"{seconds / max(1, images):.3g}", f"{mp / seconds:.3g}" if seconds > 0 else "inf"]
            lines.append("| " + " | ".join(row) + " |")
        lines += ["", convention_line(self.convention)]
        for metric, reason in self.unavailable.items():
            lines.append(f"{metric.upper()} unavailable: {reason}")
        if self.show > 0:
            lines += self._show_sections()
        return "\n".join(lines) + "\n"

    def write_markdown(self, path: str | Path) -> Path:
        with atomic_write(path) as tmp:
            tmp.write_text(self.to_markdown(), encoding="utf-8")
        return Path(path)

    def _show_sections(self) -> list[str]:
        models = self.models
        # a list per benchmarked model (the bicubic baseline, first, is a column of the others' lists)
        focuses = [m for m in models if m != "bicubic"] or models
        out: list[str] = []
        for focus, s in ((f, s) for f in focuses for s in self.sets):
            res = self.result(focus, s)
            ranked = best_and_worst(res, self.show)
            others = [self.result(m, s) for m in models if m != focus]
            head = ["", f"{focus} on {s}: best and worst {self.show} by PSNR", ""]
            cols = ["image", "rank", f"{focus} PSNR", *[f"{o.model} PSNR" for o in others]]
            out += [*head, "| " + " | ".join(cols) + " |", "|---|---" + "|---:" * (len(cols) - 2) + "|"]
            for label, img in ranked:
                vals = [_fmt_psnr(img.scores.get("psnr"))]
                vals += [_fmt_psnr(_image(o, img.name).scores.get("psnr")) for o in others]
                out.append(f"| {img.name} | {label} | " + " | ".join(vals) + " |")
        return out


def _image(result: SetResult, name: str) -> ImageScore:
    return next(i for i in result.images if i.name == name)


def _fmt_psnr(value: float | None) -> str:
    return "n/a" if value is None else FORMATS["psnr"].format(value)


def best_and_worst(result: SetResult, n: int) -> list[tuple[str, ImageScore]]:
    """[('best', img), ..., ('worst', img), ...] by PSNR; an image is listed once even when n > len/2."""
    ranked = sorted(result.images, key=lambda i: -(i.scores.get("psnr") or -math.inf))
    best = ranked[:n]
    worst = [i for i in reversed(ranked[-n:]) if i not in best]
    return [("best", i) for i in best] + [("worst", i) for i in worst]


def convention_line(conv: dict[str, Any]) -> str:
    """One sentence a table can carry so its numbers are reproducible."""
    sets = conv.get("sets", {})
    lr = ", ".join(f"{name}: {info['lr_source']}" for name, info in sets.items())
    return (
        f"x{conv.get('scale')}; PSNR/SSIM on {str(conv.get('channel', 'y')).upper()} "
        f"(BT.601, not rounded), crop border {conv.get('crop_border')}, SR output rounded to uint8; "
        f"LR: {lr}; device {conv.get('device')}, {conv.get('precision')}"
        + (f", convs {conv['conv_kernel']}" if conv.get("conv_kernel") else "")
        + (
            "; rows marked + are the mean over 8 flips/rotations (self-ensemble)"
            if conv.get("self_ensemble")
            else ""
        )
        + "; "
        f"srzoo {conv.get('srzoo_version')}, torch {conv.get('torch')}."
    )
