"""The methods the benchmark compares: restore and its classical peers, by name."""

from __future__ import annotations

import copy
import importlib.util
from collections.abc import Callable, Sequence

import cv2
import numpy as np
import torch

from restore.bench.protocol import RealPair, Sample, as_255, noisy_pair, psnr

DENOISE_PEERS = ("opencv-nlm", "skimage-nlm", "bm3d", "restore-x8")
INPAINT_PEERS = ("opencv-telea", "opencv-ns", "push-pull", "harmonic", "restore-x8")
PEERS = tuple(dict.fromkeys(DENOISE_PEERS + INPAINT_PEERS))  # restore-x8 is in both
# What runs without --peers: the fast ones (BM3D takes about 40 s a megapixel on 2 cores, the
# self-ensemble 8x restore's time): ask for those by name.
DEFAULT_PEERS = ("opencv-nlm", "skimage-nlm", "opencv-telea", "opencv-ns", "push-pull", "harmonic")
OPENCV_H_FACTORS = (
    0.5,
    0.6,
    0.7,
    0.8,
    0.9,
    1.0,
    1.1,
    1.2,
)  # h = factor * sigma, searched per sigma
OPENCV_TUNE_IMAGES = 2
REAL_OPENCV_H = (1, 2, 3, 4, 5, 6, 7, 8, 10, 12)  # OpenCV NLM h searched per real set
INPAINT_RADIUS = 5

LABELS = {
    "input": "noisy input",
    "masked": "masked input (holes = 0)",
    "restore": "restore (sigma given)",
    "restore-told": "restore (told the true sigma)",
    "restore-blind": "restore (blind)",
    "restore-x8": "restore, self-ensemble x8 (blind)",
    "bm3d": "BM3D (bm3d, colour, default profile)",
    "skimage-nlm": "scikit-image NLM",
    "opencv-nlm": "OpenCV fastNlMeans",
    "opencv-telea": "OpenCV inpaint Telea (r=5)",
    "opencv-ns": "OpenCV inpaint NS (r=5)",
    "push-pull": "push-pull fill",
    "harmonic": "harmonic fill",
}
INPAINT_LABELS = {"restore": "restore", "restore-x8": "restore, self-ensemble x8"}

# How each denoiser receives the float-protocol input (uint8-protocol input is given as is, or as
# float64 / 255 to the methods that work on floats).
FLOAT_INPUT = {
    "input": "as is (not clipped)",
    "restore": "as is (not clipped)",
    "restore-told": "as is (not clipped)",
    "restore-blind": "as is (not clipped)",
    "restore-x8": "as is (not clipped)",
    "bm3d": "as is (not clipped)",
    "skimage-nlm": "as is (not clipped)",
    "opencv-nlm": "clipped and rounded to uint8 (8-bit only), = the uint8 input",
}

# Memory is measured on the first (warm-up) call of each method, in this order: cheapest first, so
# that where the peak RSS cannot be reset (not Linux) each call's peak is more likely to rise above
# the peaks before it (ru_maxrss never goes down).
MEMORY_ORDER = (
    "push-pull",
    "harmonic",
    "opencv-telea",
    "opencv-ns",
    "opencv-nlm",
    "skimage-nlm",
    "bm3d",
    "restore",
    "restore-told",
    "restore-blind",
    "restore-x8",
)


def peer_problem(name: str) -> str | None:
    """Why peer ``name`` cannot run here, or None when it can."""
    if name == "bm3d" and importlib.util.find_spec("bm3d") is None:
        return "`bm3d` is not installed (`pip install bm3d`, or the project's `bench` extra)"
    if name == "skimage-nlm" and importlib.util.find_spec("skimage") is None:
        return "scikit-image is not installed (`pip install scikit-image`)"
    return None


def _to_uint8(x: np.ndarray) -> np.ndarray:
    if x.dtype == np.uint8:
        return x
    return np.round(np.clip(x * 255.0, 0, 255)).astype(np.uint8)


def _to_float(x: np.ndarray) -> np.ndarray:
    return x / 255.0 if x.dtype == np.uint8 else x.astype(np.float64)


def _restore_input(x: np.ndarray) -> np.ndarray:
    """uint8 as is; floats as float32, clipped only to what ``Restorer`` takes (``FLOAT_RANGE``,
    which Gaussian noise up to sigma ~75 does not reach)."""
    from restore.convert import FLOAT_RANGE

    return x if x.dtype == np.uint8 else np.clip(x, *FLOAT_RANGE).astype(np.float32)


def _bm3d(x: np.ndarray, sigma: float) -> np.ndarray:
    import bm3d

    z = _to_float(x)
    if z.shape[2] == 1:
        return bm3d.bm3d(z[..., 0], sigma_psd=sigma / 255.0)[..., None]
    return bm3d.bm3d_rgb(z, sigma_psd=sigma / 255.0)


def _skimage_nlm(x: np.ndarray, sigma: float) -> np.ndarray:
    from skimage.restoration import denoise_nl_means

    z, s = _to_float(x), sigma / 255.0
    gray = z.shape[2] == 1
    out = denoise_nl_means(
        z[..., 0] if gray else z,
        h=0.8 * s,
        sigma=s,
        fast_mode=True,
        patch_size=5,
        patch_distance=6,
        channel_axis=None if gray else -1,
    )
    return out.reshape(z.shape)


def _opencv_nlm(x: np.ndarray, h: float) -> np.ndarray:
    u = _to_uint8(x)
    if u.shape[2] == 1:
        return cv2.fastNlMeansDenoising(u[..., 0], None, h, 7, 21)[..., None]
    bgr = cv2.cvtColor(u, cv2.COLOR_RGB2BGR)
    out = cv2.fastNlMeansDenoisingColored(bgr, None, h, h, 7, 21)
    return cv2.cvtColor(out, cv2.COLOR_BGR2RGB)


