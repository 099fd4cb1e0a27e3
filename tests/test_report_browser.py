"""The report pages in headless Chromium: rows, loaded images, slider, sorting, synchronised pixel-exact zoom."""

from __future__ import annotations

import io
import math
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.browser_support import open_page, why_no_browser
from tests.report_support import IMAGES, SIDE, bench_page, run_dir

pytestmark = pytest.mark.slow
_REASON = why_no_browser()
if _REASON is not None:
    pytest.skip(f"no headless browser: {_REASON}", allow_module_level=True)

_ALL_LOADED = (
    """root => Array.from(root.querySelectorAll('img')).every(i => i.complete && i.naturalWidth > 0)"""
)


def _translate(style: str) -> tuple[float, float]:
    match = re.search(r"translate\((-?[\d.]+)px,\s*(-?[\d.]+)px\)", style)
    assert match, style
    return float(match.group(1)), float(match.group(2))


def test_bench_page_in_chromium(tmp_path: Path) -> None:
    page_file, _ = bench_page(tmp_path)
    with open_page() as (page, errors, remote):
        page.goto(page_file.as_uri())
        page.wait_for_selector(f"html[data-ready='{IMAGES}']", timeout=20_000)
        tables = page.locator("table.scores")
        assert tables.nth(0).locator("tbody tr").count() == 2  # bicubic and nearest
        assert tables.nth(1).locator("tbody tr").count() == IMAGES
        # Sorting: the 'bicubic PSNR' column, ascending then descending, by value.
        header = tables.nth(1).locator("th", has_text="bicubic PSNR")
        column = "Array.from(document.querySelectorAll('table.scores')[1].tBodies[0].rows).map(r => +r.cells[1].dataset.v)"
        header.click()
        ascending = page.evaluate(column)
        assert ascending == sorted(ascending) and header.get_attribute("aria-sort") == "ascending"
        header.click()
        assert page.evaluate(column) == sorted(ascending, reverse=True)

        cmps = page.locator(".cmp")
        for i in range(IMAGES):
            cmps.nth(i).scroll_into_view_if_needed()
            page.wait_for_function(_ALL_LOADED, arg=cmps.nth(i).element_handle(), timeout=20_000)
        cmp = cmps.nth(0)
        cmp.scroll_into_view_if_needed()
        # Default pair: bicubic (left) against the benchmarked model, with the split in the middle.
        assert cmp.locator(".cmp-tag.a").inner_text() == "bicubic"
        assert cmp.locator(".cmp-tag.b").inner_text() == "nearest"
        assert cmp.locator(".cmp-tiles figure").count() == 4  # LR, bicubic, nearest, HR
        # The slider: drag the handle to a quarter of the width; the left image is clipped there.
        slider = cmp.locator(".cmp-slider").bounding_box()
        handle = cmp.locator(".cmp-handle").bounding_box()
        page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
        page.mouse.down()
        page.mouse.move(slider["x"] + slider["width"] / 4, slider["y"] + 10, steps=4)
        page.mouse.up()
        clip = cmp.locator(".cmp-clip").evaluate("e => e.style.clipPath")
        right = round(slider["width"] - round(slider["width"] / 4))
        assert abs(int(re.search(r"inset\(0px (\d+)px", clip).group(1)) - right) <= 1, clip
        assert abs(int(cmp.locator(".cmp-range").input_value()) - 250) <= 5
        # Choosing HR on the right swaps the image under the slider.
        cmp.locator(".cmp-b").select_option(label="HR")
        assert cmp.locator(".cmp-slider > img").get_attribute("src").startswith("images/HR/")

        # Zoom 8x: every tile is nearest neighbour; panning one tile pans all of them (and the slider view).
        cmp.locator(".cmp-z").select_option("8")
        tiles = cmp.locator(".cmp-tiles .vp img")
        assert tiles.nth(0).evaluate("e => getComputedStyle(e).imageRendering") == "pixelated"
        assert tiles.nth(0).evaluate("e => e.style.width") == f"{SIDE * 8}px"
        before = [_translate(tiles.nth(i).get_attribute("style")) for i in range(4)]
        box = cmp.locator(".cmp-tiles .vp").nth(2).bounding_box()
        page.mouse.move(box["x"] + 100, box["y"] + 100)
        page.mouse.down()
        page.mouse.move(box["x"] + 60, box["y"] + 70, steps=4)
        page.mouse.up()
        after = [_translate(tiles.nth(i).get_attribute("style")) for i in range(4)]
        assert after != before and len(set(after)) == 1, (before, after)
        # Pixel-exact: the HR tile on screen is the HR image's pixels repeated 8 x 8 (read back from a
        # screenshot of the tile's inside; the tile may sit at a fractional position on the page).
        hr_vp = cmp.locator(".cmp-tiles .vp").nth(3)
        hr_vp.scroll_into_view_if_needed()
        box = hr_vp.bounding_box()
        tx, ty = _translate(tiles.nth(3).get_attribute("style"))
        origin_x, origin_y = box["x"] + tx, box["y"] + ty  # the image's top-left corner in the viewport
        assert abs(origin_x - round(origin_x)) < 1e-3 and abs(origin_y - round(origin_y)) < 1e-3
        x0, y0 = math.ceil(box["x"]) + 1, math.ceil(box["y"]) + 1
        clip = {"x": x0, "y": y0, "width": 160, "height": 160}
        shot = np.asarray(Image.open(io.BytesIO(page.screenshot(clip=clip))).convert("RGB"))
        hr = np.asarray(Image.open(page_file.parent / tiles.nth(3).get_attribute("src")).convert("RGB"))
        big = hr.repeat(8, axis=0).repeat(8, axis=1)
        top, left = y0 - round(origin_y), x0 - round(origin_x)
        assert np.array_equal(shot, big[top : top + 160, left : left + 160])
        page.screenshot(path=str(tmp_path / "bench.png"), full_page=True)
    assert errors == []
    assert remote == []  # the page asks for nothing beyond its own files


def test_run_page_in_chromium(tmp_path: Path) -> None:
    from srzoo.report import write_run_page

    page_file = write_run_page(run_dir(tmp_path))
    with open_page() as (page, errors, remote):
        page.goto(page_file.as_uri())
        page.wait_for_selector(f"html[data-ready='{IMAGES}']", timeout=20_000)
        assert page.locator("svg.chart").count() == 7
        assert page.locator("svg.chart polyline[stroke]").count() >= 6
        cmps = page.locator(".cmp")
        for i in range(IMAGES):
            cmps.nth(i).scroll_into_view_if_needed()
            page.wait_for_function(_ALL_LOADED, arg=cmps.nth(i).element_handle(), timeout=20_000)
        options = cmps.nth(0).locator(".cmp-a option").all_inner_texts()
        assert options[2:4] == ["step 4 (warm)", "step 8 (fine)"]
        page.screenshot(path=str(tmp_path / "run.png"), full_page=True)
    assert errors == [] and remote == []
