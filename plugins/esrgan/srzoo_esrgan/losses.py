"""ESRGAN's losses: VGG perceptual loss (pre-activation taps), relativistic-average and vanilla GAN losses."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from srzoo import ConfigError, InputError, WeightsError

# torchvision's VGG `features` configurations (conv widths; "M" = 2x2 max-pool), so layer indices match.
VGG_CFGS: dict[str, tuple[int | str, ...]] = {
    "vgg11": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg13": (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
    "vgg19": (
        64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
        512, 512, 512, 512, "M", 512, 512, 512, 512, "M",
    ),
}  # fmt: skip
_WEIGHT_ENUMS = {
    "vgg11": "VGG11_Weights",
    "vgg13": "VGG13_Weights",
    "vgg16": "VGG16_Weights",
    "vgg19": "VGG19_Weights",
}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def vgg_layer_names(vgg_type: str) -> list[str]:
    """Names of torchvision's `features[i]` for a VGG type: conv1_1, relu1_1, conv1_2, …, pool1, …"""
    if vgg_type not in VGG_CFGS:
        raise ConfigError(f"perceptual: vgg_type {vgg_type!r} is unknown; use one of {sorted(VGG_CFGS)}")
    names, block, idx = [], 1, 1
    for v in VGG_CFGS[vgg_type]:
        if v == "M":
            names.append(f"pool{block}")
            block, idx = block + 1, 1
        else:
            names += [f"conv{block}_{idx}", f"relu{block}_{idx}"]
            idx += 1
    return names


def _vgg_features(vgg_type: str, length: int) -> nn.Sequential:
    """torchvision's `features[:length]` layout, with non-inplace ReLUs so a tapped conv output survives."""
    layers: list[nn.Module] = []
    prev = 3
    for v in VGG_CFGS[vgg_type]:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(prev, int(v), kernel_size=3, padding=1), nn.ReLU(inplace=False)]
            prev = int(v)
    layers = layers[:length]
    for m in layers:  # torchvision's init, so weights="none" behaves like vgg19(weights=None)
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(m.bias)
    return nn.Sequential(*layers)


def _imagenet_state(vgg_type: str) -> dict[str, torch.Tensor]:
    import torchvision.models as tvm

    weights = getattr(tvm, _WEIGHT_ENUMS[vgg_type]).IMAGENET1K_V1
    try:
        return weights.get_state_dict(progress=False)
    except (OSError, RuntimeError) as exc:  # URLError is an OSError; hub raises RuntimeError on bad files
        raise WeightsError(
            f"perceptual: cannot download {vgg_type} ImageNet weights from {weights.url} "
            f"({type(exc).__name__}); set weights: none (random VGG, tests only) or a local .pth path"
        ) from exc


def _file_state(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsError(
            f"perceptual: VGG weights file {path} does not exist; use weights: imagenet or none"
        )
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, Mapping):
        raise WeightsError(f"perceptual: {path} does not hold a state dict")
    return dict(state)


