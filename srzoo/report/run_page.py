"""The training-run page: loss, validation and learning-rate curves, validation crops per step, the recipe."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from srzoo.errors import InputError
from srzoo.eval.tables import BenchReport
from srzoo.report._html import Cell, Table, esc, number_cell, slug, write_page
from srzoo.report.bench_page import IMAGES, ImageFiles, _place, bench_body, load_bench_json, saved_images
from srzoo.report.compare import Comparison, Variant
from srzoo.report.svg import line_chart

MAX_TILES = 6  # SR steps that get a tile per sample (all steps stay in the slider's menus)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Records of a .jsonl file; non-finite numbers (written as strings) become float('nan'/'inf')."""
    records = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise InputError(f"{path}:{n} is not a JSON line; is this a srzoo run directory?") from None
        for key, value in record.items():
            if isinstance(value, str) and value in ("nan", "inf", "-inf"):
                record[key] = float(value)
        records.append(record)
    return records


def _phases(recipe: Mapping[str, Any], records: list[dict[str, Any]]) -> list[tuple[str, str, int | None]]:
    """(name, type, iterations) per phase: from the recipe as run, else in order of the metrics file."""
    phases = [
        (str(p.get("name")), str(p.get("type", "")), p.get("iters")) for p in recipe.get("phases") or []
    ]
    if phases:
        return phases
    return [(p, "", None) for p in dict.fromkeys(r.get("phase", "") for r in records)]


def _boundaries(
    phases: list[tuple[str, str, int | None]], records: list[dict[str, Any]]
) -> list[tuple[float, str]]:
    """Where each phase after the first starts (global step), for dashed lines on whole-run charts."""
    marks, start = [], 0
    for i, (name, _, iters) in enumerate(phases):
        first = [r["step"] for r in records if r.get("phase") == name]
        begin = start if iters is not None else (min(first) if first else start)
        if i > 0:
            marks.append((float(begin), name))
        start = begin + (iters or 0)
    return marks


