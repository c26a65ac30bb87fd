"""What many test modules share: a small network's config, a generated photo and a hole."""

from __future__ import annotations

import numpy as np

SMALL = dict(widths=[16, 24, 32], blocks=[1, 1, 1], latent_channels=4)  # a tiny RestorationVAE
H, W = 64, 96


def photo(seed: int = 0, h: int = H, w: int = W) -> np.ndarray:
    """A smooth colour uint8 ``(h, w, 3)`` image with mild noise (compresses like a photo)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    planes = [
        0.5 + 0.3 * np.sin(x / (6 + 2 * c) + c + seed) * np.cos(y / (8 + c)) for c in range(3)
    ]
    img = np.stack(planes, -1) + rng.normal(0, 0.04, (h, w, 3))
    return np.clip(np.round(img * 255), 0, 255).astype(np.uint8)


def hole(h: int = H, w: int = W) -> np.ndarray:
    """A bool ``(h, w)`` mask with one rectangular hole, a quarter of each side in from the
    top and left."""
    mask = np.zeros((h, w), bool)
    mask[h // 4 : h * 5 // 8, w * 5 // 16 : w * 3 // 4] = True
    return mask


def interrupt_denoise_after(monkeypatch, calls: int) -> None:
    """Make ``Restorer.denoise`` raise ``KeyboardInterrupt`` on its ``calls``-th call (Ctrl-C part
    way through a run); the calls before it restore as usual."""
    from restore.restorer import Restorer

    real, seen = Restorer.denoise, []

    def denoise(self, *args, **kwargs):
        seen.append(1)
        if len(seen) == calls:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Restorer, "denoise", denoise)
