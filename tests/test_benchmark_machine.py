"""benchmarks/common.py's machine line: every results file says what it ran on, pinned runs included."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import common  # benchmarks/ is a folder of scripts, not a package


def test_machine_info_counts_the_cpus_this_process_may_use() -> None:
    info = common.machine_info()
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert info["cpus_allowed"] == expected
    assert 1 <= info["cpus_allowed"] <= info["logical_cpus"]


def test_machine_line_says_when_a_run_was_pinned() -> None:
    info = {
        "cpu": "Some CPU", "physical_cores": 2, "logical_cpus": 2, "torch_threads": 1, "torch": "2.x",
        "cpu_capability": "AVX2", "cpu_isa_flags": ["avx2"], "cpu_bf16_native": False, "gpu": None,
        "load_average": [1.0, 1.0, 1.0], "date": "today",
    }  # fmt: skip
    assert "(2 cores, 1 torch threads;" in common.machine_line(info | {"cpus_allowed": 2})
    assert "(2 cores, pinned to 1 of 2 CPUs, 1 torch threads;" in common.machine_line(
        info | {"cpus_allowed": 1}
    )
    assert "(2 cores, 1 torch threads;" in common.machine_line(info)  # results files written before the field