def opencv_inpaint(image: np.ndarray, mask: np.ndarray, flag: int) -> np.ndarray:
    """OpenCV ``cv2.inpaint`` (radius :data:`INPAINT_RADIUS`) of a uint8 ``(H, W, C)`` image
    (C = 1 or 3) inside the bool ``(H, W)`` ``mask`` (True = hole); ``flag``:
    ``cv2.INPAINT_TELEA`` or ``cv2.INPAINT_NS``. Returns uint8 shaped as ``image``."""
    src = image[..., 0] if image.shape[2] == 1 else image
    out = cv2.inpaint(src, mask.astype(np.uint8) * 255, INPAINT_RADIUS, flag)
    return out.reshape(image.shape)


def _classical_fill(
    fill: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """A fill of :mod:`restore.models.fill` (``pyramid_fill`` or ``harmonic_fill``) as a peer that
    takes an 8-bit image and a bool mask and gives a float image in [0, 1]."""

    def run(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(image).permute(2, 0, 1)[None].double() / 255.0
        m = torch.from_numpy(mask)[None, None].double()
        return fill(x, m)[0].permute(1, 2, 0).numpy()

    return run


def tune_opencv_h(
    samples: Sequence[Sample],
    sigmas: Sequence[float],
    seed: int,
    factors: Sequence[float] = OPENCV_H_FACTORS,
    n_images: int = OPENCV_TUNE_IMAGES,
) -> dict[float, float]:
    """Per sigma, the ``h = factor * sigma`` of OpenCV's NLM with the best mean PSNR on the first
    ``n_images`` images (uint8 inputs, the same noise as the benchmark)."""
    best = {}
    for sigma in sigmas:
        scores = {f: [] for f in factors}
        for index, sample in enumerate(samples[:n_images]):
            _, noisy_u8 = noisy_pair(sample, index, sigma, seed)
            for f in factors:
                out = _opencv_nlm(noisy_u8, f * sigma)
                scores[f].append(psnr(as_255(out, sample.clean.shape), sample.clean))
        factor = max(factors, key=lambda f: np.mean(scores[f]))
        best[sigma] = factor * sigma
    return best


def _self_ensemble(restorer):
    """A copy of ``restorer`` (same network, device, tiles, precision) with ``self_ensemble`` on."""
    ensemble = copy.copy(restorer)
    ensemble.self_ensemble = True
    return ensemble


def denoisers(
    restorer, peers: Sequence[str], opencv_h: dict[float, float]
) -> dict[str, Callable[[np.ndarray, float], np.ndarray]]:
    """Denoising methods ``name -> f(noisy, sigma)`` in memory order; ``noisy`` is float64 (float
    protocol) or uint8."""
    ensemble = _self_ensemble(restorer)
    table = {
        "opencv-nlm": lambda x, s: _opencv_nlm(x, opencv_h[s]),
        "skimage-nlm": _skimage_nlm,
        "bm3d": _bm3d,
        "restore": lambda x, s: restorer.denoise(_restore_input(x), sigma=s),
        "restore-blind": lambda x, s: restorer.denoise(_restore_input(x)),
        "restore-x8": lambda x, s: ensemble.denoise(_restore_input(x)),
    }
    keep = set(peers) | {"restore", "restore-blind"}
    return {name: table[name] for name in MEMORY_ORDER if name in table and name in keep}


def real_denoisers(
    restorer, peers: Sequence[str]
) -> dict[str, Callable[[np.ndarray, float, float], np.ndarray]]:
    """Real-noise methods ``name -> f(noisy_uint8, true_sigma, opencv_h)``."""
    ensemble = _self_ensemble(restorer)
    table = {
        "opencv-nlm": lambda x, s, h: _opencv_nlm(x, h),
        "skimage-nlm": lambda x, s, h: _skimage_nlm(x, s),
        "bm3d": lambda x, s, h: _bm3d(x, s),
        "restore-told": lambda x, s, h: restorer.denoise(x, sigma=s),
        "restore-blind": lambda x, s, h: restorer.denoise(x),
        "restore-x8": lambda x, s, h: ensemble.denoise(x),
    }
    keep = set(peers) | {"restore-told", "restore-blind"}
    return {name: table[name] for name in MEMORY_ORDER if name in table and name in keep}


def tune_real_opencv_h(pairs: Sequence[RealPair], grid: Sequence[float] = REAL_OPENCV_H) -> float:
    """The OpenCV NLM ``h`` of ``grid`` with the best mean PSNR over ``pairs``."""
    scores = {
        h: np.mean([psnr(as_255(_opencv_nlm(p.noisy, h), p.clean.shape), p.clean) for p in pairs])
        for h in grid
    }
    return float(max(grid, key=lambda h: scores[h]))


def inpainters(
    restorer, peers: Sequence[str]
) -> dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]]:
    from restore.models.fill import harmonic_fill, pyramid_fill

    ensemble = _self_ensemble(restorer)
    table = {
        "opencv-telea": lambda x, m: opencv_inpaint(x, m, cv2.INPAINT_TELEA),
        "opencv-ns": lambda x, m: opencv_inpaint(x, m, cv2.INPAINT_NS),
        "push-pull": _classical_fill(pyramid_fill),
        "harmonic": _classical_fill(harmonic_fill),
        "restore": lambda x, m: restorer.inpaint(x, m),
        "restore-x8": lambda x, m: ensemble.inpaint(x, m),
    }
    keep = set(peers) | {"restore"}
    return {name: table[name] for name in MEMORY_ORDER if name in table and name in keep}
