"""Weights files: safe unpickling only, container unwrapping, srzoo metadata, zoo tags with verified download."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import srzoo
from srzoo.errors import UnknownNameError, WeightsError
from srzoo.framework.descriptors import PretrainedWeights, describe_arch
from srzoo.framework.files import sha256_file
from srzoo.framework.registries import ARCHS
from srzoo.framework.weights import load_weights_file, resolve_weights, save_basicsr, save_weights
from tests.toy import TOY_ARCH, TOY_TINY

TINY = TOY_TINY


class _Exploit:
    """Pickles to a call of os.system: unpickling it would run a command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_and_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pth"
    with open(evil, "wb") as f:
        pickle.dump({"params": _Exploit(marker)}, f)
    with pytest.raises(WeightsError, match="refused to load .*evil.pth: it needs unsafe unpickling"):
        load_weights_file(evil)
    assert not marker.exists()


def test_containers_are_unwrapped_preferring_ema_and_prefixes_stripped(tmp_path: Path) -> None:
    ema, plain = {"module.w": torch.ones(2)}, {"module.w": torch.zeros(2)}
    torch.save({"params": plain, "params_ema": ema}, tmp_path / "g.pth")
    sd = load_weights_file(tmp_path / "g.pth").state_dict
    assert list(sd) == ["w"] and torch.equal(sd["w"], torch.ones(2))


