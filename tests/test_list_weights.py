"""`srzoo list weights`: zoo tags with scale, license, URL and the metrics their authors published."""

from __future__ import annotations

import pytest
from torch import nn

from srzoo import ARCHS, Capabilities, PretrainedWeights, describe_arch
from srzoo.cli import main


@pytest.fixture
def zoo_arch():
    tags = (
        PretrainedWeights(
            tag="paper", url="file:///nowhere/paper.pth", sha256=None, scale=4, license="CC0",
            metrics={"set5_psnr_y": 32.73},
        ),
        PretrainedWeights(tag="plain", url="file:///nowhere/plain.pth", sha256=None, scale=2),
    )  # fmt: skip

    @describe_arch(capabilities=Capabilities(scales=(2, 4)), pretrained=tags)
    def listed_zoo_net(scale: int = 4) -> nn.Module:
        return nn.Conv2d(3, 3, 1)

    ARCHS.register("listed_zoo_net", listed_zoo_net)
    yield "listed_zoo_net"
    ARCHS.unregister("listed_zoo_net")


def test_list_weights_shows_published_metrics(zoo_arch: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "weights", zoo_arch]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "listed_zoo_net.paper (default)  x4  CC0  file:///nowhere/paper.pth  published: set5_psnr_y=32.73",
        "listed_zoo_net.plain  x2  unknown  file:///nowhere/plain.pth",
    ]
