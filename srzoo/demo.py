"""`srzoo demo`: train a recipe tagged `demo` on scikit-image's bundled photos, bench held-out ones vs bicubic."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from srzoo.errors import ConfigError, InputError, SrzooError, WeightsError
from srzoo.framework.files import atomic_write

DEMO_TAG = "demo"  # a plugin marks the recipe `srzoo demo` trains by default with `tags: [demo]`
# scikit-image ships these in its wheel (no download); all CC0 or public domain (see skimage.data docstrings).
TRAIN_IMAGES = ("astronaut", "rocket", "hubble_deep_field", "immunohistochemistry", "retina", "brick",
                "grass", "gravel", "coins", "moon", "text", "page")  # fmt: skip
HOLDOUT_IMAGES = ("chelsea", "coffee", "camera")  # never seen in training: the numbers the demo reports
MARKER = ".srzoo-demo"
DEMO_OVERRIDES = (
    "data.num_workers=0",
    "train.checkpoint_interval=0",
    "train.log_interval=10",
    "train.trackers=[]",
)
PHASE_SHARES = (0.8, 0.2)  # of the training time: the PSNR phase does the work that beats bicubic
BENCH_SECONDS = 40  # kept free at the end for the holdout bench and the figure (~15 s measured)
# Plan for 85% of the time left: a shared machine's load drifts (a measured 0.42 s/it became 0.5 s/it).
PLAN_MARGIN = 0.85


@dataclass
class DemoResult:
    output_dir: Path
    table: str
    scores: dict[str, dict[str, float]]  # model -> {"psnr": mean PSNR-Y, "ssim": mean SSIM-Y}
    seconds: float
    notes: list[str] = field(default_factory=list)


def write_images(folder: Path, names: Sequence[str]) -> None:
    """Save the named scikit-image sample images as PNG files (RGBA and float images become uint8)."""
    try:
        import skimage.data
    except ImportError:
        raise ConfigError("the demo needs scikit-image: pip install 'srzoo[demo]'") from None
    from srzoo.imaging.datafiles import save_image

    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        image = np.asarray(getattr(skimage.data, name)())
        if image.dtype != np.uint8:
            image = (np.clip(image, 0, 1) * 255).round().astype(np.uint8)
        save_image(folder / f"{name}.png", image[..., :3] if image.ndim == 3 else image)


def find_demo_recipe() -> str:
    """The registered recipe tagged `demo` (the first by name if several); a one-line error when none is."""
    from srzoo.framework.registries import RECIPES
    from srzoo.recipes.loader import read_yaml

    tagged = []
    for name in RECIPES.names():
        try:
            tags = read_yaml(RECIPES.get(name)).get("tags") or []
        except SrzooError:  # a broken plugin's recipe: `srzoo list plugins` reports it
            continue
        if DEMO_TAG in tags:
            tagged.append(name)
    if not tagged:
        raise ConfigError(
            "srzoo demo trains a recipe tagged `demo`, and no installed plugin registers one: install a model "
            "plugin (in the srzoo repository: pip install -e plugins/esrgan) or pass --recipe NAME"
        )
    return tagged[0]


def offline_weights_fallback(recipe: Any, say: Callable[[str], None] = print) -> list[str]:
    """Overrides setting `weights: none` on losses whose pretrained weights cannot be had (offline machines).

    The convention (docs/plugins.md): a loss backed by downloaded weights takes a `weights` argument, and
    `none` builds it randomly initialised. Only the demo and the CPU benchmarks use this fallback; a random
    feature extractor is a weak perceptual loss, so the run says so.
    """
    import inspect

    from srzoo.framework.build import build_loss
    from srzoo.framework.registries import LOSSES

    overrides, verdicts = [], {}
    for i, phase in enumerate(recipe.phases):
        for j, loss in enumerate(phase.losses):
            factory = LOSSES.get(loss.name)
            if "weights" not in inspect.signature(factory).parameters or loss.kwargs.get("weights") == "none":
                continue
            key = (loss.name, repr(sorted(loss.kwargs.items())))
            if key not in verdicts:
                try:
                    build_loss(loss.name, **loss.kwargs)
                    verdicts[key] = True
                except WeightsError as exc:
                    verdicts[key] = False
                    say(f"note: {exc}; phase {phase.name!r} uses a randomly initialised {loss.name!r} loss")
            if not verdicts[key]:
                overrides.append(f"phases.{i}.losses.{j}.kwargs.weights=none")
    return overrides


def prepare_output(output_dir: Path, overwrite: bool) -> None:
    if output_dir.exists() and any(output_dir.iterdir()):
        if not overwrite:
            raise InputError(
                f"{output_dir} exists and is not empty; pass --overwrite or another --output-dir"
            )
        if not (output_dir / MARKER).is_file():
            raise InputError(f"{output_dir} was not made by `srzoo demo`; refusing to overwrite it")
        shutil.rmtree(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / MARKER).write_text("made by `srzoo demo`; --overwrite may delete this folder\n")


def demo_recipe(name: str, output_dir: Path, overrides: Sequence[str], extra: Sequence[str] = ()) -> Any:
    """Recipe `name` on the demo's image folders (training set; the held-out photos validate)."""
    from srzoo.recipes.schema import load_recipe

    train_dir, holdout_dir = output_dir / "images" / "train", output_dir / "images" / "holdout"
    data = [
        f"data.train=[{{name: image_folder, kwargs: {{path: '{train_dir}'}}}}]",
        f"data.val=[{{name: image_folder, kwargs: {{path: '{holdout_dir}'}}}}]",
        "data.val_max_images=0",
        "data.val_center_crop=256",
    ]
    return load_recipe(name, [*DEMO_OVERRIDES, *data, *overrides, *extra])


