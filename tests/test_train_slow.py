"""Training across processes: SIGKILL then resume (bit-exact), two-process CPU DDP (core, with the toy plugin)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from srzoo.testing.training import write_recipe
from srzoo.train.checkpoint import Checkpoints
from tests.toy import toy_recipe

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


def env(**extra: str) -> dict[str, str]:
    # One thread everywhere: runs compared bit for bit must not differ in their kernels' thread splits.
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", **extra}


def train_cmd(recipe: Path, out: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "srzoo.train", str(recipe), "--output-dir", str(out), *args]


def check(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, env=env(), cwd=REPO, timeout=600, **kwargs)
    assert done.returncode == 0, f"{cmd} failed ({done.returncode}):\n{done.stderr[-3000:]}"
    return done


def same(a: Path, b: Path) -> list[str]:
    ta, tb = load_file(str(a)), load_file(str(b))
    assert ta.keys() == tb.keys()
    return [k for k in ta if not torch.equal(ta[k], tb[k])]


@pytest.fixture(scope="module")
def recipe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    data = toy_recipe(root)
    data["phases"][0]["iters"] = 8  # the resumed run crosses into the GAN phase
    data["phases"][1]["iters"] = 150  # long enough to be killed mid-run; runs below stop with --max-steps
    data["train"].update(checkpoint_interval=2, val_interval=0, log_interval=5)
    return write_recipe(root / "tiny.yaml", data)


def test_sigkill_during_training_then_resume_is_bit_exact(recipe: Path, tmp_path: Path) -> None:
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    check(train_cmd(recipe, straight, "--max-steps", "14"))
    proc = subprocess.Popen(train_cmd(recipe, killed), env=env(), cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while not Checkpoints(killed, 2).complete():
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no checkpoint appeared"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    killed_at = [int(p.name.split("-")[1]) for p in Checkpoints(killed, 2).complete()]
    assert killed_at and killed_at[-1] < 14 and not (killed / "last.safetensors").exists()
    done = check(train_cmd(recipe, killed, "--resume", "auto", "--max-steps", "14"))
    assert "resuming checkpoint-" in done.stdout + done.stderr
    final = "checkpoints/checkpoint-00000014"
    names = ["last.safetensors", "psnr.safetensors", f"{final}/optimizer.bin"]
    names += [f"{final}/{n}.safetensors" for n in ("model", "model_1", "ema")]
    for name in names:
        if name.endswith(".bin"):
            assert (killed / name).read_bytes() == (straight / name).read_bytes(), name
        else:
            assert not same(straight / name, killed / name), name


def test_half_written_checkpoints_are_never_resumed(tmp_path: Path) -> None:
    ckpts = Checkpoints(tmp_path, keep=2)
    (ckpts.root / "checkpoint-00000004").mkdir(parents=True)
    (ckpts.root / "checkpoint-00000004" / "srzoo_state.json").write_text('{"state": {"global_step": 4}}')
    (ckpts.root / ".tmp-checkpoint-00000006").mkdir()  # killed during save_state
    (ckpts.root / "checkpoint-00000008").mkdir()  # no state file: not ours / incomplete
    found = ckpts.find("auto")
    assert found is not None and found.path.name == "checkpoint-00000004" and found.state.global_step == 4
    ckpts.clean_temporary()
    assert not (ckpts.root / ".tmp-checkpoint-00000006").exists()


def test_two_process_cpu_ddp_matches_one_process(recipe: Path, tmp_path: Path) -> None:
    """torchrun, 2 processes on CPU (gloo): each sees half of every batch; supervised matches 1 process."""
    ddp, single = tmp_path / "ddp", tmp_path / "single"
    args = ["phases.0.iters=3", "phases.1.iters=3", "train.checkpoint_interval=3"]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    done = subprocess.run([*torchrun, *train_cmd(recipe, ddp, *args)[1:]], capture_output=True, text=True,
                          env=env(ACCELERATE_USE_CPU="1"), cwd=REPO, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    log = (ddp / "train.log").read_text()
    assert "(2 process(es), cpu" in log and log.count("complete at step 6") == 1
    final = ddp / "checkpoints" / "checkpoint-00000006"
    assert (final / "random_states_0.pkl").is_file() and (final / "random_states_1.pkl").is_file()
    check(train_cmd(recipe, single, *args))
    # Supervised: the same images per step, gradients averaged over processes -> the same weights up to float
    # rounding (Adam turns a sharding or scheduler bug into differences of ~lr = 1e-3). The GAN phase is not
    # compared: its adversarial terms are taken per process.
    for name in ("psnr.safetensors", "checkpoints/checkpoint-00000003/model.safetensors"):
        a, b = load_file(str(ddp / name)), load_file(str(single / name))
        worst = max((a[k] - b[k]).abs().max().item() for k in a)
        assert worst < 1e-6, f"{name}: DDP and single-process weights differ by {worst}"
    assert load_file(str(ddp / "gan.safetensors")).keys() == load_file(str(single / "gan.safetensors")).keys()
