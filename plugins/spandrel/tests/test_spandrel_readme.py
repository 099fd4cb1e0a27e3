"""The plugin README's arch table is exactly what tools/arch_table.py generates from `_specs.SPECS`."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from srzoo import ARCHS

PLUGIN = Path(__file__).resolve().parents[1]
SCRIPT = PLUGIN / "tools" / "arch_table.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("arch_table", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_table_is_the_scripts_output() -> None:
    tool = _script()
    readme = (PLUGIN / "README.md").read_text(encoding="utf-8")
    hint = "run: python plugins/spandrel/tools/arch_table.py --write"
    assert tool.readme_table(readme) == tool.table(), hint


def test_table_has_one_row_per_registered_arch() -> None:
    rows = _script().table().splitlines()[2:]
    names = [row.split("|")[1].strip().strip("`") for row in rows]
    assert names == sorted(e.name for e in ARCHS.entries() if e.dist == "srzoo-spandrel")
    swinir = next(row for row in rows if row.startswith("| `swinir` |"))
    assert swinir == "| `swinir` | `SwinIR` | x2, x3, x4 | Apache-2.0 | no | yes | 1 | 16 | no |"


def test_script_prints_the_table() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == _script().table()
