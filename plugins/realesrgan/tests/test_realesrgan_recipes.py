"""The shipped recipes: official settings load strictly; `srzoo train realesrgan_x4plus` runs both phases on CPU."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from srzoo_realesrgan.unet_discriminator import UNetDiscriminatorSN

from srzoo import load_recipe
from srzoo.cli import main
from srzoo.testing.training import write_images

RECIPES = (
    "realesrnet_x4plus",
    "realesrgan_x4plus",
    "realesr_general_x4v3",
    "realesrgan_tiny_x4",
    "realesrgan_x4plus_finetune",
    "realesrnet_x2plus",
    "realesrgan_x2plus",
    "realesrgan_x4plus_pairdata",
    "realesrnet_x4plus_cpu",
)
DEGRADATION = {"realesrgan_x4plus_pairdata": "realesrgan_paired"}  # the rest: "realesrgan"
REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_loads_by_name_and_by_registry_path(name: str) -> None:
    by_name = load_recipe(name)
    assert by_name == load_recipe(REPO / "registry" / f"{name}.yaml")
    assert by_name.data.degradation is not None
    assert by_name.data.degradation.name == DEGRADATION.get(name, "realesrgan")


def test_x4plus_recipe_has_the_official_settings() -> None:
    r = load_recipe("realesrgan_x4plus")
    assert [p.name for p in r.phases] == ["net", "gan"]
    assert r.generator.kwargs == {"num_feat": 64, "num_grow": 32, "num_blocks": 23}
    assert r.discriminator.arch == "unet_discriminator" and r.train.ema_decay == 0.999
    assert r.data.batch_size == 48 and r.data.degradation.kwargs["gt_size"] == 256
    net, gan = r.phases
    assert (net.iters, net.optimizer.lr, gan.iters, gan.optimizer.lr) == (1_000_000, 2e-4, 400_000, 1e-4)
    assert [(t.name, t.weight, t.target) for t in gan.losses] == [
        ("l1", 1.0, "hr_usm"),
        ("perceptual", 1.0, "hr_usm"),
    ]
    assert gan.losses[1].kwargs["layer_weights"] == {
        "conv1_2": 0.1, "conv2_2": 0.1, "conv3_4": 1.0, "conv4_4": 1.0, "conv5_4": 1.0,
    }  # fmt: skip
    assert (gan.gan_loss.name, gan.gan_loss.weight) == ("gan", 0.1)


def test_train_realesrgan_x4plus_runs_both_phases_on_cpu(tmp_path: Path) -> None:
    images = write_images(tmp_path / "hr", 4, size=64)
    out = tmp_path / "run"
    code = main([
        "train", "realesrgan_x4plus", "--output-dir", str(out),
        "generator.kwargs={num_feat: 8, num_grow: 4, num_blocks: 1}",
        "discriminator.kwargs={num_feat: 4}",
        f"data.train=[{{name: image_folder, kwargs: {{path: {images}}}}}]",
        "data.patch_size=48", "data.batch_size=2", "data.num_workers=0",
        "data.degradation.kwargs={gt_size: 32, queue_size: 4}",
        "phases.0.iters=3", "phases.1.iters=2",
        "phases.1.losses.1.kwargs.weights=none",  # VGG19 ImageNet weights are not downloadable here
        "train.trackers=[]", "train.store_interval=0",
    ])  # fmt: skip
    assert code == 0
    net, gan = load_file(str(out / "net.safetensors")), load_file(str(out / "gan.safetensors"))
    assert net.keys() == gan.keys() and any(not torch.equal(net[k], gan[k]) for k in net)
    records = (out / "metrics.jsonl").read_text()
    assert '"train/d/adv"' in records and '"train/g/perceptual"' in records


def test_finetune_recipe_is_the_x4plus_gan_stage_from_the_released_realesrnet() -> None:
    ft, x4 = load_recipe("realesrgan_x4plus_finetune"), load_recipe("realesrgan_x4plus")
    assert [p.name for p in ft.phases] == ["gan"] and ft.phases[0] == x4.phases[1]
    assert (ft.generator.arch, ft.generator.kwargs) == (x4.generator.arch, x4.generator.kwargs)
    assert (
        ft.generator.weights == "realesrgan.x4plus_net"
    )  # finetune_realesrgan_x4plus.yml's pretrain_network_g
    assert ft.discriminator == x4.discriminator and ft.data == x4.data and ft.train == x4.train


def test_finetune_starts_from_released_weights_and_a_discriminator_file(
    tmp_path: Path, shared_weights: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from srzoo_esrgan import layouts

    torch.manual_seed(0)
    d_file = tmp_path / "netD.pth"  # Real-ESRGAN's layout for net_d files: {"params": state_dict}
    torch.save({"params": UNetDiscriminatorSN(num_feat=64).state_dict()}, d_file)
    images = write_images(tmp_path / "hr", 4, size=64)

    def train(out: Path, d_weights: Path) -> int:
        return main([
            "train", "realesrgan_x4plus_finetune", "--output-dir", str(out),
            f"generator.weights={shared_weights}", f"discriminator.weights={d_weights}",
            f"data.train=[{{name: image_folder, kwargs: {{path: {images}}}}}]",
            "data.patch_size=48", "data.batch_size=2", "data.num_workers=0",
            "data.degradation.kwargs={gt_size: 32, queue_size: 4}", "phases.0.iters=2",
            "phases.0.losses.1.kwargs.weights=none",  # VGG19 ImageNet weights are not downloadable here
            "train.trackers=[]", "train.store_interval=0",
        ])  # fmt: skip

    assert train(tmp_path / "run", d_file) == 0
    released = layouts.convert_state_dict(torch.load(shared_weights, weights_only=True)["params"])
    tuned = load_file(str(tmp_path / "run" / "gan.safetensors"))
    assert tuned.keys() == released.keys()
    # two Adam steps at 1e-4 move a weight by 2e-4 at most; a generator that had not started from the release
    # would be off by the size of the weights themselves
    drift = max((tuned[k].float() - released[k].float()).abs().max().item() for k in released)
    assert 0 < drift <= 2e-4 + 1e-6

    torch.save({"params": UNetDiscriminatorSN(num_feat=32).state_dict()}, narrow := tmp_path / "narrow.pth")
    capsys.readouterr()
    assert train(tmp_path / "bad", narrow) != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if "discriminator" in line and "narrow.pth" in line]) == 1


def test_cpu_recipe_is_the_released_x4plus_net_at_the_tiny_recipes_size() -> None:
    cpu, x4, tiny = (
        load_recipe(n) for n in ("realesrnet_x4plus_cpu", "realesrgan_x4plus", "realesrgan_tiny_x4")
    )
    assert (cpu.generator.arch, cpu.generator.kwargs) == (x4.generator.arch, x4.generator.kwargs)
    assert cpu.generator.weights == "realesrgan.x4plus" and cpu.discriminator is None
    [phase] = cpu.phases
    assert (phase.name, phase.type, [(loss.name, loss.target) for loss in phase.losses]) == (
        "psnr", "supervised", [("l1", "hr")]
    )  # fmt: skip
    assert phase.optimizer.lr == 1e-4  # a fine-tune: the tiny recipe's 2e-3 is for a net far from its optimum
    assert cpu.data.degradation == tiny.data.degradation and cpu.data.train == tiny.data.train
    assert (cpu.data.batch_size, cpu.data.patch_size) == (4, tiny.data.patch_size)


def test_cpu_recipe_fine_tunes_the_released_net(tmp_path: Path, shared_weights: Path) -> None:
    from srzoo_esrgan import layouts

    images = write_images(tmp_path / "hr", 4, size=64)
    assert main([
        "train", "realesrnet_x4plus_cpu", "--output-dir", str(tmp_path / "run"),
        f"generator.weights={shared_weights}", f"data.train=[{{name: image_folder, kwargs: {{path: {images}}}}}]",
        "data.val=[]", "data.patch_size=48", "data.batch_size=2", "data.cache=false",
        "data.degradation.kwargs={gt_size: 32, queue_size: 4}", "phases.0.iters=2", "train.trackers=[]",
        "train.checkpoint_interval=0",
    ]) == 0  # fmt: skip
    released = layouts.convert_state_dict(torch.load(shared_weights, weights_only=True)["params"])
    tuned = load_file(str(tmp_path / "run" / "psnr.safetensors"))
    assert tuned.keys() == released.keys()
    # two Adam steps at 1e-4 move a weight by 2e-4 at most (EMA moves it less): a generator that had not started
    # from the release would be off by the size of the weights themselves
    drift = max((tuned[k].float() - released[k].float()).abs().max().item() for k in released)
    assert 0 < drift <= 2e-4 + 1e-6


def test_x2plus_recipes_are_the_x4plus_ones_at_x2_from_the_x4plus_weights() -> None:
    for x2, x4 in (("realesrnet_x2plus", "realesrnet_x4plus"), ("realesrgan_x2plus", "realesrgan_x4plus")):
        a, b = load_recipe(x2), load_recipe(x4)
        assert (a.scale, b.scale) == (2, 4) and a.phases == b.phases and a.data == b.data
        assert (a.generator.arch, a.generator.kwargs) == (b.generator.arch, b.generator.kwargs)
        # train_realesrnet_x2plus.yml: pretrain_network_g RealESRGAN_x4plus.pth, strict_load_g: false
        assert (a.generator.weights, a.generator.weights_strict) == ("realesrgan.x4plus", False)


def test_realesrnet_x2plus_starts_from_x4plus_weights_all_but_conv_first(
    tmp_path: Path, shared_weights: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from srzoo_esrgan import layouts

    images = write_images(tmp_path / "hr", 4, size=64)
    code = main([
        "train", "realesrnet_x2plus", "--output-dir", str(tmp_path / "run"), f"generator.weights={shared_weights}",
        f"data.train=[{{name: image_folder, kwargs: {{path: {images}}}}}]",
        "data.patch_size=48", "data.batch_size=2", "data.num_workers=0",
        "data.degradation.kwargs={gt_size: 32, queue_size: 4}", "phases.0.iters=2",
        "train.trackers=[]", "train.store_interval=0",
    ])  # fmt: skip
    assert code == 0
    x4 = layouts.convert_state_dict(torch.load(shared_weights, weights_only=True)["params"])
    x2 = load_file(str(tmp_path / "run" / "net.safetensors"))
    assert x2.keys() == x4.keys()
    assert tuple(x2["conv_first.weight"].shape) == (64, 12, 3, 3)  # 3 channels pixel-unshuffled by 2
    # two Adam steps at 2e-4 move a weight by 4e-4 at most: every other tensor is the x4plus one
    assert (
        max((x2[k].float() - x4[k].float()).abs().max().item() for k in x4 if k != "conv_first.weight")
        <= 4e-4
    )
    log = (tmp_path / "run" / "train.log").read_text()
    note = next(line for line in log.splitlines() if "weights_strict: false" in line)
    assert f"loaded {len(x4) - 1} of {len(x4)} tensors" in note and "conv_first.weight (64, 3, 3, 3)" in note


def test_every_recipe_file_is_registered_and_tested_here() -> None:
    import srzoo_realesrgan.recipes

    from srzoo import RECIPES as REGISTERED

    files = {p.stem for p in Path(srzoo_realesrgan.recipes.__file__).parent.glob("*.yaml")}
    mine = {n for n in REGISTERED.names() if REGISTERED.entry(n).dist == "srzoo-realesrgan"}
    assert files == mine == set(RECIPES)


def test_pairdata_recipe_is_the_finetune_on_the_datasets_own_pairs() -> None:
    pd, ft = load_recipe("realesrgan_x4plus_pairdata"), load_recipe("realesrgan_x4plus_finetune")
    # the same GAN stage; only the data each phase inherits (patch size) differs
    same_data = {"patch_size": None, "batch_size": None, "augment": None}
    assert [replace(p, **same_data) for p in pd.phases] == [replace(p, **same_data) for p in ft.phases]
    assert pd.generator == ft.generator and pd.discriminator == ft.discriminator
    assert pd.train == ft.train
    # finetune_realesrgan_x4plus_pairdata.yml: gt_size 256, 12 per GPU x 4, hflip without rotation
    assert (pd.data.patch_size, pd.data.batch_size) == (256, 48)
    assert (pd.data.augment.hflip, pd.data.augment.rot90) == (True, False)
    assert (pd.data.degradation.name, pd.data.degradation.kwargs) == ("realesrgan_paired", {})


def test_pairdata_trains_on_the_lr_files_with_a_sharpened_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LR files of one flat grey, unlike any downscale of the HR: every LR pixel the hook sees is that grey,
    so the pairs come from the files; `hr_usm` is the HR sharpened by Real-ESRGAN's USM."""
    import numpy as np
    from srzoo_realesrgan import ops
    from srzoo_realesrgan.paired import RealESRGANPaired

    from srzoo.imaging.datafiles import save_image

    hr_dir = write_images(tmp_path / "hr", 3, size=64)
    for i in range(3):
        save_image(tmp_path / "lr" / f"img{i:02d}x4.png", np.full((16, 16, 3), 51, np.uint8))
    seen: list[dict] = []
    real_call = RealESRGANPaired.__call__

    def spy(self, batch, generator):
        out = real_call(self, batch, generator)
        seen.append({k: v.clone() for k, v in out.items()})
        return out

    monkeypatch.setattr(RealESRGANPaired, "__call__", spy)
    code = main([
        "train", "realesrgan_x4plus_pairdata", "--output-dir", str(tmp_path / "run"),
        "generator.weights=null", "generator.kwargs={num_feat: 8, num_grow: 4, num_blocks: 1}",
        "discriminator.kwargs={num_feat: 4}",
        f"data.train=[{{name: paired_folder, kwargs: {{hr: {hr_dir}, lr: {tmp_path / 'lr'}}}}}]",
        "data.patch_size=32", "data.batch_size=2", "data.num_workers=0", "phases.0.iters=2",
        "phases.0.losses.1.kwargs.weights=none",  # VGG19 ImageNet weights are not downloadable here
        "train.trackers=[]", "train.store_interval=0",
    ])  # fmt: skip
    assert code == 0
    assert len(seen) == 2
    for batch in seen:
        assert batch["lr"].shape == (2, 3, 8, 8) and batch["hr"].shape == (2, 3, 32, 32)
        assert torch.all(batch["lr"] == 51 / 255)
        assert torch.equal(batch["hr_usm"], ops.usm_sharpen(batch["hr"]))
        assert float((batch["hr_usm"] - batch["hr"]).abs().max()) > 0.01  # the target really is sharpened
    assert (tmp_path / "run" / "gan.safetensors").is_file()


def test_paired_hook_refuses_hr_only_batches_and_mismatched_pairs() -> None:
    from srzoo_realesrgan.paired import RealESRGANPaired

    from srzoo.errors import ConfigError

    hook, gen = RealESRGANPaired(scale=4), torch.Generator()
    with pytest.raises(ConfigError, match="has no 'lr'"):
        hook({"hr": torch.rand(1, 3, 32, 32)}, gen)
    with pytest.raises(ConfigError, match="are not x4"):
        hook({"hr": torch.rand(1, 3, 32, 32), "lr": torch.rand(1, 3, 16, 16)}, gen)
    plain = RealESRGANPaired(scale=4, gt_usm=False)(
        {"hr": torch.rand(1, 3, 32, 32), "lr": torch.rand(1, 3, 8, 8)}, gen
    )
    assert sorted(plain) == ["hr", "lr"]
