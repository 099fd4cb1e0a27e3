"""Detectors (entry-point group `srzoo.detectors`): core loads a foreign file through a detector it does not know."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file
from srzoo_toy.detect import BOOM, from_toy

from srzoo import DETECTORS, Detection, WeightsError, load_model
from srzoo.cli import main
from tests.test_infer_support import smooth_rgb, tiny_net

TOY_DETECTOR = "toy foreign-layout detector (srzoo-toy)"


def foreign_file(
    folder: Path, suffix: str = ".pth", scale: int = 2, seed: int = 0
) -> tuple[Path, torch.nn.Module]:
    """A tiny toy_sr net saved under the pretend foreign trainer's key names, without srzoo metadata."""
    net = tiny_net(scale, seed)
    sd = {k: v.clone().contiguous() for k, v in from_toy(net.state_dict()).items()}
    path = folder / f"foreign_x{scale}{suffix}"
    if suffix == ".pth":
        torch.save({"params": sd}, path)
    else:
        save_file(sd, str(path))
    return path, net


@pytest.fixture
def runtime_detector() -> Iterator[list[object]]:
    """A detector registered at run time as 'aaa_first' (asked before 'toy_foreign'); set its answer in tests."""
    answers: list[object] = []

    def detect(sd: dict[str, torch.Tensor]) -> Detection | None:
        answer = answers[0] if answers else None
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[return-value]

    DETECTORS.register("aaa_first", detect)
    try:
        yield answers
    finally:
        DETECTORS.unregister("aaa_first")


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_foreign_file_loads_through_the_toy_detector(tmp_path: Path, suffix: str) -> None:
    path, net = foreign_file(tmp_path, suffix)
    model = load_model(path, fast=False)
    assert (model.card.arch, model.card.scale, model.card.detected_by) == ("toy_sr", 2, TOY_DETECTOR)
    assert model.card.kwargs == {"num_feat": 8, "num_blocks": 1, "num_grow": 4}
    x = torch.rand(1, 3, 8, 12, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = net(x).clamp(0, 1)
    assert float((model(x) - want).abs().max()) == 0.0  # same weights, same unfused ops


def test_own_archs_claim_first(tmp_path: Path, runtime_detector: list[object]) -> None:
    """A file toy_sr's infer_kwargs reads never reaches a detector, even one that would claim everything."""
    net = tiny_net(2)
    path = tmp_path / "plain.pth"
    torch.save(net.state_dict(), path)
    runtime_detector.append(RuntimeError("must not be asked"))
    model = load_model(path)
    assert model.card.detected_by == "infer_kwargs of 'toy_sr' (srzoo-toy)"


def test_first_hit_wins_and_a_raising_detector_is_skipped(
    tmp_path: Path, runtime_detector: list[object]
) -> None:
    path, _ = foreign_file(tmp_path)
    runtime_detector.append(RuntimeError("first detector broke"))
    assert load_model(path).card.detected_by == TOY_DETECTOR  # skipped, the next one answers
    runtime_detector[0] = Detection("not_an_arch", {}, 2, {}, "bogus")
    assert load_model(path).card.detected_by == TOY_DETECTOR  # unusable answer: skipped too
    sd = {k: v.clone() for k, v in tiny_net(2).state_dict().items()}
    runtime_detector[0] = Detection("toy_sr", {"num_feat": 8, "num_blocks": 1, "num_grow": 4}, 2, sd, "")
    model = load_model(path)
    assert model.card.detected_by == "detector 'aaa_first' (<runtime>)"  # first in name order wins


def test_nobody_claims_lists_every_detectors_reason(tmp_path: Path, runtime_detector: list[object]) -> None:
    path, _ = foreign_file(tmp_path)
    sd = torch.load(path, weights_only=True)["params"]
    torch.save({**sd, BOOM: torch.zeros(1)}, path)
    runtime_detector.append(RuntimeError("first detector broke"))
    with pytest.raises(WeightsError) as info:
        load_model(path)
    msg = str(info.value)
    assert msg.startswith(f"cannot tell which arch {path} belongs to") and msg.endswith("pass --arch NAME")
    assert "detector aaa_first: first detector broke" in msg
    assert "detector toy_foreign: toy detector exploded on purpose" in msg
    assert "\n" not in msg


def test_arch_given_must_match_the_detection(tmp_path: Path) -> None:
    path, _ = foreign_file(tmp_path)
    assert load_model(path, arch="toy_sr").card.detected_by == TOY_DETECTOR
    with pytest.raises(WeightsError, match=r"holds weights of arch 'toy_sr' \(toy foreign.*not 'bicubic'"):
        load_model(path, arch="bicubic")


def test_cli_infer_and_bench_record_the_detector(
    tmp_path: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, net = foreign_file(tmp_path, ".safetensors", scale=4)
    src = tmp_path / "a.png"
    Image.fromarray(smooth_rgb(12, 16)).save(src)
    assert main(["infer", str(src), "--model", str(path), "--device", "cpu", "--tile", "0", "--no-fast"]) == 0
    x = torch.from_numpy(np.array(Image.open(src))).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        want = (net(x).clamp(0, 1) * 255).round()[0].permute(1, 2, 0).to(torch.uint8).numpy()
    assert np.array_equal(np.array(Image.open(tmp_path / "a_sr.png")), want)
    capsys.readouterr()
    args = [
        "bench",
        "--weights",
        str(path),
        "--sets",
        "set5",
        "--data-root",
        str(shared_data),
        "--device",
        "cpu",
    ]
    assert main([*args, "--json", str(tmp_path / "r.json")]) == 0
    models = json.loads((tmp_path / "r.json").read_text())["convention"]["models"]
    assert models["toy_sr"]["detected_by"] == TOY_DETECTOR and models["bicubic"]["detected_by"] == ""
