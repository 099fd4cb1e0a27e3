"""benchmarks/inference.py --arch runs at a tiny size: srzoo and spandrel's own module side by side, within 1e-5."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]  # the checkout holding benchmarks/


def test_inference_arch_option_tiny(tmp_path: Path) -> None:
    pytest.importorskip("spandrel")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, str(ROOT / "benchmarks" / "inference.py"), "--arch", "swinir,span", "--tiny"]
    cmd += ["--threads", "1", "--clock", "cpu", "--out", str(tmp_path)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    report = json.loads((tmp_path / "inference_spandrel_archs_cpu_tiny.json").read_text())
    assert report["mode"] == "spandrel_archs" and report["machine"]["cpu_capability"]
    assert [a["arch"] for a in report["archs"]] == ["swinir", "span"]
    for arch, module in zip(report["archs"], ("SwinIR", "SPAN")):
        assert arch["spandrel_detected"] == {"architecture": module, "scale": 2}
        (case,) = arch["cases"]
        assert case["lr_side"] >= 16 and set(case["variants"]) == {"spandrel fp32", "srzoo fp32"}
        assert case["spandrel_ms"] > 0 and case["srzoo_ms"] > 0
        assert case["speed_ratio_srzoo_vs_spandrel"] == pytest.approx(case["spandrel_ms"] / case["srzoo_ms"])
        assert case["max_abs_diff"] <= 1e-5  # srzoo's fast path computes what spandrel computes
        assert report["targets"][f"{arch['arch']}_{case['lr_side']}_max_abs_diff"]["met"] is True
        assert set(case["profile_ms"]) == {"spandrel fp32", "srzoo fp32"}
    md = (tmp_path / "inference_spandrel_archs_cpu_tiny.md").read_text()
    assert "speed srzoo/spandrel" in md and "ISA " in md and "| swinir |" in md
