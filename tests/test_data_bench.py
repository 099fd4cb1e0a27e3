"""The loader-throughput benchmark runs (in --quick mode) and writes its JSON and Markdown reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "data_loader.py"


def test_data_loader_benchmark_quick(shared_data: Path, tmp_path: Path) -> None:
    env = {**os.environ, "SRZOO_DATA": str(shared_data)}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--out", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((tmp_path / "data_loader.json").read_text())
    rows = report["results"]
    assert {(r["cache"], r["workers"]) for r in rows} == {(False, 0), (False, 1), (True, 0), (True, 1)}
    assert all(r["dataset"] == "T91" and r["patches_per_s"] > 0 and r["batches"] >= 2 for r in rows)
    assert report["machine"]["cores"] == os.cpu_count() and report["machine"]["torch"]
    table = (tmp_path / "data_loader.md").read_text()
    assert "| T91 | on | 1 |" in table and report["machine"]["cpu"] in table
