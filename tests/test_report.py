"""HTML reports without a browser: rows, image files, relative paths, curves, samples, the CLI's errors."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srzoo.cli import main
from tests.report_support import IMAGES, SCALE, SIDE, bench_page, run_dir


class _Page(HTMLParser):
    """The parts of a page the tests look at: image sources, table rows per table, comparison views."""

    def __init__(self) -> None:
        super().__init__()
        self.srcs: list[str] = []
        self.options: list[str] = []
        self.tables: list[int] = []
        self.cmps: list[dict[str, str]] = []
        self.scripts_with_src = 0
        self.links = 0
        self._in_tbody = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "img":
            self.srcs.append(a["src"])
        elif tag == "option" and a.get("value", "").endswith(".png"):
            self.options.append(a["value"])
        elif tag == "tbody":
            self.tables.append(0)
            self._in_tbody = True
        elif tag == "tr" and self._in_tbody:
            self.tables[-1] += 1
        elif tag == "div" and "cmp" in a.get("class", "").split():
            self.cmps.append(a)
        elif tag == "script" and "src" in a:
            self.scripts_with_src += 1
        elif tag == "link":
            self.links += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_tbody = False


def parse(page: Path) -> tuple[str, _Page]:
    text = page.read_text(encoding="utf-8")
    parser = _Page()
    parser.feed(text)
    return text, parser


def test_bench_page_rows_images_and_relative_paths(tmp_path: Path) -> None:
    page, report = bench_page(tmp_path / "a")
    text, html = parse(page)
    # Summary: a row per model; the set's table: a row per image; a comparison view per image.
    assert html.tables == [2, IMAGES]
    assert len(html.cmps) == IMAGES
    assert all(c["data-w"] == str(SIDE) and c["data-h"] == str(SIDE) for c in html.cmps)
    assert '<tr class="baseline"><td class="text">bicubic</td>' in text
    bicubic = report.result("bicubic", report.sets[0]).mean("psnr")
    nearest = report.result("nearest", report.sets[0]).mean("psnr")
    assert bicubic > nearest  # bicubic beats pixel replication: the better mean is the bold one
    assert f'<td data-v="{bicubic}" class="best">{bicubic:.2f}</td>' in text
    # Offline and self-contained: no external script, stylesheet or URL; every picture beside the page.
    assert html.scripts_with_src == 0 and html.links == 0
    assert not re.search(r"(src|href)=\"(https?:|file:|/)", text)
    sources = set(html.srcs) | set(html.options)
    # Per image: LR, bicubic, nearest, HR (the nearest outputs were copied in from outside the page).
    assert len(sources) == 4 * IMAGES
    for src in sources:
        with Image.open(page.parent / src) as im:
            side = SIDE // SCALE if src.startswith("images/LR/") else SIDE
            assert im.size == (side, side), src
    # The folder can move: nothing points outside it.
    moved = shutil.copytree(page.parent, tmp_path / "moved")
    shutil.rmtree(tmp_path / "a")
    assert all((moved / src).is_file() for src in sources)


def test_bench_cli_report_and_no_baseline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.report_support import hr_folder

    folder = hr_folder(tmp_path)
    out = tmp_path / "page"
    assert main(["bench", "--arch", "bicubic", "--sets", str(folder), "--report", str(out), "--quiet"]) == 0
    _, html = parse(out / "index.html")
    assert html.tables == [1, IMAGES] and len(html.cmps) == IMAGES
    assert all((out / src).is_file() for src in html.srcs)
    assert sorted(p.name for p in (out / "images").iterdir()) == ["HR", "LR", "bicubic"]
    capsys.readouterr()
    code = main(["bench", "--arch", "bicubic", "--sets", str(folder), "--report", str(out), "--no-baseline"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.count("\n") == 0 and "drop --no-baseline" in err


def test_run_page_curves_samples_recipe(tmp_path: Path) -> None:
    from srzoo.report import write_run_page

    run = run_dir(tmp_path)
    index = [json.loads(line) for line in (run / "samples" / "index.jsonl").read_text().splitlines()]
    assert [(r["step"], r["image"]) for r in index] == [
        (s, f"img{i:02d}") for s in (4, 8) for i in range(IMAGES)
    ]
    page = write_run_page(run)
    assert page == run / "report" / "index.html"
    text, html = parse(page)
    # Charts: warm g/l1; fine g/l1, g/adv, d/adv; validation psnr_y and ssim_y; one learning-rate chart.
    assert text.count('<svg class="chart"') == 1 + 3 + 2 + 1
    assert "no finite values" not in text  # the NaN record is skipped, the rest of g/l1 drawn
    warm = text[text.index("phase warm") : text.index("phase fine")]
    points = re.search(r'<polyline fill="none" stroke="[^"]+" stroke-width="1.5" points="([^"]+)"', warm)
    assert points is not None and len(points.group(1).split()) == 4  # steps 1..4 of the warm phase
    # A comparison per saved validation image: LR, bicubic, step 4, step 8, HR, all copied beside the page.
    assert len(html.cmps) == IMAGES
    assert len(set(html.options)) == IMAGES * 5
    assert all((page.parent / src).is_file() for src in html.options)
    assert "step 8 (fine)" in text and "report_test" in text and "type: adversarial" in text


def test_saved_samples_are_crops_of_the_validation_outputs(tmp_path: Path) -> None:
    import torch

    from srzoo.data.sets import open_eval_set
    from srzoo.imaging.datafiles import load_image
    from srzoo.imaging.resize import imresize_uint8

    run = run_dir(tmp_path)
    record = json.loads((run / "samples" / "index.jsonl").read_text().splitlines()[0])
    top, left, side = record["box"]
    assert side % SCALE == 0 and top % SCALE == 0 and left % SCALE == 0
    image = next(iter(open_eval_set(str(tmp_path / "hr"), SCALE)))
    folder = run / "samples" / record["set"] / record["image"]
    bicubic = imresize_uint8(torch.from_numpy(np.ascontiguousarray(image.lr.transpose(2, 0, 1))), scale=SCALE)
    full = bicubic.numpy().transpose(1, 2, 0)[top : top + side, left : left + side]
    # The saved bicubic crop is bicubic of the whole LR, cropped: exact, not an approximation at crop edges.
    assert np.array_equal(load_image(folder / "bicubic.png"), full)
    assert np.array_equal(load_image(folder / "hr.png"), image.hr[top : top + side, left : left + side])
    assert load_image(folder / "lr.png").shape == (side // SCALE, side // SCALE, 3)
    # The generator is the bicubic arch (float32 on 0..1 input), so its SR crop is the bicubic crop up to
    # one level of rounding.
    diff = np.abs(load_image(run / record["file"]).astype(int) - full.astype(int))
    assert diff.max() <= 1


def test_report_cli_rejects_a_non_run_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "not a training run directory" in err


def test_nice_ticks_cover_the_data() -> None:
    from srzoo.report.svg import nice_ticks

    for lo, hi in ((0.5479, 0.54795), (0.49, 0.62), (1, 8), (5, 5), (-3e-4, 2e-3)):
        ticks = nice_ticks(lo, hi)
        assert ticks[0] <= lo and ticks[-1] >= hi and 2 <= len(ticks) <= 12, (lo, hi, ticks)


def test_run_page_with_a_bench_and_one_recorded_in_the_run(tmp_path: Path) -> None:
    from srzoo.data.sets import open_eval_set
    from srzoo.report import model_images, reference_images, write_run_page

    run = run_dir(tmp_path / "r")
    _, report = bench_page(tmp_path / "b")
    images = model_images(report, {"bicubic": tmp_path / "b" / "page" / "images" / "bicubic"})
    images |= reference_images([open_eval_set(str(tmp_path / "b" / "hr"), SCALE)], tmp_path / "refs")
    text, html = parse(write_run_page(run, tmp_path / "with_bench", bench=(report, images)))
    assert 'id="bench"' in text and len(html.cmps) == 2 * IMAGES  # validation crops, then the bench's images
    assert all((tmp_path / "with_bench" / src).is_file() for src in html.options)
    # A bench recorded in the run with `srzoo bench --report RUN_DIR/bench` is found on its own, pictures too.
    code = main(["bench", "--arch", "bicubic", "--sets", str(tmp_path / "b" / "hr"), "--report", str(run / "bench"),
                 "--quiet"])  # fmt: skip
    assert code == 0 and (run / "bench" / "results.json").is_file()
    text, html = parse(write_run_page(run))
    assert 'id="bench"' in text and len(html.cmps) == 2 * IMAGES
    assert all((run / "report" / src).is_file() for src in html.options)
    # Scores alone (no pictures saved): the tables, no comparison views.
    shutil.rmtree(run / "bench" / "images")
    text, html = parse(write_run_page(run))
    assert 'id="bench"' in text and len(html.cmps) == IMAGES
    assert f"{report.result('bicubic', report.sets[0]).mean('psnr'):.2f}" in text
