"""Published real-world models on the degraded evaluation sets of train_quality_real.py: the same seeded inputs.

    SRZOO_DATA=../shared/datasets python benchmarks/real_world_reference.py \
        --model x4plus=../shared/weights/RealESRGAN_x4plus_from_ncnn_fp16.pth [--model NAME=PATH ...]

Builds Set5 and BSD100 degraded exactly as benchmarks/train_quality_real.py does (`srzoo degrade SET OUT
--degradation realesrgan --seed 0`, default settings) and benches bicubic and each model on them: PSNR-Y and
SSIM-Y against the HR (crop 4) and NIQE (no reference; lower is better). The PSNR/SSIM rows of
train_quality_real.py's models (the bicubic-trained one and its run's generators) are read from
benchmarks/results/train_quality_real.json and shown beside them when that file's bicubic row is this
run's to 1e-9 (then the inputs are the same); otherwise the table says they are left out and why. Writes
benchmarks/results/real_world_reference.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from common import machine_info, machine_line, write_results
from train_quality_real import EVAL_SETS, RESULTS, SEED, _set_labels, degraded_sets

METRICS = ("psnr", "ssim", "niqe")
SAME_INPUTS_DB = 1e-9  # bicubic of identical LR files gives identical means; anything more means other inputs


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        action="append",
        required=True,
        metavar="NAME=PATH",
        help="a row: its label and a weights file, run directory or zoo tag (repeatable)",
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the json/md go")
    parser.add_argument(
        "--self-ensemble",
        action="store_true",
        help="also a NAME+ row per model: the mean over the 8 flips/rotations of each input (8x the time)",
    )
    parser.add_argument("--tag", help="results go to real_world_reference_TAG.{json,md}")
    parser.add_argument(
        "--tiny",
        type=Path,
        default=RESULTS / "train_quality_real.json",
        help="train_quality_real.py's results, whose rows are shown beside these when the inputs match",
    )
    args = parser.parse_args(argv)
    models = {}
    for item in args.model:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            parser.error(f"--model {item!r}: write NAME=PATH, e.g. x4plus=RealESRGAN_x4plus.pth")
        if name in models or name == "bicubic":
            parser.error(f"--model {item!r}: the label {name!r} is taken")
        models[name] = path
    args.models = models
    return args


def bench(
    models: dict[str, str], sets: dict[str, Path], self_ensemble: bool = False
) -> tuple[dict, dict, dict]:
    """(label -> set -> {psnr, ssim, niqe, seconds_per_image}, label -> what srzoo loaded, metric -> why it
    could not run) on the sets; with `self_ensemble` each model also gets a `label+` row."""
    from srzoo.eval.bench import run_bench
    from srzoo.inference.model import load_model

    table: dict[str, dict[str, dict]] = {}
    cards: dict[str, dict] = {}
    unavailable: dict[str, str] = {}
    folders = [str(p) for p in sets.values()]
    for i, (label, weights) in enumerate(models.items()):
        model = load_model(weights)
        cards[label] = {"weights": weights, "arch": model.card.arch, "kwargs": model.card.kwargs}
        for ensemble in (False, True) if self_ensemble else (False,):
            report = run_bench(
                model,
                folders,
                scale=4,
                metrics=METRICS,
                baseline=i == 0 and not ensemble,
                self_ensemble=ensemble,
            )
            # e.g. NIQE offline without its parameter file: say so, not blank
            unavailable |= report.unavailable
            for result, set_name in zip(report.results, _set_labels(report, sets)):
                name = "bicubic" if result.model == "bicubic" else label + "+" * ensemble
                table.setdefault(name, {})[set_name] = {
                    **{m: result.mean(m) for m in METRICS},
                    "seconds_per_image": result.seconds_per_image,
                }
    return table, cards, unavailable


def tiny_rows(path: Path, bicubic: dict[str, dict]) -> tuple[dict[str, dict], str]:
    """train_quality_real.json's model rows when its bicubic means are this run's, and a line saying which."""
    if not path.is_file():
        return {}, f"{path.name} is missing: its models' rows are left out"
    saved = json.loads(path.read_text())["results"]
    off = max(abs(saved["bicubic"][s]["psnr"] - bicubic[s]["psnr"]) for s in EVAL_SETS)
    if off > SAME_INPUTS_DB:
        return {}, f"{path.name}'s bicubic differs by {off:.2g} dB (other inputs): its rows are left out"
    rows = {k: {s: {m: v[s][m] for m in ("psnr", "ssim")} for s in EVAL_SETS} for k, v in saved.items()}
    rows.pop("bicubic")
    return rows, f"rows marked * are from {path.name} (its bicubic means equal this run's: the same inputs)"


def markdown(summary: dict) -> str:
    def cell(value: float | None, digits: int) -> str:
        return "—" if value is None else f"{value:.{digits}f}"

    head = " | ".join(f"{s} PSNR-Y | {s} SSIM-Y | {s} NIQE" for s in ("Set5", "BSD100"))
    rows = [f"| model | {head} | s/img (BSD100) |", "|---|" + "---:|" * 7]
    for label, by_set in [*summary["results"].items(), *((f"{k} *", v) for k, v in summary["tiny"].items())]:
        cells = " | ".join(
            f"{cell(by_set[s].get('psnr'), 2)} | {cell(by_set[s].get('ssim'), 4)} | {cell(by_set[s].get('niqe'), 2)}"
            for s in EVAL_SETS
        )
        rows.append(f"| {label} | {cells} | {cell(by_set['bsd100'].get('seconds_per_image'), 2)} |")
    loaded = [f"- `{k}`: {v['weights']} ({v['arch']} {v['kwargs']})" for k, v in summary["models"].items()]
    return "\n".join([
        "# Published real-world models on the degraded evaluation sets",
        "",
        "Inputs: Set5 and BSD100 HR degraded with `srzoo degrade SET OUT --degradation realesrgan "
        f"--seed {SEED}` (the inputs of benchmarks/train_quality_real.py). PSNR/SSIM on Y, crop border 4, "
        "against the HR; NIQE has no reference (lower is better).",
        "",
        *rows,
        "",
        summary["tiny_note"] + ".",
        *(
            ["Rows marked + are the model's mean output over the 8 flips/rotations of each input "
             "(`srzoo bench --self-ensemble`)."]
            if summary.get("self_ensemble")
            else []
        ),
        *(f"{m.upper()} unavailable: {why}" for m, why in summary.get("metrics_unavailable", {}).items()),
        "",
        "Models:",
        *loaded,
        "",
        f"Wall time: {summary['minutes']:.1f} min. Machine: {summary['machine']}.",
    ])  # fmt: skip


def main() -> int:
    args = parse()
    from srzoo.testing import shared_datasets, shared_root

    if "SRZOO_DATA" not in os.environ:
        os.environ["SRZOO_DATA"] = str(shared_datasets())
    shared_niqe = shared_root() / "metrics_assets" / "niqe_pris_params.npz"
    if "SRZOO_NIQE_PARAMS" not in os.environ and shared_niqe.is_file():  # offline: ../shared has NIQE's file
        os.environ["SRZOO_NIQE_PARAMS"] = str(shared_niqe)
    from srzoo.errors import SrzooError

    start = time.perf_counter()
    machine = machine_info()
    with tempfile.TemporaryDirectory() as tmp:
        sets = degraded_sets(Path(tmp))
        try:
            results, cards, unavailable = bench(args.models, sets, args.self_ensemble)
        except SrzooError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    tiny, note = tiny_rows(args.tiny, results["bicubic"])
    summary = {
        "eval_sets": {name: {"degradation": "realesrgan", "seed": SEED} for name in sets},
        "metrics": list(METRICS),
        "models": cards,
        "self_ensemble": args.self_ensemble,
        "results": results,
        "tiny": tiny,
        "tiny_note": note,
        "metrics_unavailable": unavailable,
        "minutes": (time.perf_counter() - start) / 60,
        "machine": machine_line(machine),
        "machine_info": machine,
    }
    text = markdown(summary)
    stem = "real_world_reference" + (f"_{args.tag}" if args.tag else "")
    write_results(stem, summary, text, args.results)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
