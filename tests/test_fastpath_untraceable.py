"""A net whose torch.fx trace fails halfway, after caching a value on itself, still runs unfused afterwards."""

from __future__ import annotations

import torch
from torch import nn

from srzoo.inference.fastpath import fuse_for_inference


class CachesPadding(nn.Module):
    """Caches its last input height on itself before a data-dependent branch (as window-attention nets do)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.last_h = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.last_h = x.shape[-2]
        if self.last_h % 2:  # a Proxy here stops symbolic tracing
            x = nn.functional.pad(x, (0, 0, 0, 1))
        return self.conv(x)


def test_failed_trace_leaves_net_usable() -> None:
    torch.manual_seed(0)
    net = CachesPadding().eval()
    x = torch.rand(1, 3, 7, 8)
    with torch.no_grad():
        expected = net(x)
        fused = fuse_for_inference(net)
        assert fused is net  # untraceable: the arch runs as written
        assert net.last_h == 7  # the trace's Proxy did not replace the real cached value
        assert torch.equal(fused(x), expected)
