"""Screenshot of a `srzoo bench --report` page in headless Chromium (for the README), with the page's checks.

    .venv/bin/python benchmarks/report_screenshot.py [--weights W] [--sets set5] [--image butterfly]

Writes benchmarks/results/report_bench.png and benchmarks/results/report_screenshot.json (what was benched,
what the browser found on the page, the machine). Needs Chromium (apt-get install chromium) and playwright.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common

from srzoo.cli import main as srzoo
from srzoo.framework.files import atomic_write
from tests.browser_support import find_browser, open_page, why_no_browser

LOADED = "root => Array.from(root.querySelectorAll('img')).every(i => i.complete && i.naturalWidth > 0)"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", default=str(common.WEIGHTS), help="weights to bench (default: shared x4plus)")
    p.add_argument("--sets", default="set5")
    p.add_argument(
        "--data-root", default=os.environ.get("SRZOO_DATA", str(common.ROOT.parent / "shared" / "datasets"))
    )
    p.add_argument("--image", default="butterfly", help="the image whose comparison view is shown")
    p.add_argument("--zoom", default="4", choices=["fit", "1", "2", "4", "8"])
    p.add_argument("--page", type=Path, help="keep the page here (default: a temporary folder)")
    p.add_argument("--out", type=Path, default=common.RESULTS / "report_bench.png")
    return p.parse_args()


def main() -> int:
    args = parse_args()
    reason = why_no_browser()
    if reason:
        print(f"report_screenshot: {reason}", file=sys.stderr)
        return 1
    page_dir = args.page or Path(tempfile.mkdtemp(prefix="srzoo-report-"))
    command = ["bench", "--weights", args.weights, "--sets", args.sets, "--data-root", args.data_root,
               "--report", str(page_dir), "--json", str(page_dir / "results.json"), "--quiet", "--device", "cpu"]  # fmt: skip
    start = time.perf_counter()
    if srzoo(command) != 0:
        return 1
    bench_seconds = time.perf_counter() - start
    bench = json.loads((page_dir / "results.json").read_text(encoding="utf-8"))
    results = [{k: r[k] for k in ("model", "set", "psnr", "ssim", "n_images")} for r in bench["results"]]
    with open_page(1280, 1240) as (page, errors, remote):
        page.goto((page_dir / "index.html").as_uri())
        page.wait_for_selector("html[data-ready]", timeout=30_000)
        cards = page.locator(".cmp")
        for i in range(cards.count()):
            cards.nth(i).scroll_into_view_if_needed()
            page.wait_for_function(LOADED, arg=cards.nth(i).element_handle(), timeout=30_000)
        card = page.locator(f".cmp[id$='-{args.image}']")
        card.locator(".cmp-z").select_option(args.zoom)
        # Move the card under the tables, so that one screenshot shows the scores and a comparison.
        page.evaluate(
            "id => { const c = document.getElementById(id); const t = document.querySelectorAll('.tablewrap')[1];"
            " t.after(c); window.scrollTo(0, 0); window.dispatchEvent(new Event('resize')); }",
            card.get_attribute("id"),
        )
        checks = {
            "summary_rows": page.locator(".tablewrap").nth(0).locator("tbody tr").count(),
            "image_rows": page.locator(".tablewrap").nth(1).locator("tbody tr").count(),
            "comparison_views": cards.count(),
            "sliders": page.locator(".cmp-range").count(),
            "images_loaded": page.evaluate(f"({LOADED})(document)"),
            "console_errors": list(errors),
            "non_file_requests": list(remote),
        }
        page.screenshot(path=str(args.out))
    version = subprocess.run([find_browser(), "--version"], capture_output=True, text=True).stdout.strip()
    record = {
        "what": "screenshot of a srzoo bench --report page (summary table, per-image table, one comparison view)",
        "command": "srzoo " + " ".join(command[:7]) + " --report PAGE --device cpu",
        "screenshot": str(args.out.relative_to(common.ROOT))
        if args.out.is_relative_to(common.ROOT)
        else str(args.out),
        "shown": {"image": args.image, "zoom": args.zoom},
        "bench_seconds": round(bench_seconds, 1),
        "results": results,
        "browser": version,
        "checks": checks,
        "machine": common.machine_info(),
    }
    with atomic_write(common.RESULTS / "report_screenshot.json") as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(checks, indent=2))
    ok = not checks["console_errors"] and not checks["non_file_requests"] and checks["images_loaded"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