def _series(records: list[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    rows = [(r["step"], r[key]) for r in records if isinstance(r.get(key), (int, float))]
    return [float(s) for s, _ in rows], [float(v) for _, v in rows]


def curves(records: list[dict[str, Any]], phases: list[tuple[str, str, int | None]]) -> str:
    """Training losses per phase, then validation metrics and learning rates over the whole run."""
    keys = list(dict.fromkeys(k for r in records for k in r if "/" in k))
    marks = _boundaries(phases, records)
    parts = []
    for name, kind, _ in phases:
        mine = [r for r in records if r.get("phase") == name]
        charts = [
            line_chart(k.removeprefix("train/"), [(k, *_series(mine, k))])
            for k in keys
            if k.startswith("train/") and any(k in r for r in mine)
        ]
        if charts:
            parts.append(f"<h3>phase {esc(name)}{f' ({esc(kind)})' if kind else ''}: training losses</h3>")
            parts.append('<div class="charts">' + "".join(charts) + "</div>")
    val = [k for k in keys if k.startswith("val/")]
    if val:
        charts = []
        for metric in dict.fromkeys(k.rsplit("/", 1)[-1] for k in val):
            series = [(k.split("/")[1], *_series(records, k)) for k in val if k.rsplit("/", 1)[-1] == metric]
            charts.append(line_chart(f"validation {metric}", series, marks=marks))
        parts.append("<h3>validation</h3>" + '<div class="charts">' + "".join(charts) + "</div>")
    lr = [k for k in keys if k.startswith("lr/")]
    if lr:
        series = [(k.removeprefix("lr/"), *_series(records, k)) for k in lr]
        parts.append(
            "<h3>learning rate</h3>"
            + '<div class="charts">'
            + line_chart("learning rate", series, marks=marks)
            + "</div>"
        )
    return "\n".join(parts) or "<p>No metrics were logged.</p>"


def _pick(n: int, k: int) -> list[int]:
    """k indices spread over range(n), first and last included."""
    if n <= k:
        return list(range(n))
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


def samples_section(run_dir: Path, out_dir: Path) -> str:
    """A comparison view per saved validation image: LR, bicubic, the SR at each step, HR."""
    from srzoo.imaging.datafiles import probe_image

    index = run_dir / "samples" / "index.jsonl"
    if not index.is_file():
        return "<p>This run saved no validation images (no validation set, or an older srzoo).</p>"
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for rec in read_jsonl(index):
        groups.setdefault((rec["set"], rec["image"]), []).append(rec)
    cards = []
    for (set_name, image), recs in groups.items():
        recs = sorted(
            {r["step"]: r for r in recs}.values(), key=lambda r: r["step"]
        )  # a resumed run may repeat
        folder = (run_dir / recs[0]["file"]).parent
        refs = {name: folder / f"{name}.png" for name in ("lr", "bicubic", "hr")}
        if not all(p.is_file() for p in refs.values()):
            continue
        width, height = probe_image(refs["hr"], verify=False)

        def place(path: Path, variant: str, key: tuple[str, str] = (set_name, image)) -> str:
            return _place(path, out_dir, (variant, *key))

        variants = [Variant(f"LR (x{recs[0].get('scale', '?')} nearest)", place(refs["lr"], "LR")),
                    Variant("bicubic", place(refs["bicubic"], "bicubic"))]  # fmt: skip
        for r in recs:
            scores = [(k, r.get(k)) for k in ("psnr_y", "ssim_y") if isinstance(r.get(k), (int, float))]
            caption = " · ".join(f"PSNR {v:.2f} dB" if k == "psnr_y" else f"SSIM {v:.4f}" for k, v in scores)
            variants.append(
                Variant(
                    f"step {r['step']} ({r.get('phase', '')})",
                    place(run_dir / r["file"], f"step_{r['step']}"),
                    caption,
                )
            )
        variants.append(Variant("HR", place(refs["hr"], "HR"), "ground truth"))
        steps = [2 + i for i in _pick(len(recs), MAX_TILES)]
        last = len(variants) - 1
        card = Comparison(
            f"val-{slug(set_name)}-{slug(image)}", f"{set_name} / {image} (validation crop)", width, height,
            (0, 0, min(width, height)), variants, left=1, right=last - 1, overview=last,
            tiles=[0, 1, *steps, last], note=f"{len(recs)} validation steps; all are in the left/right menus.",
        )  # fmt: skip
        cards.append(card.render())
    return "\n".join(cards)


def _read_recipe(run_dir: Path) -> tuple[str, dict[str, Any]]:
    import yaml

    path = run_dir / "recipe.yaml"
    if not path.is_file():
        return "", {}
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        data = None
    return text, data if isinstance(data, dict) else {}


def write_run_page(
    run_dir: str | Path,
    out_dir: str | Path | None = None,
    *,
    bench: tuple[BenchReport, ImageFiles] | None = None,
    title: str | None = None,
) -> Path:
    """`out_dir` (default RUN_DIR/report)/index.html for a training run; returns the page's path.

    `bench`: a bench of the run's weights to show at the end; by default RUN_DIR/bench/results.json when
    there is one, with the pictures under RUN_DIR/bench/images (`srzoo bench --weights RUN_DIR --sets ...
    --report RUN_DIR/bench` writes both).
    """
    run_dir = Path(run_dir)
    metrics = run_dir / "metrics.jsonl"
    recipe_text, recipe = _read_recipe(run_dir)
    if not run_dir.is_dir() or not (metrics.is_file() or recipe_text):
        raise InputError(
            f"{run_dir} is not a training run directory (no metrics.jsonl or recipe.yaml); "
            "pass the output directory of `srzoo train`"
        )
    out_dir = Path(out_dir) if out_dir is not None else run_dir / "report"
    out_dir.mkdir(parents=True, exist_ok=True)
    records = read_jsonl(metrics) if metrics.is_file() else []
    phases = _phases(recipe, records)
    name = str(recipe.get("name") or run_dir.resolve().name)
    title = title or f"srzoo training run: {name}"
    last = max((r["step"] for r in records), default=0)
    table = Table(["phase", "type", "iterations", "last logged step"])
    for pname, kind, iters in phases:
        steps = [r["step"] for r in records if r.get("phase") == pname]
        planned = number_cell(iters, "{:d}") if iters is not None else Cell("?", "")
        table.add([Cell(pname), Cell(kind), planned, number_cell(max(steps) if steps else None, "{:d}")])
    weights = sorted(p.name for p in run_dir.glob("*.safetensors"))
    if bench is None and (run_dir / "bench" / "results.json").is_file():
        report = load_bench_json(run_dir / "bench" / "results.json")
        bench = report, saved_images(report, run_dir / "bench" / IMAGES)
    body = [
        f"<h1>{esc(title)}</h1>",
        '<nav class="toc"><a href="#curves">curves</a> <a href="#samples">validation images</a> '
        + ('<a href="#bench">bench</a> ' if bench else "")
        + '<a href="#recipe">recipe</a></nav>',
        f'<p class="stamp">run directory {esc(run_dir.resolve())}; last logged step {last}; '
        f"weights: {esc(', '.join(weights) or 'none yet')}</p>",
        table.render(),
        '<h2 id="curves">Curves</h2>',
        curves(records, phases),
        '<h2 id="samples">Validation images</h2>',
        samples_section(run_dir, out_dir),
    ]
    if bench is not None:
        body += [
            '<h2 id="bench">Bench</h2>',
            bench_body(bench[0], out_dir, bench[1], level=3, prefix="bench-"),
        ]
    body += ['<h2 id="recipe">Recipe as run</h2>', f"<pre>{esc(recipe_text or 'recipe.yaml missing')}</pre>"]
    return write_page(out_dir / "index.html", title, "\n".join(body))
