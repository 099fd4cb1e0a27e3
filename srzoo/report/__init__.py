"""Static HTML reports: a bench page and a training-run page (plain HTML/CSS/JS, PNGs beside the page).

The pages need no server, no network and no build step: open DIR/index.html from disk. `srzoo bench
--report DIR`, `srzoo report RUN_DIR` and `srzoo demo` write them.
"""

from srzoo.report.bench_page import (
    bench_from_json,
    load_bench_json,
    model_images,
    reference_images,
    write_bench_page,
)
from srzoo.report.compare import Comparison, Variant
from srzoo.report.run_page import write_run_page

__all__ = [
    "Comparison",
    "Variant",
    "bench_from_json",
    "load_bench_json",
    "model_images",
    "reference_images",
    "write_bench_page",
    "write_run_page",
]
