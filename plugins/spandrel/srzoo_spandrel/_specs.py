"""Per-arch facts srzoo needs beyond spandrel's classes: scale argument, scales, license, descriptor values, tiny kwargs.

Importing this module imports nothing from spandrel. `fp16`, `bf16`, `multiple` and `tiling` restate what spandrel's
model descriptor reports for an instance (tests/test_spandrel_archs.py rebuilds a tiny instance of every arch and
checks them against spandrel's `Architecture.load`), so `srzoo list` and arch resolution never build a network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SR = (2, 3, 4)  # pixel-shuffle upsamplers take 2^n and 3; these are the field's scales
RESTORE = (1,)


@dataclass(frozen=True)
class Spec:
    """How one spandrel network class becomes one srzoo arch."""

    module: str  # spandrel.architectures.<module>; also spandrel's arch id
    cls: str | dict[int, str]  # class name, or scale -> class name where spandrel has one class per scale
    scale_arg: str | None  # the class's own name for the scale; None: the class (or cls mapping) fixes it
    scales: tuple[int, ...]
    license: str  # of the original implementation (spandrel keeps each arch's LICENSE beside its code)
    tiny: dict[str, Any]  # contract-test kwargs: small, and values spandrel detects back from a state dict
    fp16: bool = True  # spandrel's supports_half
    bf16: bool = True  # spandrel's supports_bfloat16
    multiple: int = 1  # spandrel's SizeRequirements.multiple_of (LR side)
    minimum: int = 0  # spandrel's SizeRequirements.minimum; the contract test's LR size respects it
    tiling: bool = True  # spandrel's ModelTiling is SUPPORTED (not DISCOURAGED / INTERNAL)
    defaults: dict[str, Any] = field(default_factory=dict)  # srzoo defaults that differ from the class's
    forward: str | None = None  # wrapper in _forward where spandrel calls the net through a call_fn
    # Parameters (regex on the name) that never take part in training: derived or unused upstream. srzoo freezes
    # them so optimizers, DDP and the gradient contract see only trainable ones; they stay in the state dict.
    frozen: tuple[str, ...] = ()
    in_channels: int = 3
    out_channels: int = 3

    def lr_side(self, base: int = 12) -> int:
        """The smallest LR side >= base that meets spandrel's minimum and multiple (so spandrel never pads)."""
        side = max(base, self.minimum)
        return -(-side // self.multiple) * self.multiple


_SWIN = {"embed_dim": 12, "depths": [1], "num_heads": [2], "mlp_ratio": 2.0, "window_size": 4, "img_size": 16}
# Swin-style classes default to no upsampler (a denoiser); srzoo archs are built for a scale, so pixel-shuffle
_PS = {"upsampler": "pixelshuffle"}

# fmt: off
SPECS: dict[str, Spec] = {
    # -- super-resolution ------------------------------------------------------------------------------------------
    "atd": Spec("ATD", "ATD", "upscale", SR, "Apache-2.0",
                {**_SWIN, "img_size": 64, "depths": [2], "category_size": 256, "num_tokens": 8, "reducted_dim": 2,
                 "convffn_kernel_size": 3},
                fp16=False, minimum=8, defaults=_PS),
    "craft": Spec("CRAFT", "CRAFT", "upscale", SR, "Apache-2.0",
                  {"embed_dim": 12, "depths": [1], "num_heads": [2], "window_size": 16, "split_size_0": 2,
                   "split_size_1": 4},
                  multiple=16, minimum=16),
    "dat": Spec("DAT", "DAT", "upscale", SR, "Apache-2.0",
                {"embed_dim": 16, "depth": [1], "num_heads": [2], "split_size": [2, 4], "expansion_factor": 2.0,
                 "img_size": 16},
                fp16=False, minimum=16),
    "dctlsa": Spec("DCTLSA", "DCTLSA", "upscale", SR, "Apache-2.0", {"nf": 20, "num_modules": 6},
                   fp16=False, minimum=16),
    "ditn": Spec("DITN", "DITN", "upscale", SR, "Apache-2.0",
                 {"dim": 8, "ITL_blocks": 1, "SAL_blocks": 1, "UFONE_blocks": 1}, multiple=8),
    "drct": Spec("DRCT", "DRCT", "upscale", SR, "MIT", {**_SWIN, "gc": 4}, fp16=False, multiple=16, defaults=_PS),
    # FDAT alternates spatial / channel blocks; each builds both interaction branches but uses one
    "fdat": Spec("FDAT", "FDAT", "scale", SR, "MIT",
                 {"embed_dim": 16, "num_groups": 1, "depth_per_group": 2, "num_heads": 2, "window_size": 4,
                  "mid_dim": 8},
                 frozen=(r"groups\.\d+\.blocks\.\d*[02468]\.inter\.sg\.0\.weight",
                         r"groups\.\d+\.blocks\.\d*[13579]\.inter\.cg\.[13]\.weight")),
    "grl": Spec("GRL", "GRL", "upscale", SR, "MIT",
                # spandrel cannot read window/stripe sizes from a state dict and assumes GRL's published x4 values
                {"embed_dim": 12, "depths": [1], "num_heads_window": [1], "num_heads_stripe": [1], "mlp_ratio": 2.0,
                 "window_size": 32, "stripe_size": [64, 64], "anchor_window_down_factor": 4, "stripe_shift": True},
                fp16=False, defaults=_PS),
    "hat": Spec("HAT", "HAT", "upscale", SR, "MIT",
                {**_SWIN, "img_size": 64, "compress_ratio": 3, "squeeze_factor": 4, "num_feat": 8},
                fp16=False, minimum=16),
    # x4 only: at x2 / x1 the class builds its degradation net for an unshuffled input but feeds it the image
    "mmrealsr": Spec("MMRealSR", "MMRealSR", "scale", (4,), "BSD-3-Clause",
                     {"num_feat": 8, "num_block": 1, "num_grow_ch": 4, "num_feats": [8, 8, 8, 8],
                      "num_blocks": [1, 1, 1, 1]},
                     minimum=16, defaults={"num_in_ch": 3, "num_out_ch": 3}, forward="first"),
    "moesr": Spec("MoESR", "MoESR", "scale", SR, "MIT", {"dim": 32, "n_blocks": 1, "n_block": 1, "upsample_dim": 8},
                  minimum=2),
    "mosr": Spec("MoSR", "MoSR", "upscale", SR, "MIT", {"n_block": 1, "dim": 8}),
    "omnisr": Spec("OmniSR", "OmniSR", "up_scale", SR, "Apache-2.0", {"num_feat": 8, "window_size": 4}, minimum=16),
    "plksr": Spec("PLKSR", "PLKSR", "upscaling_factor", SR, "MIT", {"dim": 8, "n_blocks": 1, "kernel_size": 5}),
    "rcan": Spec("RCAN", "RCAN", "scale", SR, "MIT", {"n_resgroups": 1, "n_resblocks": 1, "n_feats": 8, "reduction": 4},
                 fp16=False, forward="copy_input"),
    "realcugan": Spec("RealCUGAN", {2: "UpCunet2x", 3: "UpCunet3x", 4: "UpCunet4x"}, None, SR, "MIT", {},
                      minimum=32),
    "realplksr": Spec("PLKSR", "RealPLKSR", "upscaling_factor", SR, "MIT", {"dim": 8, "n_blocks": 1, "kernel_size": 5},
                      fp16=False),
    "rgt": Spec("RGT", "RGT", "upscale", SR, "Apache-2.0",
                {"embed_dim": 12, "depth": [1], "num_heads": [2], "split_size": [2, 4], "img_size": 16,
                 "mlp_ratio": 2.0},
                fp16=False, minimum=16),
    "safmn": Spec("SAFMN", "SAFMN", "upscaling_factor", SR, "Apache-2.0", {"dim": 8, "n_blocks": 1},
                  fp16=False, multiple=8, defaults={"dim": 36}),
    "seemore": Spec("SeemoRe", "SeemoRe", "scale", SR, "Apache-2.0",
                    {"num_experts": 2, "num_layers": 1, "embedding_dim": 8, "global_kernel_size": 3},
                    fp16=False, minimum=16, forward="per_image"),
    # SPAN's eval_conv is re-derived from the training-time convs on every eval forward (reparameterisation)
    "span": Spec("SPAN", "SPAN", "upscale", SR, "Apache-2.0", {"feature_channels": 8},
                 defaults={"num_in_ch": 3, "num_out_ch": 3}, frozen=(r".*\.eval_conv\.(weight|bias)",)),
    "swiftsrgan": Spec("SwiftSRGAN", "SwiftSRGAN", "upscale_factor", (2, 4), "CC0-1.0",
                       {"num_channels": 8, "num_blocks": 1},
                       frozen=(r".*block2\.act\.weight", r"convblock\.act\.weight")),  # built with use_act=False
    "swin2sr": Spec("Swin2SR", "Swin2SR", "upscale", SR, "Apache-2.0", _SWIN, fp16=False, minimum=16, defaults=_PS),
    "swinir": Spec("SwinIR", "SwinIR", "upscale", SR, "Apache-2.0", _SWIN,
                   fp16=False, minimum=16, tiling=False, defaults=_PS),
    # -- restoration (scale 1) -------------------------------------------------------------------------------------
    # DRUNet's 4th input channel is a noise-level map, which spandrel (and srzoo) fill with 15/255
    "drunet": Spec("DRUNet", "DRUNet", None, RESTORE, "MIT", {"nc": [8, 8, 8, 8], "nb": 2},
                   fp16=False, multiple=8, defaults={"in_nc": 4, "out_nc": 3}, forward="noise_map"),
    "dncnn": Spec("DnCNN", "DnCNN", None, RESTORE, "MIT", {"nc": 8, "nb": 4},
                  fp16=False, defaults={"in_nc": 3, "out_nc": 3}, forward="noise_map_fdncnn"),
    # FBCNN's quality predictor is a fixed 512-wide MLP, so its last stage keeps 512 channels
    "fbcnn": Spec("FBCNN", "FBCNN", None, RESTORE, "Apache-2.0", {"nc": [8, 8, 8, 512], "nb": 2}, forward="first"),
    "fftformer": Spec("FFTformer", "FFTformer", None, RESTORE, "MIT",
                      {"dim": 8, "num_blocks": [1, 1, 1], "num_refinement_blocks": 1}, fp16=False, multiple=32,
                      frozen=(r"reduce_chan_level2\.weight",)),  # defined upstream, never called
    "kbnet_l": Spec("KBNet", "KBNet_l", None, RESTORE, "MIT",
                    {"dim": 24, "num_blocks": [1, 1, 1, 1], "num_refinement_blocks": 1, "heads": [1, 1, 1, 1]},
                    fp16=False, multiple=16),
    "kbnet_s": Spec("KBNet", "KBNet_s", None, RESTORE, "MIT",
                    {"width": 8, "middle_blk_num": 1, "enc_blk_nums": [1, 1], "dec_blk_nums": [1, 1]}, fp16=False),
    "nafnet": Spec("NAFNet", "NAFNet", None, RESTORE, "MIT",
                   {"width": 8, "middle_blk_num": 1, "enc_blk_nums": [1], "dec_blk_nums": [1]}, fp16=False),
    "retinexformer": Spec("RetinexFormer", "RetinexFormer", None, RESTORE, "MIT",
                          {"n_feat": 8, "stage": 1, "num_blocks": [1, 1, 1]}, fp16=False, multiple=8, tiling=False),
    # SCUNet's attention heads are 32 channels wide and it halves `dim` for them: 64 is its smallest width
    "scunet": Spec("SCUNet", "SCUNet", None, RESTORE, "Apache-2.0", {"config": [1, 1, 1, 1, 1, 1, 1], "dim": 64},
                   minimum=40, tiling=False),
}
# fmt: on
