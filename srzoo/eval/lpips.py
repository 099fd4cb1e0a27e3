"""Optional LPIPS (Zhang et al. 2018) via the `lpips` package; says why it is unavailable, never fails."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import torch

INSTALL_HINT = "pip install 'srzoo[lpips]'"


class Lpips:
    """LPIPS distance (lower is better) of uint8-quantised RGB images; `available` False says `reason` why.

    The `lpips` package needs its backbone's ImageNet weights (torchvision downloads them on first use), so
    on an offline machine `Lpips.load()` returns an unavailable metric instead of raising: benches still run.
    """

    def __init__(
        self, net: torch.nn.Module | None, *, name: str, device: str | torch.device, reason: str = ""
    ) -> None:
        self.net = net
        self.name = name
        self.device = torch.device(device)
        self.reason = reason

    @property
    def available(self) -> bool:
        return self.net is not None

    @classmethod
    def load(cls, net: str = "alex", device: str | torch.device = "cpu") -> Lpips:
        """Import `lpips` and build its model; any failure becomes an unavailable metric with the reason."""
        try:
            import lpips  # optional extra
        except ImportError as exc:
            return cls(
                None, name=net, device=device, reason=f"lpips is not installed ({exc}); {INSTALL_HINT}"
            )
        try:
            # lpips prints set-up chatter to stdout; a bench's stdout is its table, so keep it clean.
            with contextlib.redirect_stdout(io.StringIO()):
                model = lpips.LPIPS(net=net, verbose=False)
        # Offline backbone download, corrupt cache, API change: all mean "unavailable", never a failed bench.
        except Exception as exc:
            first = str(exc).splitlines()[0][:200] if str(exc) else ""
            reason = f"LPIPS ({net}) could not load its weights: {type(exc).__name__}: {first}"
            return cls(
                None, name=net, device=device, reason=reason + " (it downloads them once; needs internet)"
            )
        model = model.eval().requires_grad_(False).to(device)
        return cls(model, name=net, device=device)

    def __call__(self, sr: np.ndarray, hr: np.ndarray, *, crop_border: int = 0) -> float:
        """LPIPS of two uint8 (H, W, 3) or (H, W) images (grey counts as R = G = B), border removed."""
        if self.net is None:
            raise RuntimeError(f"LPIPS is unavailable: {self.reason}")
        a, b = (self._tensor(x, crop_border) for x in (sr, hr))
        with torch.inference_mode():
            return float(self.net(a, b).mean())

    def _tensor(self, img: np.ndarray, crop_border: int) -> torch.Tensor:
        arr = np.asarray(img)
        if arr.ndim == 2:
            arr = np.repeat(arr[:, :, None], 3, axis=2)
        if crop_border:
            arr = arr[crop_border:-crop_border, crop_border:-crop_border]
        t = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1))).float()
        # LPIPS expects RGB in [-1, 1].
        return (t / 127.5 - 1.0)[None].to(self.device)
