"""Perceptual loss (taps vs torchvision, frozen VGG, offline errors) and RaGAN / vanilla GAN losses."""

from __future__ import annotations

import urllib.error
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import torchvision
from srzoo_esrgan.losses import PerceptualLoss, RaGANLoss, VanillaGANLoss, vgg_layer_names

from srzoo import LOSSES, ConfigError, WeightsError, build_loss

# torchvision vgg19.features indices of a few named layers (conv taps are pre-activation)
VGG19_INDEX = {
    "conv1_1": 0,
    "relu1_2": 3,
    "pool1": 4,
    "relu2_1": 6,
    "conv3_4": 16,
    "pool3": 18,
    "conv5_4": 34,
}


@pytest.fixture(scope="module")
def seeded_vgg19(tmp_path_factory: pytest.TempPathFactory) -> tuple[torch.nn.Module, Path]:
    torch.manual_seed(0)
    vgg = torchvision.models.vgg19(weights=None).eval()
    path = tmp_path_factory.mktemp("vgg") / "vgg19_seeded.pth"
    # torchvision key names; only `features` (the classifier would add 500 MB of reading per test)
    torch.save({f"features.{k}": v for k, v in vgg.features.state_dict().items()}, path)
    return vgg, path


def test_layer_names_match_torchvision_indices(seeded_vgg19: tuple) -> None:
    names = vgg_layer_names("vgg19")
    assert len(names) == len(seeded_vgg19[0].features) == 37
    assert {k: names.index(k) for k in VGG19_INDEX} == VGG19_INDEX
    assert vgg_layer_names("vgg16")[29] == "relu5_3" and vgg_layer_names("vgg11")[20] == "pool5"


def test_taps_equal_torchvision_features(seeded_vgg19: tuple) -> None:
    vgg, path = seeded_vgg19
    loss = PerceptualLoss(
        layer_weights=dict.fromkeys(VGG19_INDEX, 1.0), weights=str(path), use_input_norm=False
    )
    assert len(loss.vgg) == 35  # truncated right after conv5_4
    x = torch.rand(1, 3, 48, 48)
    expected, feat = {}, x
    with torch.no_grad():
        for i, layer in enumerate(vgg.features[:35]):
            feat = layer(feat)
            if i in VGG19_INDEX.values():
                expected[i] = feat.clone()  # torchvision's ReLUs are in place: copy before the next layer
        got = loss.features(x)
    for name, idx in VGG19_INDEX.items():
        assert torch.equal(got[name], expected[idx]), name
    assert (got["conv5_4"] < 0).any()  # pre-activation: a later in-place ReLU did not clobber it


def test_loss_value_and_normalisation(seeded_vgg19: tuple) -> None:
    _, path = seeded_vgg19
    weights = {"conv1_1": 0.5, "relu2_1": 2.0}
    torch.manual_seed(1)
    pred, target = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    for criterion, dist in (("l1", F.l1_loss), ("l2", F.mse_loss)):
        loss = PerceptualLoss(layer_weights=weights, criterion=criterion, weights=str(path))
        fp, ft = loss.features(pred), loss.features(target)
        expected = 0.5 * dist(fp["conv1_1"], ft["conv1_1"]) + 2.0 * dist(fp["relu2_1"], ft["relu2_1"])
        assert loss(pred, target).item() == pytest.approx(expected.item(), rel=1e-6)
        assert loss(pred, pred).item() == 0.0
        norm = PerceptualLoss(
            layer_weights=weights, criterion=criterion, weights=str(path), normalize_loss=True
        )
        assert norm(pred, target).item() == pytest.approx(expected.item() / 2.5, rel=1e-6)


def test_input_norm_uses_imagenet_stats(seeded_vgg19: tuple) -> None:
    _, path = seeded_vgg19
    raw = PerceptualLoss(layer_weights={"conv1_1": 1.0}, weights=str(path), use_input_norm=False)
    normed = PerceptualLoss(layer_weights={"conv1_1": 1.0}, weights=str(path))
    x = torch.rand(1, 3, 8, 8)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    assert torch.allclose(normed.features(x)["conv1_1"], raw.features((x - mean) / std)["conv1_1"], atol=1e-6)


