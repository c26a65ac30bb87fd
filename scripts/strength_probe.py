"""Two definitions of a denoising strength S, measured on noisy 256 x 256 crops with the shipped
``photo`` model in fp32 (issue #26; ``Restorer.denoise(strength=S)`` implements (a)):

* (a) blend: input + S * (restored - input);
* (b) level: the model told S x the level it reads, then blended input + S * (that - input);
* (b0) level only: the model told S x the level it reads, not blended;
* (c0) the model told S x the RMS of that level (one number), not blended.

The level read is the noise estimator's map, or for a model without one (``photo``) the RMS of
the blind restoration's residual over 33-pixel windows. Scores: PSNR against the clean image and
log2 of the gradient-energy ratio (output / clean; 0: as much detail as the clean image, above:
noise or grain left). Four Kodak24 crops with white noise sigma 25 and four Nam25 pairs.

    python scripts/strength_probe.py 0.25 0.5 0.75
"""

import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from restore import Restorer
from restore.convert import to_batch
from restore.geometry import pad_border
from restore.io.images import read_image
from restore.metrics import gradient_energy, psnr
from restore.restorer import BORDER, cut_border

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
C = 256


def crop(a):
    h, w = a.shape[:2]
    y, x = (h - C) // 2, (w - C) // 2
    return np.ascontiguousarray(a[y : y + C, x : x + C])


def pairs():
    rng = np.random.default_rng(0)
    for name in ["kodim03", "kodim05", "kodim13", "kodim23"]:
        clean = crop(read_image(DATA / "Kodak24" / f"{name}.png"))
        noisy = clean + rng.normal(0, 25 / 255, clean.shape).astype(np.float32)
        yield f"kodak-{name}", np.clip(noisy, 0, 1), clean
    for i in ["01", "04", "07", "10"]:
        clean = crop(read_image(DATA / "real/Nam25" / f"{i}_gt.png"))
        noisy = crop(read_image(DATA / "real/Nam25" / f"{i}_noise.png"))
        yield f"nam-{i}", noisy, clean


def level_read(r, noisy, full):
    """The level the model reads: its estimator's map, or (no estimator) the RMS of the blind
    residual over 33-px windows, grey levels."""
    if r.net.noise_estimator is not None:
        return r.estimate_noise(noisy)
    sq = np.square(noisy - full).mean(2).astype(np.float32)
    return np.sqrt(cv2.blur(sq, (33, 33), borderType=cv2.BORDER_REFLECT)) * 255


def level_told(r, noisy, level, s):
    batch, _ = to_batch(noisy)
    x, m = r.network_inputs(batch, None)
    lv = pad_border(torch.from_numpy(level)[None, None] * s, BORDER)
    with torch.no_grad():
        out = r.net.restore(x, m, False, noise_level=lv, filled=True)
    return cut_border(out)[0].permute(1, 2, 0).numpy()


def score(out, clean):
    o = torch.from_numpy(out).permute(2, 0, 1)[None].float()
    c = torch.from_numpy(clean).permute(2, 0, 1)[None].float()
    m = torch.ones_like(c[:, :1])
    ratio = gradient_energy(o, m) / gradient_energy(c, m)
    return float(psnr(o.clamp(0, 1), c)), float(torch.log2(ratio))


def main():
    r = Restorer.from_pretrained("photo", device="cpu", precision="fp32")
    strengths = [float(s) for s in sys.argv[1:]] or [0.5]
    rows = {}
    t0 = time.time()
    for name, noisy, clean in pairs():
        full = r.denoise(noisy)
        res = {"input": score(noisy, clean), "S=1": score(full, clean)}
        level = level_read(r, noisy, full)
        rms = float(np.sqrt(np.mean(level**2)))
        for s in strengths:
            res[f"c0 {s}"] = score(r.denoise(noisy, sigma=s * rms), clean)
            res[f"a {s}"] = score(noisy + s * (full - noisy), clean)
            told = level_told(r, noisy, level, s)
            res[f"b0 {s}"] = score(told, clean)
            res[f"b {s}"] = score(noisy + s * (told - noisy), clean)
        rows[name] = res
        print(name, {k: f"{p:.2f}dB {g:+.2f}" for k, (p, g) in res.items()}, flush=True)
    print(f"{time.time() - t0:.0f} s")
    for group in ("kodak", "nam"):
        keys = next(iter(rows.values())).keys()
        sel = [v for k, v in rows.items() if k.startswith(group)]
        print(group)
        for k in keys:
            p = np.mean([v[k][0] for v in sel])
            g = np.mean([v[k][1] for v in sel])
            print(f"  {k:10s} PSNR {p:6.2f} dB  log2 energy ratio {g:+.3f}")


if __name__ == "__main__":
    main()