@pytest.mark.parametrize("content", [b"", b"not a zip or pickle at all"])
def test_empty_or_garbage_files_are_one_line_errors(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.pth"
    path.write_bytes(content)
    with pytest.raises(WeightsError) as info:
        load_weights_file(path)
    assert "bad.pth" in str(info.value) and "\n" not in str(info.value)


def test_srzoo_export_round_trips_arch_and_kwargs(tmp_path: Path) -> None:
    net = srzoo.build_arch(TOY_ARCH, scale=2, **TINY)
    path = save_weights(tmp_path / "g.safetensors", net.state_dict(), arch=TOY_ARCH, kwargs=TINY, scale=2)
    model = srzoo.load_model(path)
    assert (model.card.arch, model.card.kwargs, model.card.scale) == (TOY_ARCH, TINY, 2)
    assert model.card.weights_sha256 == sha256_file(path)
    x = torch.rand(1, 3, 8, 10)
    with torch.no_grad():
        assert torch.allclose(model(x), net(x).clamp(0, 1), atol=1e-6)


@pytest.mark.parametrize(
    "meta",
    [
        {"srzoo.arch": TOY_ARCH},  # a bit flip renamed srzoo.scale (the fuzz battery found it: KeyError)
        {"srzoo.arch": TOY_ARCH, "srzoo.scale": "0"},
        {"srzoo.arch": TOY_ARCH, "srzoo.scale": "true"},
        {"srzoo.arch": TOY_ARCH, "srzoo.scale": "2", "srzoo.kwargs": "[1]"},
    ],
)
def test_damaged_srzoo_metadata_is_a_weights_error(tmp_path: Path, meta: dict[str, str]) -> None:
    net = srzoo.build_arch(TOY_ARCH, scale=2, **TINY)
    save_file(net.state_dict(), str(path := tmp_path / "g.safetensors"), metadata=meta)
    with pytest.raises(WeightsError, match=r"g.safetensors: damaged srzoo metadata.*export it again") as info:
        srzoo.load_model(path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("key", ["bad\nkey", "", "tab\there"])
def test_odd_key_names_stay_on_one_line_and_visible(key: str) -> None:
    from srzoo.inference.model import load_into

    net = srzoo.build_arch(TOY_ARCH, scale=2, **TINY)
    sd = {**net.state_dict(), key: torch.zeros(1)}
    with pytest.raises(WeightsError, match="unexpected 1: ") as info:
        load_into(net, sd, "the toy")
    assert "\n" not in str(info.value) and str(info.value).endswith(repr(key))


def test_foreign_file_infers_arch_from_shapes_and_basicsr_layout(tmp_path: Path) -> None:
    net = srzoo.build_arch(TOY_ARCH, scale=4, **TINY)
    path = save_basicsr(tmp_path / "foreign.pth", net.state_dict())
    model = srzoo.load_model(path)
    assert model.card.arch == TOY_ARCH and model.card.scale == 4
    assert model.card.kwargs["num_blocks"] == 1 and model.card.kwargs["num_feat"] == 8


def test_run_directory_resolves_to_last_generator(tmp_path: Path) -> None:
    net = srzoo.build_arch(TOY_ARCH, scale=4, **TINY)
    save_weights(tmp_path / "run" / "last.safetensors", net.state_dict(), arch=TOY_ARCH, kwargs=TINY, scale=4)
    assert srzoo.load_model(tmp_path / "run").card.source.endswith("last.safetensors")


def test_weights_of_another_arch_name_keys_and_shapes(tmp_path: Path) -> None:
    small = srzoo.build_arch(TOY_ARCH, scale=4, **TINY)
    path = save_basicsr(tmp_path / "small.pth", small.state_dict())
    with pytest.raises(WeightsError) as info:
        srzoo.load_model(path, arch="bicubic")
    assert "bicubic" in str(info.value)
    # same family, other size: the loader must say which tensors do not fit
    from srzoo.inference.model import load_into

    big = srzoo.build_arch(TOY_ARCH, scale=4, num_feat=16, num_grow=4, num_blocks=1)
    with pytest.raises(
        WeightsError, match=r"shape mismatch \d+: conv_first.weight \(8, 3, 3, 3\) vs \(16, 3, 3, 3\)"
    ):
        load_into(big, small.state_dict(), "toy_sr nf16")


def test_parameter_free_arch_needs_no_weights_but_others_do() -> None:
    assert srzoo.load_model(None, arch="bicubic", scale=2).scale == 2
    with pytest.raises(WeightsError, match="arch 'toy_sr' has parameters: give weights"):
        srzoo.load_model(None, arch=TOY_ARCH)


def test_unknown_tag_suggests_and_missing_path_is_named(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="weights file .*nope.pth does not exist"):
        resolve_weights(tmp_path / "nope.pth")
    with pytest.raises(UnknownNameError, match="unknown weights file or tag 'toy_srr'"):
        resolve_weights("toy_srr")


@pytest.fixture
def zoo_arch(tmp_path: Path):
    """A runtime-registered zoo entry whose published file is served from a file:// URL."""
    net = srzoo.build_arch(TOY_ARCH, scale=4, **TINY)
    published = save_basicsr(tmp_path / "published" / "tiny_x4.pth", net.state_dict())
    good = PretrainedWeights("v1", published.as_uri(), sha256_file(published), 4, kwargs=TINY)
    bad = PretrainedWeights("corrupt", published.as_uri(), "0" * 64, 4, kwargs=TINY, filename="corrupt.pth")
    factory = ARCHS.get(TOY_ARCH)

    @describe_arch(pretrained=(good, bad))
    def tiny_zoo(
        scale: int = 4, num_feat: int = 8, num_grow: int = 4, num_blocks: int = 1
    ) -> torch.nn.Module:
        return factory(scale=scale, num_feat=num_feat, num_grow=num_grow, num_blocks=num_blocks)

    ARCHS.register("tinyzoo", tiny_zoo)
    yield net
    ARCHS.unregister("tinyzoo")


def test_zoo_tag_downloads_once_into_cache_and_verifies(zoo_arch, tmp_path: Path) -> None:
    model = srzoo.load_model("tinyzoo")  # default tag
    cached = Path(os.environ["SRZOO_CACHE"]) / "weights" / "tiny_x4.pth"
    assert cached.is_file() and model.card.arch == "tinyzoo"
    x = torch.rand(1, 3, 6, 6)
    with torch.no_grad():
        assert torch.allclose(model(x), zoo_arch(x).clamp(0, 1), atol=1e-6)
    with pytest.raises(
        WeightsError, match="expected 0000.*nothing was kept; download it yourself and pass --weights"
    ):
        srzoo.load_model("tinyzoo.corrupt")
    assert not (Path(os.environ["SRZOO_CACHE"]) / "weights" / "corrupt.pth").exists()


def test_offline_tag_names_url_and_weights_option(tmp_path: Path) -> None:
    @describe_arch(pretrained=(PretrainedWeights("v1", (tmp_path / "gone.pth").as_uri(), None, 4),))
    def offline(scale: int = 4) -> torch.nn.Module:
        return torch.nn.Identity()

    ARCHS.register("offlinezoo", offline)
    try:
        with pytest.raises(
            WeightsError, match=r"cannot download weights offlinezoo.v1 from file://.*--weights PATH"
        ):
            srzoo.load_model("offlinezoo")
    finally:
        ARCHS.unregister("offlinezoo")