def plan_iterations(
    recipe: Any, deadline: float, steps_scale: float | None, say: Callable[[str], None]
) -> list[str]:
    """Phase lengths: the recipe's times `steps_scale`, or (default) what fits before `deadline` here."""
    from srzoo.train.budget import StepTimes, measure

    if steps_scale is not None:
        if steps_scale <= 0:
            raise ConfigError(f"--steps-scale must be > 0, got {steps_scale}")
        iters = [max(1, round(p.iters * steps_scale)) for p in recipe.phases]
    else:
        say("timing a few training steps to fit the phases into the time budget ...")
        times = measure(recipe)
        left = PLAN_MARGIN * (deadline - time.perf_counter() - BENCH_SECONDS)
        iters = times.iterations(left, PHASE_SHARES)
        speeds = ", ".join(f"{p.name} {t:.2f} s/it" for p, t in zip(recipe.phases, times.step_seconds))
        say(f"measured {speeds} with {times.threads} thread(s)")
    val = f"train.val_interval={max(1, iters[0] // 4)}"
    return [*StepTimes.overrides(iters), val]


def bench_holdout(
    run_dir: Path, holdout_dir: Path, output_dir: Path, recipe: str, phases: Sequence[str]
) -> tuple[str, dict]:
    """Bicubic and each phase's generator on the held-out photos: results.md/.json and comparison.png."""
    from srzoo.eval.bench import run_bench
    from srzoo.eval.figures import FigureRow, Tile, comparison_figure, crop, detail_box
    from srzoo.eval.tables import BenchReport, SetResult
    from srzoo.imaging.datafiles import load_image
    from srzoo.inference.model import load_model

    rows: dict[str, SetResult] = {}  # display label -> result
    folders: dict[str, Path] = {}  # display label -> folder of its SR images
    convention: dict[str, Any] = {}
    for i, phase in enumerate(phases):
        save = output_dir / "sr" / phase
        model = load_model(run_dir / f"{phase}.safetensors")
        report = run_bench(
            model, [str(holdout_dir)], metrics=("psnr", "ssim"), baseline=i == 0, save_images_dir=save
        )
        convention = convention or report.convention
        for result in report.results:
            label = "bicubic" if result.model == "bicubic" else phase
            folders[label] = save / result.model / result.set
            result.model = label if label == "bicubic" else f"{recipe} {phase}"
            rows[label] = result
    merged = BenchReport(convention, list(rows.values()), ("psnr", "ssim"))
    merged.write_json(output_dir / "results.json")
    table = merged.to_markdown()
    with atomic_write(output_dir / "results.md") as tmp:
        tmp.write_text("# srzoo demo: held-out photos, x4\n\n" + table, encoding="utf-8")
    figure = []
    for image in rows["bicubic"].images:
        hr = load_image(holdout_dir / f"{image.name}.png")
        hr = hr[: hr.shape[0] // 4 * 4, : hr.shape[1] // 4 * 4]  # modcrop: the SR outputs' size
        box = detail_box(hr)
        tiles = []
        for label, result in rows.items():
            score = next(i for i in result.images if i.name == image.name).scores["psnr"]
            tiles.append(
                Tile(f"{label} {score:.2f} dB", crop(load_image(folders[label] / f"{image.name}.png"), box))
            )
        figure.append(FigureRow(image.name, [*tiles, Tile("HR", crop(hr, box))]))
    comparison_figure(
        figure, output_dir / "comparison.png", title="srzoo demo: x4 on held-out photos (PSNR-Y)"
    )
    write_report(run_dir, holdout_dir, output_dir, recipe, merged, folders, rows)
    return table, {r.model: {"psnr": r.mean("psnr"), "ssim": r.mean("ssim")} for r in rows.values()}


def write_report(
    run_dir: Path, holdout_dir: Path, output_dir: Path, recipe: str, merged: Any, folders: dict, rows: dict
) -> Path:
    """output_dir/report/index.html: the run's curves and validation crops, then the holdout comparisons."""
    from srzoo.data.sets import open_eval_set
    from srzoo.report import reference_images, write_run_page

    images = {
        (r.model, r.set, i.name): folders[label] / f"{i.name}.png"
        for label, r in rows.items()
        for i in r.images
    }
    holdout = open_eval_set(str(holdout_dir), merged.convention["scale"])  # modcropped HR, as benched
    images |= reference_images([holdout], output_dir / "report" / "images")
    return write_run_page(
        run_dir, output_dir / "report", bench=(merged, images), title=f"srzoo demo: {recipe}"
    )


def run_demo(
    output_dir: Path, *, overwrite: bool = False, minutes: float = 10.0, steps_scale: float | None = None,
    overrides: Sequence[str] = (), recipe_name: str | None = None, say: Callable[[str], None] = print,
) -> DemoResult:  # fmt: skip
    """Train a recipe (default: the one tagged `demo`) on bundled photos within `minutes`, bench held-out ones."""
    from srzoo.train.loop import train
    from srzoo.train.options import TrainOptions

    start = time.perf_counter()
    name = recipe_name or find_demo_recipe()
    output_dir = output_dir.resolve()
    prepare_output(output_dir, overwrite)
    write_images(output_dir / "images" / "train", TRAIN_IMAGES)
    write_images(output_dir / "images" / "holdout", HOLDOUT_IMAGES)
    notes: list[str] = []

    def note(message: str) -> None:
        notes.append(message)
        say(message)

    recipe = demo_recipe(name, output_dir, overrides)
    fallback = offline_weights_fallback(recipe, note)
    recipe = demo_recipe(name, output_dir, overrides, fallback)
    recipe = demo_recipe(
        name,
        output_dir,
        overrides,
        [*fallback, *plan_iterations(recipe, start + 60 * minutes, steps_scale, say)],
    )
    say(f"training {recipe.name} ({', '.join(f'{p.name}: {p.iters} iterations' for p in recipe.phases)}) ...")
    result = train(recipe, TrainOptions(output_dir=output_dir / "run"))
    if result.status != "complete":
        raise InputError(f"demo training stopped ({result.status}); its files are in {output_dir / 'run'}")
    table, scores = bench_holdout(
        output_dir / "run",
        output_dir / "images" / "holdout",
        output_dir,
        name,
        [p.name for p in recipe.phases],
    )
    say(f"report: {output_dir / 'report' / 'index.html'} (open it in a browser)")
    seconds = time.perf_counter() - start
    iters = {p.name: p.iters for p in recipe.phases}
    summary = {"recipe": name, "seconds": seconds, "iterations": iters, "scores": scores, "notes": notes,
               "holdout": list(HOLDOUT_IMAGES), "train": list(TRAIN_IMAGES)}  # fmt: skip
    with atomic_write(output_dir / "demo.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return DemoResult(output_dir, table, scores, seconds, notes)
