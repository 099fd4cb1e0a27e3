"""Builds throwaway third-party plugins outside the source tree (a *.dist-info with entry_points.txt on a path)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

TINY_ARCH = '''
"""A throwaway third-party SR arch: nearest upscaling plus one learnable 3x3 conv."""
import torch
from torch import nn
import torch.nn.functional as F


class TinyNet(nn.Module):
    def __init__(self, scale: int = 4, width: int = 4) -> None:
        super().__init__()
        self.scale = scale
        self.body = nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, 3, 3, padding=1))

    def forward(self, x):
        up = F.interpolate(x, scale_factor=self.scale, mode="nearest")
        return up + self.body(up)
'''


def make_dist(
    root: Path, dist: str, module: str, source: str, entry_points: dict[str, dict[str, str]]
) -> Path:
    """Write `module.py` and `<dist>-1.0.dist-info/` (METADATA + entry_points.txt) under `root`; return root."""
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    lines = []
    for group, names in entry_points.items():
        lines.append(f"[{group}]")
        lines += [f"{name} = {value}" for name, value in names.items()]
        lines.append("")
    (info / "entry_points.txt").write_text("\n".join(lines))
    return root


def run_python(
    code: str, *paths: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter with `paths` prepended to PYTHONPATH (fresh entry-point discovery)."""
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join([*map(str, paths), full_env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=300,
    )


def run_cli(
    args: list[str], *paths: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real `srzoo` console entry in a fresh interpreter with extra plugin paths."""
    return run_python(f"import sys; from srzoo.cli import main; sys.exit(main({args!r}))", *paths, env=env)
