"""Registries and plugin discovery: lazy loading, broken-plugin isolation, duplicates, did-you-mean."""

from __future__ import annotations

from pathlib import Path

import pytest

import srzoo
from srzoo.errors import PluginError, UnknownNameError
from srzoo.framework.registries import ARCHS, LOSSES
from tests.plugin_factory import TINY_ARCH, make_dist, run_cli, run_python

BROKEN = 'raise ImportError("needs libfoo >= 2, which is not installed")\n'


def test_core_builtins_are_registered_through_entry_points() -> None:
    assert ARCHS.entry("bicubic").dist == "srzoo"
    assert {"l1", "l2", "mse", "charbonnier"} <= set(srzoo.list_losses())
    assert LOSSES.entry("l1").value == "srzoo.losses.pixel:L1Loss"


def test_listing_does_not_import_plugins() -> None:
    result = run_python(
        """
        import sys, srzoo
        names = srzoo.list_archs()
        assert "toy_sr" in names, names
        assert "srzoo_toy.archs" not in sys.modules
        srzoo.build_arch("toy_sr", scale=4, num_blocks=1, num_feat=8, num_grow=4)
        assert "srzoo_toy.archs" in sys.modules
        assert "srzoo_toy.losses" not in sys.modules
        print("lazy-ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert "lazy-ok" in result.stdout


def test_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(UnknownNameError) as info:
        srzoo.build_arch("toy_srr")
    message = str(info.value)
    assert "unknown arch 'toy_srr' — did you mean 'toy_sr'?" in message
    assert "bicubic" in message  # the available names are listed


def test_unknown_constructor_argument_is_an_error_with_suggestion() -> None:
    with pytest.raises(srzoo.ConfigError, match="unknown argument 'num_blok'.*did you mean 'num_blocks'"):
        srzoo.build_arch("toy_sr", num_blok=2)


def test_broken_plugin_is_isolated_and_reported(tmp_path: Path) -> None:
    root = make_dist(
        tmp_path / "site", "broken-sr", "broken_sr", BROKEN, {"srzoo.archs": {"broken": "broken_sr:Net"}}
    )
    listing = run_cli(["list", "archs"], root)
    assert listing.returncode == 0, listing.stderr
    assert "broken" in listing.stdout and "toy_sr" in listing.stdout
    plugins = run_cli(["list", "plugins"], root)
    assert plugins.returncode == 0
    assert "broken [FAILED: ImportError: needs libfoo >= 2, which is not installed]" in plugins.stdout
    use = run_python(
        """
        import srzoo
        srzoo.build_arch("bicubic", scale=2)  # other archs still work
        try:
            srzoo.build_arch("broken")
        except srzoo.PluginError as exc:
            print("ERR", exc)
        """,
        root,
    )
    assert (
        "ERR arch 'broken' from 'broken-sr' (broken_sr:Net) failed to load: ImportError: needs libfoo"
        in use.stdout
    )


def test_duplicate_name_from_two_distributions_names_both(tmp_path: Path) -> None:
    a = make_dist(
        tmp_path / "a", "sr-alpha", "sr_alpha", TINY_ARCH, {"srzoo.archs": {"dupe": "sr_alpha:TinyNet"}}
    )
    b = make_dist(
        tmp_path / "b", "sr-beta", "sr_beta", TINY_ARCH, {"srzoo.archs": {"dupe": "sr_beta:TinyNet"}}
    )
    result = run_python(
        """
        import srzoo
        try:
            srzoo.build_arch("dupe")
        except srzoo.PluginError as exc:
            print("ERR", exc)
        """,
        a,
        b,
    )
    assert "ERR arch 'dupe' is provided by both" in result.stdout
    assert "'sr-alpha'" in result.stdout and "'sr-beta'" in result.stdout


def test_runtime_registration_refuses_an_existing_name() -> None:
    with pytest.raises(PluginError, match="provided by both 'srzoo' and '<runtime>'"):
        ARCHS.register("bicubic", object())


def test_disable_autoload_keeps_core_only() -> None:
    result = run_python(
        "import srzoo; print(sorted(srzoo.list_archs()))", env={"SRZOO_DISABLE_PLUGIN_AUTOLOAD": "1"}
    )
    assert result.stdout.strip() == "['bicubic']", result.stderr
    hint = run_python(
        """
        import srzoo
        try:
            srzoo.build_arch("toy_sr")
        except srzoo.UnknownNameError as exc:
            print(exc)
        """,
        env={"SRZOO_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )
    assert "plugins are disabled by SRZOO_DISABLE_PLUGIN_AUTOLOAD" in hint.stdout


def test_list_cli_names_each_providing_distribution(capsys: pytest.CaptureFixture[str]) -> None:
    from srzoo.cli import main

    assert main(["list", "archs"]) == 0
    lines = {line.split()[0]: line.split()[1] for line in capsys.readouterr().out.splitlines()}
    assert lines["bicubic"] == "srzoo"
    assert lines["toy_sr"] == "srzoo-toy"
    assert main(["list", "archs"]) == 0
    licenses = {line.split()[0]: line.split()[2] for line in capsys.readouterr().out.splitlines()}
    assert licenses["toy_sr"] == "MIT" and licenses["bicubic"] == "MIT"  # each arch's declared license
    assert main(["list", "plugins"]) == 0
    out = capsys.readouterr().out
    assert "srzoo-toy 1.0" in out and "FAILED" not in out
