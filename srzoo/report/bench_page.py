"""The bench page: the convention-stamped score table, per-set/per-image scores and a comparison per image."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from srzoo.errors import InputError
from srzoo.eval.tables import FORMATS, LOWER_IS_BETTER, BenchReport, ImageScore, SetResult, convention_line
from srzoo.framework.files import atomic_write
from srzoo.report._html import Cell, Table, esc, number_cell, slug, write_page
from srzoo.report.compare import Comparison, Variant

BASELINE = "bicubic"
HR, LR = "HR", "LR"
# Where a page keeps its pictures: images/<variant>/<set>/<image>.png (what `srzoo bench` saves SR into).
IMAGES = "images"
ImageFiles = Mapping[tuple[str, str, str], Path]  # (variant: model label | 'HR' | 'LR', set, image) -> PNG


def reference_images(eval_sets: Iterable[Any], folder: Path) -> dict[tuple[str, str, str], Path]:
    """Write each eval image's HR and LR as PNG under `folder`/{HR,LR}/<set>/<image>.png; their paths."""
    from srzoo.imaging.datafiles import save_image

    files: dict[tuple[str, str, str], Path] = {}
    for evalset in eval_sets:
        for image in evalset:
            for variant, pixels in ((HR, image.hr), (LR, image.lr)):
                path = folder / slug(variant) / slug(evalset.name) / f"{slug(image.name)}.png"
                files[(variant, evalset.name, image.name)] = save_image(path, pixels)
    return files


def model_images(report: BenchReport, folders: Mapping[str, Path]) -> dict[tuple[str, str, str], Path]:
    """SR outputs saved by run_bench(save_images_dir=...): `folders[model]/<set>/<image>.png`."""
    return {
        (r.model, r.set, i.name): folders[r.model] / r.set / f"{i.name}.png"
        for r in report.results
        if r.model in folders
        for i in r.images
    }


def bench_from_json(data: Mapping[str, Any]) -> BenchReport:
    """A BenchReport back from its results.json (as `BenchReport.write_json` wrote it)."""
    conv = dict(data["convention"])
    metrics = tuple(conv["metrics"])
    results = []
    for row in data["results"]:
        res = SetResult(row["model"], row["set"], int(row["scale"]), metrics)
        for img in row["images"]:
            res.images.append(ImageScore(img["name"], {m: img.get(m) for m in metrics}, img["seconds"]))
        res.seconds = sum(i.seconds for i in res.images)
        mpps = row.get("megapixels_per_second")
        res.megapixels = res.seconds * mpps if isinstance(mpps, (int, float)) and res.seconds else 0.0
        results.append(res)
    return BenchReport(conv, results, metrics, dict(data.get("metrics_unavailable", {})))


def load_bench_json(path: Path) -> BenchReport:
    try:
        return bench_from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path} is not a bench results.json ({type(exc).__name__}: {exc})") from None


def saved_images(report: BenchReport, folder: Path) -> dict[tuple[str, str, str], Path]:
    """The pictures of `report` found under `folder` (a page's images/ or run_bench's save_images_dir)."""
    found = {}
    for r in report.results:
        for i in r.images:
            for variant in (r.model, HR, LR):
                for path in (folder / variant / r.set / f"{i.name}.png",
                             folder / slug(variant) / slug(r.set) / f"{slug(i.name)}.png"):  # fmt: skip
                    if path.is_file():
                        found[(variant, r.set, i.name)] = path
                        break
    return found


def _place(src: Path, out_dir: Path, key: tuple[str, str, str]) -> str:
    """The image's URL relative to the page, copying it under out_dir/images/ when it lives elsewhere."""
    src = src.resolve()
    if not src.is_file():
        raise InputError(f"report image {src} does not exist; was the bench run with its images saved?")
    root = out_dir.resolve()
    if not src.is_relative_to(root):
        dest = root / IMAGES / slug(key[0]) / slug(key[1]) / f"{slug(key[2])}.png"
        with atomic_write(dest) as tmp:
            shutil.copyfile(src, tmp)
        src = dest
    return quote(src.relative_to(root).as_posix())


def _best(values: list[float | None], metric: str) -> float | None:
    present = [v for v in values if v is not None]
    if not present:
        return None
    return min(present) if metric in LOWER_IS_BETTER else max(present)


def _metric_head(metric: str) -> str:
    return metric.upper() + (" ↓" if metric in LOWER_IS_BETTER else "")


def summary_table(report: BenchReport) -> str:
    """A row per model: each set's mean of each metric, seconds per image, megapixels per second."""
    header = ["model"]
    header += [f"{s} {_metric_head(m)}" for s in report.sets for m in report.metrics]
    table = Table([*header, "s/img", "MP/s"])
    best = {
        (s, m): _best([r.mean(m) for r in report.results if r.set == s], m)
        for s in report.sets
        for m in report.metrics
    }
    for model in report.models:
        mine = {r.set: r for r in report.results if r.model == model}
        cells = [Cell(model)]
        for s in report.sets:
            for m in report.metrics:
                value = mine[s].mean(m) if s in mine else None
                cells.append(
                    number_cell(
                        value,
                        FORMATS[m],
                        unavailable=m in report.unavailable,
                        best=value is not None and value == best[(s, m)] and len(report.models) > 1,
                    )
                )
        seconds = sum(r.seconds for r in mine.values())
        images = sum(len(r.images) for r in mine.values())
        mp = sum(r.megapixels for r in mine.values())
        cells.append(number_cell(seconds / max(1, images), "{:.3g}"))
        cells.append(number_cell(mp / seconds if seconds > 0 else None, "{:.3g}"))
        table.add(cells, "baseline" if model == BASELINE else "")
    return table.render()