class PerceptualLoss(nn.Module):
    """Distance between frozen VGG features of prediction and target (ESRGAN / BasicSR PerceptualLoss).

    `layer_weights` maps torchvision layer names (`conv5_4`, `relu3_1`, `pool2`, …) to weights; `conv*`
    taps are taken before the activation, as ESRGAN does. Input is [0, 1] RGB, normalised with ImageNet
    mean/std when `use_input_norm`. Each layer contributes `weight * mean(criterion)`; the total is their
    sum, or with `normalize_loss=True` their weighted mean (divided by the sum of the weights), so adding
    layers does not change the loss scale. `weights`: "imagenet" (torchvision IMAGENET1K_V1, downloaded
    once), "none" (random init, offline tests) or a local .pth/.safetensors path with torchvision keys
    (`features.N.weight` or `N.weight`). The VGG stays frozen and in eval mode; gradients reach `pred` only.
    """

    def __init__(
        self,
        *,
        layer_weights: Mapping[str, float] | None = None,
        vgg_type: Literal["vgg11", "vgg13", "vgg16", "vgg19"] = "vgg19",
        criterion: Literal["l1", "l2"] = "l1",
        use_input_norm: bool = True,
        normalize_loss: bool = False,
        weights: str = "imagenet",
    ) -> None:
        super().__init__()
        layer_weights = dict(layer_weights) if layer_weights is not None else {"conv5_4": 1.0}
        names = vgg_layer_names(vgg_type)
        if not layer_weights:
            raise ConfigError(
                "perceptual: layer_weights is empty; name at least one layer, e.g. {conv5_4: 1.0}"
            )
        for name in layer_weights:
            if name not in names:
                raise ConfigError(
                    f"perceptual: {vgg_type} has no layer {name!r}; available: {', '.join(names)}"
                )
        if criterion not in ("l1", "l2"):
            raise ConfigError(f"perceptual: criterion {criterion!r} is unknown; use 'l1' or 'l2'")
        self.layer_weights = {k: float(v) for k, v in layer_weights.items()}
        self.taps = {names.index(k): k for k in self.layer_weights}
        self.criterion, self.normalize_loss, self.use_input_norm = (
            criterion,
            bool(normalize_loss),
            use_input_norm,
        )
        self.vgg = _vgg_features(vgg_type, max(self.taps) + 1)  # truncated after the deepest tap
        self._load(vgg_type, weights)
        self.vgg.requires_grad_(False)
        self.vgg.eval()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def _load(self, vgg_type: str, weights: str) -> None:
        if weights == "none":
            return
        state = _imagenet_state(vgg_type) if weights == "imagenet" else _file_state(weights)
        if any(k.startswith("features.") for k in state):
            state = {k[len("features.") :]: v for k, v in state.items() if k.startswith("features.")}
        wanted = self.vgg.state_dict()
        missing = [k for k in wanted if k not in state]
        if missing:
            raise WeightsError(
                f"perceptual: VGG weights {weights!r} lack {missing[0]!r}; is it a {vgg_type} file?"
            )
        for key, value in wanted.items():
            if state[key].shape != value.shape:
                raise WeightsError(f"perceptual: {key} in {weights!r} has shape {tuple(state[key].shape)}")
        self.vgg.load_state_dict({k: state[k] for k in wanted})

    def train(self, mode: bool = True) -> PerceptualLoss:
        super().train(mode)
        self.vgg.eval()  # frozen feature extractor: never switch it to training behaviour
        return self

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The tapped VGG features of a [0, 1] image batch, by layer name."""
        if self.use_input_norm:
            x = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        out: dict[str, torch.Tensor] = {}
        for i, layer in enumerate(self.vgg):
            x = layer(x)
            if i in self.taps:
                out[self.taps[i]] = x
        return out

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if pred.shape != target.shape:
            raise InputError(f"perceptual: pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
        pred_feats = self.features(pred)
        with torch.no_grad():  # the target is a constant: no graph, less memory
            target_feats = self.features(target.detach())
        dist = F.l1_loss if self.criterion == "l1" else F.mse_loss
        total = sum(w * dist(pred_feats[k], target_feats[k]) for k, w in self.layer_weights.items())
        if self.normalize_loss:
            total = total / sum(self.layer_weights.values())
        return total


class _GANLoss(nn.Module):
    """Common base: GAN losses have a discriminator side and a generator side instead of forward()."""

    adversarial = True  # lets a training phase tell GAN losses from pixel / feature losses

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise ConfigError(
            f"{type(self).__name__} is a GAN loss: call d_loss(real_logits, fake_logits) and "
            "g_loss(real_logits, fake_logits) (use it as the adversarial loss, not a pixel loss)"
        )

    @staticmethod
    def _bce(logits: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        target = torch.ones_like(logits) if target_is_real else torch.zeros_like(logits)
        return F.binary_cross_entropy_with_logits(logits, target)


class RaGANLoss(_GANLoss):
    """Relativistic average GAN (ESRGAN): D judges whether real looks more real than fake on average.

    d_loss = (BCE(real - mean(fake), 1) + BCE(fake - mean(real), 0)) / 2
    g_loss = (BCE(real - mean(fake), 0) + BCE(fake - mean(real), 1)) / 2
    Detaching follows BasicSR's ESRGANModel: in d_loss both batch means are constants; in g_loss the real
    logits are constants everywhere (only the generator's fake logits carry gradient).
    """

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        real_term = self._bce(real_logits - fake_logits.detach().mean(), True)
        fake_term = self._bce(fake_logits - real_logits.detach().mean(), False)
        return (real_term + fake_term) / 2

    def g_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        real = real_logits.detach()
        real_term = self._bce(real - fake_logits.mean(), False)
        fake_term = self._bce(fake_logits - real.mean(), True)
        return (real_term + fake_term) / 2


class VanillaGANLoss(_GANLoss):
    """Standard (SRGAN) GAN loss with BCE-with-logits, in the same d_loss / g_loss interface.

    d_loss = BCE(real, 1) + BCE(fake, 0) (summed, as BasicSR's SRGANModel); g_loss = BCE(fake, 1), the
    non-saturating generator loss; `real_logits` is accepted for the shared interface and ignored.
    """

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return self._bce(real_logits, True) + self._bce(fake_logits, False)

    def g_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return self._bce(fake_logits, True)
