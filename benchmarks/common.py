"""Shared benchmark helpers: machine info, alternating timers, FLOP counts and the JSON + markdown writers."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
WEIGHTS = ROOT.parent / "shared" / "weights" / "RealESRGAN_x4plus_from_ncnn_fp16.pth"
# the bicubic-trained tiny generator of train_quality.py's default run, which the real-world benchmarks compare with
BICUBIC_MODEL = HERE / "runs" / "train_quality" / "psnr.safetensors"
for _path in (ROOT, ROOT / "plugins" / "esrgan"):  # run as plain scripts from a checkout, installed or not
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import torch  # noqa: E402  (after the path set-up above)


@contextmanager
def sigterm_after(seconds: float) -> Iterator[None]:
    """SIGTERM this process after `seconds` unless the block ends first: srzoo's training then stops after the
    step it is in and exports last.safetensors, so a run bounded by wall time still leaves its generator."""
    import signal
    import threading

    timer = threading.Timer(seconds, lambda: os.kill(os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


# -- machine -------------------------------------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_flags() -> list[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                have = set(line.split(":", 1)[1].split())
                wanted = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_tile")
                return [f for f in wanted if f in have]
    except OSError:
        pass
    return []


def cpu_isa_flags() -> list[str]:
    """The ISA flags that decide fp32 / bf16 speed, as torch's cpuinfo sees them (/proc/cpuinfo's as fallback).

    Same names and checks as srzoo.inference.precision (not imported: this module runs on bare GPU boxes too).
    """
    wanted = ("avx2", "fma3", "avx512_f", "avx512_bw", "avx512_vl", "avx512_dq", "avx512_vnni", "avx512_bf16",
              "avx512_fp16", "avx_ne_convert", "amx_tile", "amx_bf16", "amx_fp16")  # fmt: skip
    get = getattr(torch.cpu, "get_capabilities", None)  # torch >= 2.8
    caps = get() if get is not None else {}
    return [f for f in wanted if caps.get(f)] if caps else _cpu_flags()


def cpu_bf16_native() -> bool:
    """oneDNN has bf16 kernels for this CPU (AVX-512 BW/VL/DQ, AVX-NE-CONVERT or AMX; not AVX2)."""
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(check()) if check is not None and torch.backends.mkldnn.is_available() else False


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on: CPU, cores, threads, torch / oneDNN versions, GPU and load."""
    info: dict[str, Any] = {
        "cpu": _cpu_model(),
        "cpu_flags": _cpu_flags(),
        "physical_cores": physical_cores(),
        "logical_cpus": os.cpu_count(),
        # CPUs this process may run on (taskset): two runs pinned one core each share the machine side by side
        "cpus_allowed": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "onednn": torch.backends.mkldnn.is_available(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_isa_flags": cpu_isa_flags(),
        "cpu_bf16_native": cpu_bf16_native(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
        if hasattr(os, "sysconf")
        else None,
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "git_commit": _git_commit(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info["gpu"] = props.name
        info["gpu_memory_gb"] = round(props.total_memory / 2**30, 1)
        info["cuda"] = torch.version.cuda
        info["cudnn"] = torch.backends.cudnn.version()
    else:
        info["gpu"] = None
    return info


def machine_line(info: dict[str, Any]) -> str:
    """One markdown line naming the machine, for every summary."""
    gpu = f", GPU {info['gpu']}" if info.get("gpu") else ""
    load = info.get("load_average")
    flags = info.get("cpu_isa_flags", info.get("cpu_flags")) or []
    bf16 = {True: "; native bf16", False: "; no native bf16"}.get(info.get("cpu_bf16_native"), "")
    isa = f"ISA {info.get('cpu_capability', '?')} ({' '.join(flags) or 'flags unknown'}{bf16})"
    allowed = info.get("cpus_allowed")
    logical = info.get("logical_cpus") or 0
    pinned = f", pinned to {allowed} of {logical} CPUs" if allowed and allowed < logical else ""
    return (
        f"{info['cpu']} ({info['physical_cores']} cores{pinned}, {info['torch_threads']} torch threads{gpu}; {isa}), "
        f"torch {info['torch']}, load average {load[0] if load else '?'} at start, {info['date']}"
    )


# -- timing --------------------------------------------------------------------------------------------------
def _sync(device: torch.device | str | None) -> None:
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def alternate(
    fns: dict[str, Callable[[], object]],
    *,
    reps: int,
    warmup: int = 1,
    device: torch.device | str | None = None,
    budget_s: float | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, list[float]]:
    """Wall seconds per call of each function, run round-robin (A B C A B C …) so drifting load hits all.

    Stops early (after at least one timed round) once `budget_s` seconds have passed. `clock=time.process_time`
    counts this process's CPU seconds instead: with one thread, a load-robust measure of the work itself.
    """
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    _sync(device)
    times: dict[str, list[float]] = {name: [] for name in fns}
    start = time.perf_counter()
    for _ in range(reps):
        for name, fn in fns.items():
            t0 = clock()
            fn()
            _sync(device)
            times[name].append(clock() - t0)
        if budget_s is not None and time.perf_counter() - start > budget_s:
            break
    return times


def _busy_seconds() -> float | None:
    """CPU seconds the whole machine has spent busy (incl. time stolen by the hypervisor); None w/o psutil."""
    try:
        import psutil
    except ImportError:
        return None
    t = psutil.cpu_times()
    return sum(getattr(t, f, 0.0) for f in ("user", "nice", "system", "irq", "softirq", "steal"))


class Contention:
    """Context manager: `.others` = share of all CPUs that OTHER processes used while the block ran.

    0 means the machine was ours; 0.5 on 2 cores means someone else kept a whole core busy, which makes
    multi-threaded timings unreliable (a descheduled OpenMP thread stalls every barrier).
    """

    others: float | None = None

    def __enter__(self) -> Contention:
        self._t, self._busy, self._own = time.perf_counter(), _busy_seconds(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        busy = _busy_seconds()
        wall = time.perf_counter() - self._t
        if busy is None or self._busy is None or wall <= 0:
            return
        own = time.process_time() - self._own
        self.others = max(0.0, busy - self._busy - own) / (wall * (os.cpu_count() or 1))


def wait_for_quiet(max_others: float, timeout_s: float, sample_s: float = 5.0) -> float | None:
    """Sleep until other processes use at most `max_others` of the CPUs over `sample_s` (or timeout)."""
    deadline = time.perf_counter() + timeout_s
    while True:
        with Contention() as c:
            time.sleep(sample_s)
        if c.others is None or c.others <= max_others or time.perf_counter() > deadline:
            return c.others
        log(f"   machine busy (others use {c.others:.0%} of the CPUs); waiting")


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def geomean(values: Iterable[float]) -> float:
    vals = [float(v) for v in values]
    return float(statistics.geometric_mean(vals)) if vals else float("nan")


# -- FLOPs ---------------------------------------------------------------------------------------------------
def rrdbnet_macs_per_lr_pixel(num_blocks: int = 23, num_feat: int = 64, num_grow: int = 32) -> int:
    """Multiply-accumulates per LR pixel of x4 RRDBNet (issue 8's closed form; 3x3 convs, nearest upsampling).

    Per RRDB: 3 dense blocks of nf·gc + (nf+gc)·gc + … + (nf+4gc)·nf = nf² + 8·nf·gc + 6·gc² per tap; the
    37·nf² are conv_body (1) and the upsampling convs at 2x (4) and 4x (16 + 16: conv_up2, conv_hr); the
    51·nf are conv_first (3 in) and conv_last (3 out at 16 HR pixels per LR pixel).
    """
    nb, nf, gc = num_blocks, num_feat, num_grow
    return 9 * (3 * nb * (nf * nf + 8 * nf * gc + 6 * gc * gc) + 37 * nf * nf + 51 * nf)


def rrdbnet_flops(height: int, width: int, batch: int = 1, **kwargs: int) -> int:
    """FLOPs (2 per MAC) of one x4 RRDBNet forward on `batch` LR images of height x width."""
    return 2 * rrdbnet_macs_per_lr_pixel(**kwargs) * height * width * batch


def counted_flops(fn: Callable[[], object]) -> int:
    """FLOPs (2 per MAC) torch's FlopCounterMode sees in `fn` (convs, matmuls; forward and backward).

    Run it on meta tensors to count a large configuration without computing it.
    """
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


# -- peak ----------------------------------------------------------------------------------------------------
def load_peak(device: str = "cpu") -> dict[str, Any] | None:
    """The last `benchmarks/peak.py` result for this device kind, if any (so reports read as % of peak)."""
    path = RESULTS / f"peak_{device}.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


# -- output --------------------------------------------------------------------------------------------------
def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    def cell(value: object) -> str:
        if isinstance(value, float):
            return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
        return str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_results(
    name: str, report: dict[str, Any], markdown: str, out_dir: str | Path | None = None
) -> Path:
    """Write `<out_dir>/<name>.json` and `.md` atomically (default benchmarks/results/); return the JSON."""
    out = Path(out_dir) if out_dir is not None else RESULTS
    out.mkdir(parents=True, exist_ok=True)
    for path, text in (
        (out / f"{name}.json", json.dumps(report, indent=2, default=str)),
        (out / f"{name}.md", markdown),
    ):
        # srzoo.framework.files.atomic_write's recipe (temp file + rename) without importing srzoo, whose package
        # import needs PyYAML: the GPU suite must still save its peak numbers on a bare box without it
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text.rstrip() + "\n")
        os.replace(tmp, path)
    return out / f"{name}.json"


def physical_cores() -> int | None:
    try:  # psutil is optional: a bare GPU box may not have it
        import psutil

        return psutil.cpu_count(logical=False)
    except ImportError:
        return os.cpu_count()


def set_threads(threads: int | None) -> int:
    """Use `threads` torch threads (default: physical cores, what oneDNN runs best with); return the count."""
    n = threads or physical_cores() or os.cpu_count() or 1
    torch.set_num_threads(n)
    return n


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)
