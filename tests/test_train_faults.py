"""Faults during training: a full disk while checkpointing, a damaged newest checkpoint, NaN weights, SIGKILL mid-write.

Each fault ends in one clear line (or a warning and a resume), and the previous checkpoint stays usable: resuming
from it reproduces the uninterrupted run bit for bit. Core only: the test-only toy plugin's arch.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from srzoo import LOSSES, SrzooError
from srzoo.recipes.schema import load_recipe
from srzoo.testing.training import write_recipe
from srzoo.train.checkpoint import CheckpointWriteError, damage, read_checkpoint
from srzoo.train.loop import train
from srzoo.train.options import TrainOptions
from srzoo.train.session import TrainingError
from tests.fuzz_support import one_line, record
from tests.toy import toy_recipe

REPO = Path(__file__).resolve().parents[1]
PSNR_ONLY = "phases=[{name: psnr, type: supervised, iters: 6, optimizer: {lr: 2.0e-3}}]"


@pytest.fixture(scope="module")
def recipe_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("faults")
    data = toy_recipe(root, images=4, size=32)
    data["data"]["patch_size"] = 16
    data["train"].update(checkpoint_interval=2, keep_checkpoints=2, val_interval=0, log_interval=1)
    return write_recipe(root / "tiny.yaml", data)


def run(recipe_file: Path, out: Path, *overrides: str, **options: object):
    return train(load_recipe(recipe_file, [PSNR_ONLY, *overrides]), TrainOptions(output_dir=out, **options))


def checkpoints(out: Path) -> list[str]:
    return sorted(p.name for p in (out / "checkpoints").iterdir())


def same(a: Path, b: Path) -> bool:
    ta, tb = load_file(str(a)), load_file(str(b))
    return ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta)


@pytest.fixture(scope="module")
def straight(recipe_file: Path, tmp_path_factory) -> Path:
    """The uninterrupted run every resumed one must reproduce."""
    out = tmp_path_factory.mktemp("straight") / "run"
    assert run(recipe_file, out).global_step == 6
    return out


# -- the disk fills up while a checkpoint is written ------------------------------------------------------------
def _full_disk(monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    """The second checkpoint's `where` writes part of a file, then the disk is full."""
    from accelerate import Accelerator

    from srzoo.train.ema import GeneratorEma

    owner, name = (Accelerator, "save_state") if where == "save_state" else (GeneratorEma, "save")
    real, calls = getattr(owner, name), []

    def failing(self, path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 2:
            target = Path(path) / "model.safetensors" if where == "save_state" else Path(path)
            target.write_bytes(b"half a file")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(owner, name, failing)


@pytest.mark.parametrize("where", ["save_state", "ema"])
def test_disk_full_stops_with_one_line_and_the_previous_checkpoint_intact(
    recipe_file: Path, straight: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    out = tmp_path / "run"
    _full_disk(monkeypatch, where)
    with pytest.raises(CheckpointWriteError) as info:
        run(recipe_file, out)
    message = one_line(info.value)
    assert "cannot write checkpoint checkpoint-00000004" in message and "No space left on device" in message
    assert (
        "checkpoint-00000002 is intact" in message
        and "free some space, then continue with --resume auto" in message
    )
    assert checkpoints(out) == ["checkpoint-00000002"]  # the half-written one is gone, nothing else touched
    assert damage(read_checkpoint(out / "checkpoints" / "checkpoint-00000002")) is None
    assert not (out / "last.safetensors").exists()
    monkeypatch.undo()  # space freed: the run continues from step 2 and ends where the straight one did
    assert run(recipe_file, out, resume="auto").global_step == 6
    assert same(straight / "last.safetensors", out / "last.safetensors")
    record("training fault", f"disk full during {where}", "CheckpointWriteError")


def test_disk_full_through_the_cli_is_exit_1_and_one_line(
    recipe_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from srzoo.cli import main

    _full_disk(monkeypatch, "save_state")
    code = main(["train", str(recipe_file), PSNR_ONLY, "--output-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and err[-1].startswith("srzoo train: error: cannot write checkpoint checkpoint-00000004")
    assert "internal error" not in "\n".join(err)


# -- the newest checkpoint is damaged when the run resumes ------------------------------------------------------
def _flip_middle(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))


DAMAGE = {
    "a flipped bit in the weights": lambda ckpt: _flip_middle(ckpt / "model.safetensors"),
    "a truncated optimizer state": lambda ckpt: (ckpt / "optimizer.bin").write_bytes(b"PK\x03\x04"),
    "the EMA weights deleted": lambda ckpt: (ckpt / "ema.safetensors").unlink(),
    "a garbled state file": lambda ckpt: (ckpt / "srzoo_state.json").write_text("{not json"),
}


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_damaged_newest_checkpoint_falls_back_to_the_previous_one(
    recipe_file: Path, straight: Path, tmp_path: Path, case: str
) -> None:
    out = tmp_path / "run"
    assert run(recipe_file, out, max_steps=4).global_step == 4
    assert checkpoints(out) == ["checkpoint-00000002", "checkpoint-00000004"]
    DAMAGE[case](out / "checkpoints" / "checkpoint-00000004")
    result = run(recipe_file, out, resume="auto")
    assert (result.status, result.global_step) == ("complete", 6)
    log = (out / "train.log").read_text()
    assert "warning: checkpoint checkpoint-00000004 is damaged (" in log
    assert "resuming checkpoint-00000002 instead" in log and "resuming checkpoint-00000002 tiny_test" in log
    assert same(straight / "last.safetensors", out / "last.safetensors")  # steps 3..6 replayed exactly
    record("training fault", f"newest checkpoint: {case}", "warning, resumed from the previous one")


def test_an_explicitly_named_damaged_checkpoint_is_refused(recipe_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run(recipe_file, out, max_steps=2)
    ckpt = out / "checkpoints" / "checkpoint-00000002"
    _flip_middle(ckpt / "model.safetensors")
    with pytest.raises(SrzooError, match=r"checkpoint-00000002 is damaged \(model.safetensors has changed"):
        run(recipe_file, tmp_path / "other", resume=str(ckpt))
    with pytest.raises(
        SrzooError, match="no intact checkpoint"
    ):  # the only one is damaged: no silent restart
        run(recipe_file, out, resume="auto")


# -- NaN in the weights while the loss is still finite --------------------------------------------------------
class _NanGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x.clone()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad * float("nan")


class _PoisonedL1(torch.nn.Module):
    """L1 whose `at`-th call has a finite value but NaN gradients: the update, not the loss, breaks the weights."""

    calls = 0
    at = 4

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        type(self).calls += 1
        if type(self).calls == self.at:
            pred = _NanGradient.apply(pred)
        return (pred - target).abs().mean()


def test_nan_weights_are_never_checkpointed_or_exported(recipe_file: Path, tmp_path: Path) -> None:
    _PoisonedL1.calls = 0
    LOSSES.register("test_poisoned_l1", _PoisonedL1)
    try:
        out = tmp_path / "run"
        poisoned = "phases.0.losses=[{name: test_poisoned_l1}]"
        with pytest.raises(TrainingError) as info:
            run(recipe_file, out, poisoned)
    finally:
        LOSSES.unregister("test_poisoned_l1")
    message = one_line(info.value)
    assert "non-finite weights in the generator" in message and "after step 4 of phase 'psnr'" in message
    assert "the last good checkpoint is" in message and message.rstrip().endswith("--resume auto")
    assert checkpoints(out) == ["checkpoint-00000002"]
    weights = load_file(str(out / "checkpoints" / "checkpoint-00000002" / "model.safetensors"))
    assert all(torch.isfinite(t).all() for t in weights.values())
    assert not (out / "last.safetensors").exists()
    record("training fault", "NaN weights after a finite loss", "TrainingError")


# -- SIGKILL in the middle of writing a checkpoint file ------------------------------------------------------
_DIE_DURING_WRITE = """
import os, signal, sys
import safetensors.torch as st

real, count = st.save_file, 0


def dying(tensors, filename, metadata=None):  # the 3rd safetensors file: checkpoint 4's model, half written
    global count
    count += 1
    if count == 3:
        data = st.save(tensors, metadata=metadata)
        with open(filename, "wb") as f:
            f.write(data[: len(data) // 2])
        os.kill(os.getpid(), signal.SIGKILL)
    return real(tensors, filename, metadata=metadata)


st.save_file = dying
from srzoo.train.__main__ import main

sys.exit(main(sys.argv[1:]))
"""


def _train(args: list[str], code: str | None = None) -> subprocess.CompletedProcess:
    # One thread: runs compared bit for bit must not differ in their kernels' thread splits.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-c", code] if code else [sys.executable, "-m", "srzoo.train"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=600)


@pytest.mark.slow
def test_sigkill_while_a_checkpoint_file_is_written_then_resume_is_bit_exact(
    recipe_file: Path, tmp_path: Path
) -> None:
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    args = [str(recipe_file), PSNR_ONLY]
    done = _train([*args, "--output-dir", str(straight)])
    assert done.returncode == 0, done.stderr[-2000:]
    died = _train([*args, "--output-dir", str(killed)], _DIE_DURING_WRITE)
    assert died.returncode == -signal.SIGKILL, died.stderr[-2000:]
    half = killed / "checkpoints" / ".tmp-checkpoint-00000004" / "model.safetensors"
    assert half.is_file() and checkpoints(killed) == [".tmp-checkpoint-00000004", "checkpoint-00000002"]
    resumed = _train([*args, "--output-dir", str(killed), "--resume", "auto"])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming checkpoint-00000002" in resumed.stdout + resumed.stderr
    assert checkpoints(killed) == ["checkpoint-00000004", "checkpoint-00000006"]  # the leftover is cleaned
    final = "checkpoints/checkpoint-00000006"
    for name in ["last.safetensors", f"{final}/model.safetensors", f"{final}/ema.safetensors"]:
        assert same(straight / name, killed / name), name
    assert (straight / final / "optimizer.bin").read_bytes() == (
        killed / final / "optimizer.bin"
    ).read_bytes()
    record("training fault", "SIGKILL while a checkpoint file is written", "resumed bit-exact")