def test_gradient_reaches_input_not_vgg() -> None:
    torch.manual_seed(0)
    loss = PerceptualLoss(layer_weights={"relu2_2": 1.0}, weights="none")
    loss.train()
    assert not loss.vgg.training and loss.training
    pred = torch.rand(1, 3, 16, 16, requires_grad=True)
    target = torch.rand(1, 3, 16, 16, requires_grad=True)
    loss(pred, target).backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    assert target.grad is None  # the target is a constant
    assert all(not p.requires_grad and p.grad is None for p in loss.vgg.parameters())


def test_perceptual_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="conv6_1"):
        PerceptualLoss(layer_weights={"conv6_1": 1.0}, weights="none")
    with pytest.raises(ConfigError, match="vgg_type"):
        PerceptualLoss(vgg_type="vgg18", weights="none")
    with pytest.raises(WeightsError, match="does not exist"):
        PerceptualLoss(weights=str(tmp_path / "missing.pth"))
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, tmp_path / "partial.pth")
    with pytest.raises(WeightsError, match="lack"):
        PerceptualLoss(weights=str(tmp_path / "partial.pth"))

    def offline(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", offline)
    with pytest.raises(
        WeightsError, match=r"https://download\.pytorch\.org/models/vgg19-dcbb9e9d\.pth.*weights: none"
    ):
        PerceptualLoss(weights="imagenet")


def test_ragan_values_signs_and_symmetry() -> None:
    ragan = RaGANLoss()
    real, fake = torch.tensor([[2.0], [1.0]]), torch.tensor([[-1.0], [0.0]])
    sp = F.softplus  # BCE-with-logits: target 1 → softplus(-z), target 0 → softplus(z)
    d_expected = (sp(-(real - fake.mean())).mean() + sp(fake - real.mean()).mean()) / 2
    assert ragan.d_loss(real, fake).item() == pytest.approx(d_expected.item(), rel=1e-6)
    # D does better (lower loss) when real logits exceed fake ones; G does worse then
    assert ragan.d_loss(real, fake) < ragan.d_loss(fake, real)
    assert ragan.g_loss(real, fake) > ragan.g_loss(fake, real)
    for r, f in ((real, fake), (torch.randn(4, 1), torch.randn(4, 1))):
        assert torch.equal(ragan.d_loss(r, f), ragan.g_loss(f, r))


def test_ragan_detaches_like_basicsr() -> None:
    ragan = RaGANLoss()
    real = torch.tensor([[2.0], [0.5]], requires_grad=True)
    fake = torch.tensor([[-1.0], [0.3]], requires_grad=True)
    ragan.g_loss(real, fake).backward()
    assert real.grad is None and fake.grad is not None  # G: real logits are constants
    # D: batch means are constants, so d/dfake only comes from the fake term BCE(fake - mean(real), 0)
    real.grad = fake.grad = None
    ragan.d_loss(real, fake).backward()
    expected = torch.sigmoid(fake.detach() - real.detach().mean()) / 2 / 2
    assert torch.allclose(fake.grad, expected)


def test_vanilla_gan_and_forward_refused() -> None:
    gan = VanillaGANLoss()
    real, fake = torch.tensor([[3.0]]), torch.tensor([[-2.0]])
    assert gan.d_loss(real, fake).item() == pytest.approx((F.softplus(-real) + F.softplus(fake)).item())
    assert gan.g_loss(real, fake).item() == pytest.approx(F.softplus(-fake).item())
    for loss in (gan, RaGANLoss()):
        assert loss.adversarial
        with pytest.raises(ConfigError, match="d_loss"):
            loss(real, fake)


def test_registered_names() -> None:
    assert LOSSES.get("ragan") is RaGANLoss and LOSSES.get("gan") is VanillaGANLoss
    assert isinstance(
        build_loss("perceptual", weights="none", layer_weights={"conv1_2": 1.0}), PerceptualLoss
    )
