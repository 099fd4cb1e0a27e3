"""`srzoo infer` CLI: naming, overwrite rules, folders, hostile inputs (one line each, no traceback)."""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srzoo.cli import main
from tests.test_infer_support import (
    ContextNet,
    context_net_file,
    digest,
    registered,
    smooth_rgb,
    tiny_net_file,
)

BICUBIC = ["--arch", "bicubic", "--scale", "2"]


def png(path: Path, h: int = 12, w: int = 16, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(smooth_rgb(h, w, seed)).save(path)
    return path


def infer(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["infer", *args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_each(err: str, *needles: str) -> None:
    assert "Traceback" not in err
    for needle in needles:
        lines = [line for line in err.splitlines() if needle in line]
        assert len(lines) == 1, (needle, err)


def test_output_beside_input_and_in_out_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = png(tmp_path / "a.png")
    code, out, _ = infer(capsys, str(src), *BICUBIC)
    assert code == 0 and (tmp_path / "a_sr.png").is_file()
    assert "MP/s" in out
    code, _, _ = infer(capsys, str(src), *BICUBIC, "--out-dir", str(tmp_path / "o"), "--suffix", "_x2")
    assert code == 0 and Image.open(tmp_path / "o" / "a_x2.png").size == (32, 24)


def test_existing_output_needs_overwrite_and_input_is_never_replaced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = png(tmp_path / "a.png")
    (tmp_path / "a_sr.png").write_bytes(b"keep me")
    code, _, err = infer(capsys, str(src), *BICUBIC)
    assert code == 1 and "--overwrite" in err and (tmp_path / "a_sr.png").read_bytes() == b"keep me"
    assert infer(capsys, str(src), *BICUBIC, "--overwrite")[0] == 0
    assert Image.open(tmp_path / "a_sr.png").size == (32, 24)
    before = digest(src)
    code, _, err = infer(capsys, str(src), *BICUBIC, "--suffix", "", "--overwrite")
    assert code == 1 and "overwrite the input" in err and digest(src) == before


def test_two_inputs_with_one_stem_do_not_clobber(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = png(tmp_path / "x" / "a.png", seed=1), png(tmp_path / "y" / "a.png", seed=2)
    code, _, err = infer(capsys, str(a), str(b), *BICUBIC, "--out-dir", str(tmp_path / "o"), "--overwrite")
    assert code == 1 and "was already written for" in err and "1 of 2 files failed" in err


def test_folder_recursive_keeps_layout_and_skips_old_outputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png(tmp_path / "in" / "a.png")
    png(tmp_path / "in" / "sub" / "b.png")
    (tmp_path / "in" / "notes.txt").write_text("not an image")
    code, _, _ = infer(
        capsys, str(tmp_path / "in"), *BICUBIC, "--out-dir", str(tmp_path / "out"), "--recursive"
    )
    assert code == 0
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.png")) == [
        "a_sr.png",
        "sub/b_sr.png",
    ]
    # next to the inputs, twice: the second run must not upscale the first run's a_sr.png
    assert infer(capsys, str(tmp_path / "in"), *BICUBIC)[0] == 0
    code, out, _ = infer(capsys, str(tmp_path / "in"), *BICUBIC, "--overwrite")
    assert code == 0 and "1 of 1 file" in out and not (tmp_path / "in" / "a_sr_sr.png").exists()


def hostile_folder(folder: Path) -> dict[str, Path]:
    """Good and bad files side by side, built at run time (no binary corpus in the repo)."""
    good = png(folder / "good.png")
    png(folder / "tiny.png", 1, 1)
    full = (folder / "good.png").read_bytes()
    (folder / "truncated.png").write_bytes(full[: len(full) // 2])
    (folder / "empty.png").write_bytes(b"")
    (folder / "text.png").write_text("hello, I am not a PNG\n")
    Image.fromarray(smooth_rgb(12, 16)).convert("CMYK").save(folder / "cmyk.jpg")
    # A real PNG header claiming 100000 x 100000 pixels: the limit must trip before any decoding.
    bomb = bytearray(full)
    bomb[16:24] = (100_000).to_bytes(4, "big") * 2
    import zlib

    bomb[29:33] = zlib.crc32(bytes(bomb[12:29])).to_bytes(4, "big")
    (folder / "bomb.png").write_bytes(bytes(bomb))
    os.symlink(folder / "missing.png", folder / "dangling.png")
    return {"good": good}


def test_folder_mixing_good_and_bad_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "mix"
    hostile_folder(folder)
    before = {p.name: digest(p) for p in folder.iterdir() if p.is_file() and not p.is_symlink()}
    code, out, err = infer(capsys, str(folder), *BICUBIC, "--out-dir", str(tmp_path / "out"))
    assert code == 1
    assert_one_line_each(err, "truncated.png:", "empty.png:", "text.png:", "bomb.png:", "dangling.png:")
    assert "5 of 8 files failed" in err
    assert "10000x100000" not in err and "100000x100000" in err and "SRZOO_MAX_PIXELS" in err
    assert "empty file" in err and "no such file" in err
    assert {p.name for p in (tmp_path / "out").iterdir()} == {"good_sr.png", "tiny_sr.png", "cmyk_sr.jpg"}
    assert Image.open(tmp_path / "out" / "tiny_sr.png").size == (2, 2)
    assert Image.open(tmp_path / "out" / "cmyk_sr.jpg").mode == "RGB"
    assert before == {p.name: digest(p) for p in folder.iterdir() if p.is_file() and not p.is_symlink()}
    assert not list(folder.glob("*_sr*")) and not list((tmp_path / "out").glob(".*tmp"))
    assert "3 of 8" in out


def test_max_pixels_can_be_raised(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = png(tmp_path / "a.png", 12, 16)
    code, _, err = infer(capsys, str(src), *BICUBIC, "--max-pixels", "100")
    assert code == 1 and "192 pixels" not in err and "0.0 MP" in err.replace("0.0 MP limit", "0.0 MP")
    assert infer(capsys, str(src), *BICUBIC, "--max-pixels", "1000")[0] == 0


def test_unreadable_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    src = png(tmp_path / "locked.png")
    if os.geteuid() == 0:  # root reads mode-000 files: simulate the OS refusing instead
        import PIL.Image

        real_open = PIL.Image.open

        def refuse(fp, *a, **k):
            if str(fp) == str(src):
                raise PermissionError(13, "Permission denied", str(src))
            return real_open(fp, *a, **k)

        monkeypatch.setattr(PIL.Image, "open", refuse)
    else:
        src.chmod(0)
    code, _, err = infer(capsys, str(src), *BICUBIC)
    assert code == 1
    assert_one_line_each(err, "locked.png: cannot read: Permission denied")


def test_weights_of_another_arch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = png(tmp_path / "a.png")
    weights = tiny_net_file(tmp_path, 2)
    with registered("ctx_cli", ContextNet):
        code, _, err = infer(capsys, str(src), "--model", str(weights), "--arch", "ctx_cli")
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert "holds weights of arch 'toy_sr', not 'ctx_cli'" in err
    assert not (tmp_path / "a_sr.png").exists()


def test_malicious_pickle_is_refused_unrun(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    evil = tmp_path / "evil.pth"
    evil.write_bytes(pickle.dumps({"params": Payload()}, protocol=2))
    src = png(tmp_path / "a.png")
    code, _, err = infer(capsys, str(src), "--model", str(evil))
    assert code == 1 and err.count("\n") == 1 and "refused to load" in err
    assert not marker.exists() and not (tmp_path / "a_sr.png").exists()


def test_any_registered_arch_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = png(tmp_path / "a.png", 20, 24)
    with registered("ctx_any", ContextNet):
        weights = context_net_file(tmp_path, "ctx_any", scale=3, depth=3)
        code, _, _ = infer(capsys, str(src), "--model", str(weights), "--tile", "48")
    assert code == 0 and Image.open(tmp_path / "a_sr.png").size == (72, 60)


def test_console_script_prints_no_traceback(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "srzoo"
    if not script.exists():
        script = Path(shutil.which("srzoo") or "")
    assert script.is_file(), "the srzoo console script is not installed"
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    proc = subprocess.run(
        [str(script), "infer", str(tmp_path / "broken.png"), "--arch", "bicubic"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert [line for line in proc.stderr.splitlines() if "broken.png" in line] == [
        f"{tmp_path / 'broken.png'}: corrupt or truncated image (Truncated File Read)"
    ]
    assert np.asarray(Image.new("RGB", (1, 1))).shape == (1, 1, 3)


def test_fast_path_opt_outs_and_the_kernel_in_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from srzoo.inference import cpu_kernels as cpu_conv

    src = png(tmp_path / "a.png", 20, 24)
    model = ["--model", str(tiny_net_file(tmp_path, 4)), "--device", "cpu", "--overwrite"]
    outputs = {}
    for flags, kernel in [
        ((), "onednn"),
        (("--no-fast",), "onednn (unfused)"),
        (("--cpu-conv", "nnpack"), "nnpack" if cpu_conv.nnpack_usable() else "onednn"),
    ]:
        code, out, err = infer(capsys, str(src), *model, *flags)
        assert code == 0, err
        assert f"(fp32, convs {kernel})" in out and "MP/s" in out
        outputs[kernel] = np.asarray(Image.open(tmp_path / "a_sr.png"), dtype=np.int16)
    first, *rest = outputs.values()
    assert all(np.abs(first - other).max() <= 1 for other in rest)  # same image up to rounding
    with pytest.raises(SystemExit) as exit_info:
        infer(capsys, str(src), *model, "--cpu-conv", "nnpak")
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "invalid choice: 'nnpak'" in err and "did you mean 'nnpack'" in err
