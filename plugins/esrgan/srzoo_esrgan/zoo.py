"""The `esrgan` zoo entry: the paper's 23-block x4 RRDBNet with its published weights (URLs + sha256)."""

from __future__ import annotations

from typing import Any

from srzoo import Capabilities, PretrainedWeights, StateDict, WeightsError, describe_arch
from srzoo_esrgan import layouts
from srzoo_esrgan.rrdbnet import RRDBNet

# sha256 values are copied from public manifests that downloaded these exact files (see the README, ESRGAN plugin);
# the official ESRGAN files come in the 2019 xinntao layout and are converted by layouts.convert_state_dict.
PRETRAINED = (
    PretrainedWeights(
        tag="official",
        url="https://github.com/cszn/KAIR/releases/download/v1.0/ESRGAN.pth",
        sha256="65fece06e1ccb48853242aa972bdf00ad07a7dd8938d2dcbdf4221b59f6372ce",
        scale=4,
        license="Apache-2.0",
        filename="RRDB_ESRGAN_x4.pth",
        description="ESRGAN paper model (RRDB_ESRGAN_x4.pth, DF2K+OST, MATLAB-bicubic LR); KAIR's "
        "byte-identical mirror of the Google Drive release",
    ),
    PretrainedWeights(
        tag="psnr",
        url="https://drive.google.com/uc?export=download&id=1pJ_T-V1dpb1ewoEra1TGSWl5e6H7M4NN",
        sha256="f372b59f22929e1bc83fa58d78215c96f976de3b2eaeee736da1b348913da6cc",
        scale=4,
        license="Apache-2.0",
        filename="RRDB_PSNR_x4.pth",
        description="ESRGAN's PSNR-oriented RRDB (RRDB_PSNR_x4.pth, DF2K, L1 only), the official Google "
        "Drive file",
    ),
    PretrainedWeights(
        tag="realesrgan_x4plus",
        url="https://github.com/xinntao/Real-ESRGAN/releases/download/v0.1.0/RealESRGAN_x4plus.pth",
        sha256="4fa0d38905f75ac06eb49a7951b426670021be3018265fd191d2125df9d682f1",
        scale=4,
        license="BSD-3-Clause",
        description="Real-ESRGAN x4plus: same network trained on synthetic real-world degradations "
        "(blur, noise, JPEG); scores below bicubic PSNR on clean bicubic LR",
    ),
)


PAPER_CONFIG = {
    "scale": 4,
    "in_channels": 3,
    "out_channels": 3,
    "num_feat": 64,
    "num_grow": 32,
    "num_blocks": 23,
    "num_dense_blocks": 3,
    "num_dense_convs": 5,
    "upsampler": "nearest",
}


def infer_kwargs(sd: StateDict) -> dict[str, Any]:
    """{'scale': 4} for weights of exactly the paper network; anything else belongs to `rrdbnet`."""
    found = layouts.infer_kwargs(sd)
    if found != PAPER_CONFIG:
        differs = ", ".join(f"{k}={v!r}" for k, v in found.items() if PAPER_CONFIG.get(k) != v)
        raise WeightsError(
            f"esrgan: these RRDBNet weights are not the paper config ({differs}); use arch rrdbnet"
        )
    return {"scale": 4}


@describe_arch(
    capabilities=Capabilities(scales=(4,), license="Apache-2.0"),
    pretrained=PRETRAINED,
    convert_state_dict=layouts.convert_state_dict,
    infer_kwargs=infer_kwargs,
)
def esrgan(scale: int = 4) -> RRDBNet:
    """The ESRGAN paper generator: RRDBNet with 23 blocks, 64 features, growth 32, nearest upsampling, x4.

    For other sizes or scales use the `rrdbnet` arch with explicit arguments.
    """
    return RRDBNet(scale=scale)