def _caption(score: ImageScore, metrics: tuple[str, ...]) -> str:
    parts = []
    for m in metrics:
        value = score.scores.get(m)
        if value is not None:
            parts.append(f"{m.upper()} {FORMATS[m].format(value)}{' dB' if m == 'psnr' else ''}")
    return " · ".join(parts)


def set_section(
    report: BenchReport, set_name: str, out_dir: Path, images: ImageFiles, prefix: str = ""
) -> str:
    """Per-image scores (sortable) and a comparison view per image of one set."""
    from srzoo.eval.figures import detail_box
    from srzoo.imaging.datafiles import load_image

    rows = [r for r in report.results if r.set == set_name]
    models = [r.model for r in rows]
    metrics = [m for m in report.metrics if m not in report.unavailable]
    header = ["image", *[f"{model} {_metric_head(m)}" for m in metrics for model in models]]
    table = Table(header)
    cards = []
    for first in rows[0].images:
        name = first.name
        key = f"{prefix}{slug(set_name)}-{slug(name)}"
        per_model = {r.model: next(i for i in r.images if i.name == name) for r in rows}
        cells = [Cell(f'<a href="#{esc(key)}">{esc(name)}</a>', name, html=True)]
        for m in metrics:
            values = [per_model[model].scores.get(m) for model in models]
            best = _best(values, m)
            cells += [
                number_cell(v, FORMATS[m], best=v is not None and v == best and len(models) > 1)
                for v in values
            ]
        table.add(cells)
        hr_path = images.get((HR, set_name, name))
        if hr_path is None:
            continue  # no HR picture recorded: scores only
        hr = load_image(hr_path)
        variants, index = [], {}
        lr_key = (LR, set_name, name)
        if lr_key in images:
            lr_label = f"LR (x{report.convention.get('scale', '?')} nearest)"
            variants.append(Variant(lr_label, _place(images[lr_key], out_dir, lr_key)))
        for model in models:
            k = (model, set_name, name)
            if k in images:
                index[model] = len(variants)
                variants.append(
                    Variant(model, _place(images[k], out_dir, k), _caption(per_model[model], metrics))
                )
        index[HR] = len(variants)
        variants.append(Variant(HR, _place(hr_path, out_dir, (HR, set_name, name)), "ground truth"))
        if len(variants) < 2:
            continue
        focus = models[-1] if models[-1] in index else HR
        left = index.get(BASELINE, 0)
        right = index[focus] if index[focus] != left else index[HR]
        card = Comparison(
            key, f"{set_name} / {name}", hr.shape[1], hr.shape[0], detail_box(hr), variants,
            left=left, right=right, overview=index[HR],
        )  # fmt: skip
        cards.append(card.render())
    return table.render() + "\n" + "\n".join(cards)


def bench_body(
    report: BenchReport, out_dir: Path, images: ImageFiles, *, level: int = 2, prefix: str = ""
) -> str:
    """The bench as HTML: stamp, summary table, then a section per set (scores and comparisons)."""
    h = f"h{level}"
    missing = [m for m in report.models if m != BASELINE] and BASELINE not in report.models
    parts = [
        f'<p class="stamp">{esc(convention_line(report.convention))}</p>',
        "".join(
            f'<p class="stamp unavailable">{esc(m.upper())} unavailable: {esc(why)}</p>'
            for m, why in report.unavailable.items()
        ),
        '<p class="stamp unavailable">No bicubic row: this bench ran without its baseline.</p>'
        if missing
        else "",
        summary_table(report),
        "<details><summary>convention (JSON)</summary><pre>"
        + esc(json.dumps(report.convention, indent=2, default=str))
        + "</pre></details>",
    ]
    for s in report.sets:
        parts.append(f'<{h} id="{esc(prefix)}set-{esc(slug(s))}">{esc(s)}</{h}>')
        parts.append(set_section(report, s, out_dir, images, prefix))
    return "\n".join(parts)


def write_bench_page(
    report: BenchReport, out_dir: str | Path, images: ImageFiles, *, title: str | None = None
) -> Path:
    """`out_dir`/index.html for a bench; pictures not already under `out_dir` are copied to out_dir/images.

    The scores go beside the page as results.json, so that the page can be rebuilt (e.g. inside a run's page).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report.write_json(out_dir / "results.json")
    scale = report.convention.get("scale")
    title = title or f"srzoo bench x{scale}: {', '.join(report.models)} on {', '.join(report.sets)}"
    toc = " ".join(f'<a href="#set-{esc(slug(s))}">{esc(s)}</a>' for s in report.sets)
    body = f'<h1>{esc(title)}</h1>\n<nav class="toc">{toc}</nav>\n' + bench_body(report, out_dir, images)
    return write_page(out_dir / "index.html", title, body)
