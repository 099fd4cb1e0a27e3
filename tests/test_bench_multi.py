"""`srzoo bench` with several models: one table, one JSON and one figure per set, the bicubic row once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from srzoo.cli import main
from srzoo.cli.bench import model_specs
from srzoo.errors import ConfigError
from srzoo.eval.bench import model_labels, run_bench
from srzoo.inference.model import load_model
from tests.test_detectors import foreign_file
from tests.test_infer_support import tiny_net_file


def _bench(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["bench", *args, "--device", "cpu", "--quiet"])
    out, err = capsys.readouterr()
    return code, out, err


def _rows(table: str) -> dict[str, list[str]]:
    rows = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and cells[0] not in ("model", "image") and not cells[0].startswith("---"):
            rows.setdefault(cells[0], cells[1:])
    return rows


def test_several_weights_one_table_json_and_figure(
    tmp_path: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = tiny_net_file(tmp_path, 4, seed=0, name="alpha.safetensors")
    b = tiny_net_file(tmp_path, 4, seed=1, name="beta.safetensors")
    foreign, _ = foreign_file(tmp_path, ".pth", scale=4, seed=2)  # its arch comes from the toy detector
    out = tmp_path / "out"
    weights = f"{a},{b},{foreign}"
    common = ["--sets", "set5", "--data-root", str(shared_data)]
    code, table, err = _bench(capsys, "--weights", weights, *common, "--out-dir", str(out), "--show", "1")
    assert code == 0, err
    labels = ["bicubic", "toy_sr-alpha", "toy_sr-beta", "toy_sr-foreign_x4"]
    rows = _rows(table.split("\n\n")[0])
    assert list(rows) == labels  # the baseline once, first; same-arch rows named by file stem
    data = json.loads((out / "results.json").read_text())
    assert [r["model"] for r in data["results"]] == labels
    models = data["convention"]["models"]
    assert list(models) == labels
    assert models["toy_sr-alpha"]["weights"] == str(a) and models["toy_sr-beta"]["weights"] == str(b)
    assert models["toy_sr-foreign_x4"]["detected_by"] == "toy foreign-layout detector (srzoo-toy)"
    assert models["toy_sr-alpha"]["detected_by"] == "srzoo metadata"
    assert sorted(p.name for p in (out / "figures").iterdir()) == ["Set5.png"]
    for label in labels[1:]:  # a best/worst list per benchmarked model
        assert f"{label} on Set5: best and worst 1 by PSNR" in table
    # every row is the number a bench of that model alone gives
    for label, path in zip(labels[1:], (a, b, foreign)):
        alone = run_bench(load_model(path), ["set5"], root=shared_data)
        want = alone.results[-1].mean("psnr")
        got = next(r for r in data["results"] if r["model"] == label)["psnr"]
        assert got == pytest.approx(want, abs=1e-9), label
        assert rows[label][0] == f"{want:.2f}"
    bicubic = next(r for r in data["results"] if r["model"] == "bicubic")
    assert bicubic["psnr"] == pytest.approx(28.43, abs=0.005)  # the published x4 Set5 bicubic number


def test_arch_list_pairs_with_weights_and_report_page(
    tmp_path: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = tiny_net_file(tmp_path, 2, seed=0, name="one.safetensors")
    foreign, _ = foreign_file(tmp_path, ".safetensors", scale=2, seed=1)
    report = tmp_path / "page"
    code, table, err = _bench(
        capsys,
        *("--arch", "toy_sr,toy_sr", "--weights", f"{a},{foreign}", "--sets", "set5"),
        *("--data-root", str(shared_data), "--report", str(report)),
    )
    assert code == 0, err
    assert list(_rows(table.split("\n\n")[0])) == ["bicubic", "toy_sr-one", "toy_sr-foreign_x2"]
    page = (report / "index.html").read_text()
    assert "toy_sr-one" in page and "toy_sr-foreign_x2" in page
    for label in ("toy_sr-one", "toy_sr-foreign_x2"):
        assert len(list((report / "images" / label / "Set5").glob("*.png"))) == 5


def test_mismatched_lists_and_scales_are_one_line_errors(
    tmp_path: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = tiny_net_file(tmp_path, 2, seed=0)
    b = tiny_net_file(tmp_path, 4, seed=0)
    common = ["--sets", "set5", "--data-root", str(shared_data)]
    code, _, err = _bench(capsys, "--arch", "toy_sr", "--weights", f"{a},{b}", *common)
    assert code == 1 and err.count("\n") == 1
    assert "--arch names 1 arch(s) but --weights 2 file(s)" in err
    code, _, err = _bench(capsys, "--weights", f"{a},{b}", *common)
    assert code == 1 and err.count("\n") == 1 and "differ in scale (toy_sr x2, toy_sr x4)" in err
    code, _, err = _bench(capsys, "--weights", f"{a},,{b}", *common)
    assert code == 1 and err.count("\n") == 1 and "has an empty entry" in err
    with pytest.raises(ConfigError, match="differ in scale"):
        run_bench([load_model(a), load_model(b)], ["set5"], root=shared_data)


def test_model_specs_and_labels(tmp_path: Path) -> None:
    assert model_specs("x,y", "a.pth,b.pth") == [("x", "a.pth"), ("y", "b.pth")]
    assert model_specs(None, "a.pth, b.pth") == [(None, "a.pth"), (None, "b.pth")]
    assert model_specs("bicubic", None) == [("bicubic", None)]
    assert model_specs(None, None) == [(None, None)]
    one = tiny_net_file(tmp_path / "p", 4, name="m.safetensors")
    two = tiny_net_file(tmp_path / "q", 4, seed=1, name="m.safetensors")
    bicubic = load_model(None, arch="bicubic", scale=4)
    models = [load_model(one), load_model(two), load_model(tmp_path / "p" / "m.safetensors"), bicubic]
    # same arch and stem: numbered; a model that is not the baseline never takes the name 'bicubic'
    assert model_labels(models) == ["toy_sr-m", "toy_sr-m-2", "toy_sr-m-3", "bicubic-2"]
