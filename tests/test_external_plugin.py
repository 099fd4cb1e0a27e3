"""A third-party plugin, built outside the source tree, is listed, built from a recipe and run — srzoo untouched."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.plugin_factory import TINY_ARCH, make_dist, run_cli, run_python

RECIPE = """
name: acme_tiny
scale: 2
generator: {arch: tinynet, kwargs: {width: 6}}
phases: [{name: psnr, type: supervised, iters: 1}]
"""


@pytest.fixture
def acme(tmp_path: Path) -> Path:
    return make_dist(
        tmp_path / "site", "acme-sr", "acme_sr", TINY_ARCH, {"srzoo.archs": {"tinynet": "acme_sr:TinyNet"}}
    )


def test_external_arch_is_listed_with_its_distribution(acme: Path) -> None:
    result = run_cli(["list", "archs", "tiny*"], acme)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["tinynet", "acme-sr", "unknown"]  # no describe_arch: license unknown


def test_external_arch_builds_from_a_recipe_and_passes_the_contract(acme: Path, tmp_path: Path) -> None:
    recipe = tmp_path / "acme.yaml"
    recipe.write_text(RECIPE)
    result = run_python(
        f"""
        import srzoo, torch
        from srzoo.testing import check_arch
        recipe = srzoo.load_recipe({str(recipe)!r})
        net = srzoo.build_arch(recipe.generator.arch, scale=recipe.scale, **recipe.generator.kwargs)
        print(tuple(net(torch.rand(1, 3, 5, 7)).shape), net.body[0].out_channels)
        check_arch("tinynet")
        """,
        acme,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(1, 3, 10, 14) 6"


def test_real_pip_install_of_a_plugin_package(tmp_path: Path) -> None:
    pkg = tmp_path / "acme-pkg"
    (pkg / "acme_pip").mkdir(parents=True)
    (pkg / "acme_pip" / "__init__.py").write_text('"""Acme SR plugin."""\n')
    (pkg / "acme_pip" / "net.py").write_text(textwrap.dedent(TINY_ARCH))
    (pkg / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [build-system]
            requires = ["setuptools>=61"]
            build-backend = "setuptools.build_meta"
            [project]
            name = "acme-pip-sr"
            version = "2.3.0"
            [project.entry-points."srzoo.archs"]
            acmenet = "acme_pip.net:TinyNet"
            [tool.setuptools]
            packages = ["acme_pip"]
            """
        )
    )
    site = tmp_path / "site"
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(pkg),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    plugins = run_cli(["list", "plugins"], site)
    assert "acme-pip-sr 2.3.0" in plugins.stdout and "archs: acmenet" in plugins.stdout
    built = run_python("import srzoo; print(type(srzoo.build_arch('acmenet', scale=3)).__name__)", site)
    assert built.stdout.strip() == "TinyNet", built.stderr


def test_external_arch_is_benched_and_used_by_infer(acme: Path, tmp_path: Path) -> None:
    """Weights of the external arch go through `srzoo bench` and `srzoo infer` like any built-in arch."""
    import numpy as np
    from PIL import Image

    weights = tmp_path / "acme.safetensors"
    made = run_python(
        f"""
        import torch, srzoo
        from srzoo.framework.weights import save_weights
        torch.manual_seed(0)
        net = srzoo.build_arch("tinynet", scale=2, width=4)
        save_weights({str(weights)!r}, net.state_dict(), arch="tinynet", kwargs={{"width": 4}}, scale=2)
        """,
        acme,
    )
    assert made.returncode == 0, made.stderr
    hr = tmp_path / "hr"
    hr.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (24, 30, 3), dtype=np.uint8)).save(hr / f"img{i}.png")
    bench = run_cli(["bench", "--weights", str(weights), "--sets", str(hr), "--quiet"], acme)
    assert bench.returncode == 0, bench.stderr
    rows = [
        line
        for line in bench.stdout.splitlines()
        if line.startswith("| tinynet") or line.startswith("| bicubic")
    ]
    assert len(rows) == 2, bench.stdout
    out = tmp_path / "out"
    infer = run_cli(["infer", "--model", str(weights), str(hr / "img0.png"), "--out-dir", str(out)], acme)
    assert infer.returncode == 0, infer.stderr
    with Image.open(out / "img0_sr.png") as result:
        assert result.size == (60, 48)
