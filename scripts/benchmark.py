"""Benchmark restore weights against classical denoisers and inpainters on a folder of clean images.

    python scripts/benchmark.py                                   # shipped model on ../shared/data/CBSD68
    python scripts/benchmark.py --weights runs/x/export/model.pt --max-images 10 --out runs/bench
    python scripts/benchmark.py --sigmas 25 --presets medium --peers bm3d opencv-telea
    python scripts/benchmark.py --tasks real --peers bm3d --max-images 4     # real noise, BM3D subset

Writes into --out (default runs/benchmark):
  results.md        Markdown tables (denoising, inpainting) with the protocol and a header line
  results.csv       one row per task x protocol x setting x method (means over the images)
  per_image.csv     one row per image x task x protocol x setting x method
  denoise_psnr.png, inpaint_psnr.png    plots (only when matplotlib is installed)
  crops_denoise_s<sigma>.png            noisy | BM3D | restore | clean, first image
  crops_inpaint_<preset>.png            masked | Telea | restore | clean, first image

Protocol:
  Denoising: one standard-normal field per image from numpy default_rng(seed + index), scaled by
  sigma/255 and added to the clean 8-bit image in float64. Two inputs per sigma:
    float  the noisy float image as is, NOT clipped (the protocol of the published tables); methods
           that cannot take it get the closest thing they accept (see the table's column).
    uint8  round(clip(x + n)) to 8 bits, as in a real noisy photo.
  Real noise: the noisy/clean pairs of ../shared/data/real/CC15 and Nam25 (8-bit photos of real
  camera noise; the clean image is the mean of many shots), given as they are. "Told the true
  sigma" is the RMS of noisy - clean on the 0-255 scale; OpenCV's h is tuned per set over
  REAL_OPENCV_H on all of its pairs (favours OpenCV).
  Inpainting: LaMa thin/medium/thick masks from IrregularMasks(preset) seeded with
  torch.Generator().manual_seed(seed + index), at the image size; hole pixels set to 0.
  Metrics against the clean 8-bit image on the 0-255 scale, after clipping the method's output to
  [0, 255] (float outputs are not rounded): PSNR, SSIM (kornia.metrics.ssim, 11x11 Gaussian window,
  sigma 1.5, valid region, mean over channels), and for inpainting the PSNR inside the holes.

Importable: ``run_benchmark`` (arrays in, results out), ``write_outputs``, ``main(argv)``.
"""

from __future__ import annotations

import argparse
import copy
import csv
import gc
import hashlib
import importlib.util
import math
import os
import platform
import resource
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]

DENOISE_PEERS = ("opencv-nlm", "skimage-nlm", "bm3d", "restore-x8")
INPAINT_PEERS = ("opencv-telea", "opencv-ns", "push-pull", "harmonic", "restore-x8")
PEERS = tuple(dict.fromkeys(DENOISE_PEERS + INPAINT_PEERS))  # restore-x8 is in both
OPENCV_H_FACTORS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2)  # h = factor * sigma, searched per sigma
OPENCV_TUNE_IMAGES = 2
REAL_OPENCV_H = (1, 2, 3, 4, 5, 6, 7, 8, 10, 12)  # OpenCV NLM h searched per real set
# Real noisy/clean pair sets: name -> (folder under the data dir, noisy suffix, clean suffix).
REAL_SETS = {"CC15": ("real/CC15", "_real", "_mean"), "Nam25": ("real/Nam25", "_noise", "_gt")}
INPAINT_RADIUS = 5

SSIM_NAME = "kornia.metrics.ssim, 11x11 Gaussian window (sigma 1.5), valid region, channel mean"

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
MEMORY_ORDER = ("push-pull", "harmonic", "opencv-telea", "opencv-ns", "opencv-nlm", "skimage-nlm",
                "bm3d", "restore", "restore-told", "restore-blind", "restore-x8")


# --------------------------------------------------------------------------------------------------
# images

@dataclass
class Sample:
    name: str
    clean: np.ndarray  # uint8 (H, W, C), C = 1 (gray) or 3 (RGB)

    @property
    def megapixels(self) -> float:
        return self.clean.shape[0] * self.clean.shape[1] / 1e6


def default_images_dir() -> Path:
    """``$RESTORE_DATA_DIR/CBSD68`` when the variable is set, else ``../shared/data/CBSD68``."""
    return data_dir() / "CBSD68"


@dataclass
class RealPair:
    name: str
    noisy: np.ndarray  # uint8 (H, W, 3)
    clean: np.ndarray  # uint8 (H, W, 3)

    @property
    def megapixels(self) -> float:
        return self.clean.shape[0] * self.clean.shape[1] / 1e6

    @property
    def sigma(self) -> float:
        """The RMS of noisy - clean, 0-255 scale: the "true sigma" of a real pair."""
        return float(np.sqrt(np.mean((self.noisy.astype(np.float64) - self.clean) ** 2)))


def data_dir() -> Path:
    """``$RESTORE_DATA_DIR`` when set, else ``../shared/data`` next to the repository."""
    env = os.environ.get("RESTORE_DATA_DIR")
    return Path(env) if env else ROOT.parent / "shared" / "data"


def load_real_pairs(root: str | Path, noisy_suffix: str, clean_suffix: str,
                    max_images: int | None = None) -> list[RealPair]:
    """The first ``max_images`` noisy/clean pairs of a folder (paired as in training's validation:
    :class:`restore.data.PairedImages`), sorted by name."""
    from restore.data import PairedImages

    pairs = PairedImages(root, noisy_suffix, clean_suffix, Path(root).name)
    names = [p.stem[: len(p.stem) - len(clean_suffix)] for p in pairs.clean_paths]
    found = [RealPair(n, noisy, clean) for n, (noisy, clean) in zip(names, pairs.pairs)]
    return found[:max_images] if max_images is not None else found


def load_images(folder: str | Path, max_images: int | None = None) -> list[Sample]:
    """The first ``max_images`` images under ``folder`` (sorted) as 8-bit arrays.

    Images whose three channels are equal are kept as one gray channel.
    """
    from restore.data import list_images, read_image

    folder = Path(folder)
    paths = list_images(folder)
    if not paths:
        raise FileNotFoundError(f"{folder}: no images found")
    if max_images is not None:
        paths = paths[:max_images]
    samples = []
    for path in paths:
        rgb = np.round(read_image(path, 3).astype(np.float64) * 255).astype(np.uint8)
        gray = np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])
        samples.append(Sample(path.relative_to(folder).as_posix(), rgb[..., :1].copy() if gray else rgb))
    return samples


# --------------------------------------------------------------------------------------------------
# metrics

def _as255(image: np.ndarray, shape: tuple[int, ...], clip: bool = True) -> np.ndarray:
    """``image`` (uint8, or float on the 0-1 scale) as float64 on the 0-255 scale, shaped ``shape``."""
    out = image.astype(np.float64) if image.dtype == np.uint8 else image.astype(np.float64) * 255.0
    out = out.reshape(shape)
    return np.clip(out, 0.0, 255.0) if clip else out


def psnr(result: np.ndarray, clean: np.ndarray, mask: np.ndarray | None = None) -> float:
    """PSNR in dB on the 0-255 scale (both float64 0-255); only inside ``mask`` (H, W) if given."""
    diff = (result - clean.astype(np.float64)) ** 2
    if mask is not None:
        if not mask.any():
            return float("nan")
        diff = diff[mask]
    mse = float(diff.mean())
    return float("inf") if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def ssim(result: np.ndarray, clean: np.ndarray) -> float:
    """Mean SSIM (see ``SSIM_NAME``) of two (H, W, C) images on the 0-255 scale."""
    from kornia.metrics import ssim as kssim

    def t(a):
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32) / 255.0).permute(2, 0, 1)[None]

    with torch.no_grad():
        return float(kssim(t(result), t(clean), 11, max_val=1.0, padding="valid").mean())


# --------------------------------------------------------------------------------------------------
# memory

def _maxrss_mib() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024  # bytes on macOS, KiB on Linux


def _proc_status_mib(key: str) -> float | None:
    """``VmRSS`` / ``VmHWM`` of this process from /proc (Linux), or None."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    return None


def _reset_peak() -> bool:
    """Reset this process's peak RSS (``VmHWM``; Linux >= 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return _proc_status_mib("VmHWM") is not None


@dataclass
class Memory:
    """Extra resident memory of a call: its peak RSS minus the RSS just before it, in MiB.

    Exact where the peak can be reset (Linux ``/proc/self/clear_refs``); otherwise from the
    process-lifetime ``ru_maxrss``: exact when the call raised it, else only an upper bound.
    """

    mib: float | None
    upper_bound: bool

    def text(self) -> str:
        if self.mib is None:
            return "n/a"
        return f"<= {self.mib:.0f}" if self.upper_bound else f"{self.mib:.0f}"


def measure_memory(call: Callable[[], Any]) -> Memory:
    gc.collect()
    now = _proc_status_mib("VmRSS")
    if now is not None and _reset_peak():
        call()
        return Memory(max(0.0, _proc_status_mib("VmHWM") - now), False)
    peak_before = _maxrss_mib()
    call()
    peak_after = _maxrss_mib()
    if now is None:  # no current RSS either: the rise of the lifetime peak (a lower bound)
        return Memory(peak_after - peak_before, False)
    if peak_after > peak_before:
        return Memory(max(0.0, peak_after - now), False)
    return Memory(max(0.0, peak_before - now), True)


def memory_method() -> str:
    """How :func:`measure_memory` works on this machine (for the report)."""
    if _proc_status_mib("VmRSS") is not None and _reset_peak():
        return ("peak RSS of the call (`VmHWM`, reset through `/proc/self/clear_refs` just before it) "
                "minus the RSS before it: exact, page granularity")
    return ("`ru_maxrss` after the call minus the current RSS before it; `ru_maxrss` never goes down, "
            "so methods run cheapest first, and a call that stays under an earlier peak only gets an "
            "upper bound (`<=`)")


# --------------------------------------------------------------------------------------------------
# methods

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
    out = denoise_nl_means(z[..., 0] if gray else z, h=0.8 * s, sigma=s, fast_mode=True,
                           patch_size=5, patch_distance=6, channel_axis=None if gray else -1)
    return out.reshape(z.shape)


def _opencv_nlm(x: np.ndarray, h: float) -> np.ndarray:
    u = _to_uint8(x)
    if u.shape[2] == 1:
        return cv2.fastNlMeansDenoising(u[..., 0], None, h, 7, 21)[..., None]
    bgr = cv2.cvtColor(u, cv2.COLOR_RGB2BGR)
    out = cv2.fastNlMeansDenoisingColored(bgr, None, h, h, 7, 21)
    return cv2.cvtColor(out, cv2.COLOR_BGR2RGB)


def _opencv_inpaint(image: np.ndarray, mask: np.ndarray, flag: int) -> np.ndarray:
    src = image[..., 0] if image.shape[2] == 1 else image
    out = cv2.inpaint(src, mask.astype(np.uint8) * 255, INPAINT_RADIUS, flag)
    return out.reshape(image.shape)


def _classical_fill(fill: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
                    ) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """A fill of :mod:`restore.models.fill` (``pyramid_fill`` or ``harmonic_fill``) as a peer that
    takes an 8-bit image and a bool mask and gives a float image in [0, 1]."""

    def run(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(image).permute(2, 0, 1)[None].double() / 255.0
        m = torch.from_numpy(mask)[None, None].double()
        return fill(x, m)[0].permute(1, 2, 0).numpy()

    return run


def tune_opencv_h(samples: Sequence[Sample], sigmas: Sequence[float], seed: int,
                  factors: Sequence[float] = OPENCV_H_FACTORS,
                  n_images: int = OPENCV_TUNE_IMAGES) -> dict[float, float]:
    """Per sigma, the ``h = factor * sigma`` of OpenCV's NLM with the best mean PSNR on the first
    ``n_images`` images (uint8 inputs, the same noise as the benchmark)."""
    best = {}
    for sigma in sigmas:
        scores = {f: [] for f in factors}
        for index, sample in enumerate(samples[:n_images]):
            _, noisy_u8 = noisy_pair(sample, index, sigma, seed)
            for f in factors:
                out = _opencv_nlm(noisy_u8, f * sigma)
                scores[f].append(psnr(_as255(out, sample.clean.shape), sample.clean))
        factor = max(factors, key=lambda f: np.mean(scores[f]))
        best[sigma] = factor * sigma
    return best


def noisy_pair(sample: Sample, index: int, sigma: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(float64 noisy image on the 0-1 scale, not clipped; its round(clip()) uint8 version)."""
    z = np.random.default_rng(seed + index).standard_normal(sample.clean.shape)
    noisy = sample.clean / 255.0 + (sigma / 255.0) * z
    return noisy, np.round(np.clip(noisy * 255.0, 0, 255)).astype(np.uint8)


def hole_mask(sample: Sample, index: int, preset: str, seed: int) -> np.ndarray:
    """Boolean (H, W) LaMa ``preset`` mask (True = hole) for image ``index``."""
    from restore.corruption import IrregularMasks

    h, w = sample.clean.shape[:2]
    generator = torch.Generator().manual_seed(seed + index)
    return IrregularMasks(preset)(torch.zeros(1, 1, h, w), generator=generator)[0, 0].numpy() > 0.5


def _self_ensemble(restorer):
    """A copy of ``restorer`` (same network, device, tiles, precision) with ``self_ensemble`` on."""
    ensemble = copy.copy(restorer)
    ensemble.self_ensemble = True
    return ensemble


def denoisers(restorer, peers: Sequence[str], opencv_h: dict[float, float]
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


def real_denoisers(restorer, peers: Sequence[str]) -> dict[str, Callable[[np.ndarray, float, float], np.ndarray]]:
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
    scores = {h: np.mean([psnr(_as255(_opencv_nlm(p.noisy, h), p.clean.shape), p.clean)
                          for p in pairs]) for h in grid}
    return float(max(grid, key=lambda h: scores[h]))


def inpainters(restorer, peers: Sequence[str]) -> dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]]:
    from restore.models.fill import harmonic_fill, pyramid_fill

    ensemble = _self_ensemble(restorer)
    table = {
        "opencv-telea": lambda x, m: _opencv_inpaint(x, m, cv2.INPAINT_TELEA),
        "opencv-ns": lambda x, m: _opencv_inpaint(x, m, cv2.INPAINT_NS),
        "push-pull": _classical_fill(pyramid_fill),
        "harmonic": _classical_fill(harmonic_fill),
        "restore": lambda x, m: restorer.inpaint(x, m),
        "restore-x8": lambda x, m: ensemble.inpaint(x, m),
    }
    keep = set(peers) | {"restore"}
    return {name: table[name] for name in MEMORY_ORDER if name in table and name in keep}


# --------------------------------------------------------------------------------------------------
# the benchmark

@dataclass
class Results:
    records: list[dict] = field(default_factory=list)  # one per image x task x protocol x setting x method
    memory: dict[tuple[str, str], Memory] = field(default_factory=dict)  # (task, method)
    opencv_h: dict[float, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # peer -> reason
    examples: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # first image panels
    crop_sigma: float | None = None
    crop_preset: str | None = None
    sigmas: list[float] = field(default_factory=list)
    presets: list[str] = field(default_factory=list)
    real_sets: list[str] = field(default_factory=list)
    real_opencv_h: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


def _timed(call: Callable[[], np.ndarray]) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    out = call()
    return out, time.perf_counter() - start


def _middle(values: Sequence, preferred) -> Any:
    return preferred if preferred in values else values[len(values) // 2]


def run_benchmark(samples: Sequence[Sample], restorer, *, sigmas: Sequence[float] = (15, 25, 50),
                  presets: Sequence[str] = ("thin", "medium", "thick"),
                  peers: Sequence[str] | None = None, seed: int = 0,
                  tasks: Sequence[str] = ("denoise", "inpaint"), opencv_h: float | None = None,
                  real: dict[str, list[RealPair]] | None = None,
                  log: Callable[[str], None] = lambda s: None) -> Results:
    """Run every method on every image; ``opencv_h`` None tunes OpenCV's h per sigma (see
    :func:`tune_opencv_h`), else h = ``opencv_h * sigma``. ``real`` (set name -> pairs) is
    scored when ``tasks`` has ``real``."""
    if not samples and set(tasks) & {"denoise", "inpaint"}:
        raise ValueError("no images to benchmark")
    sigmas = [float(s) for s in sigmas]
    res = Results(sigmas=sigmas if "denoise" in tasks else [],
                  presets=list(presets) if "inpaint" in tasks else [],
                  real_sets=list(real or {}) if "real" in tasks else [])
    requested = list(PEERS if peers is None else peers)
    for name in requested:
        if name not in PEERS:
            raise ValueError(f"unknown peer {name!r}; choose from {', '.join(PEERS)}")
        if (problem := peer_problem(name)) is not None:
            res.skipped[name] = problem
    peers = [p for p in requested if p not in res.skipped]
    res.crop_sigma = _middle(sigmas, 25.0) if res.sigmas else None
    res.crop_preset = _middle(list(presets), "medium") if res.presets else None

    if "denoise" in tasks and "opencv-nlm" in peers:
        if opencv_h is None:
            log(f"tuning OpenCV NLM h on {min(len(samples), OPENCV_TUNE_IMAGES)} image(s)")
            res.opencv_h = tune_opencv_h(samples, sigmas, seed)
        else:
            res.opencv_h = {s: opencv_h * s for s in sigmas}
    den = denoisers(restorer, peers, res.opencv_h) if "denoise" in tasks else {}
    inp = inpainters(restorer, peers) if "inpaint" in tasks else {}

    if res.real_sets:
        run_real(res, real, restorer, peers, log)
    if not (den or inp):
        return res

    # Warm-up: one untimed call per method on the first image, cheapest first; it gives the memory
    # numbers and keeps one-time costs (thread pools, kernels, caches) out of the timings.
    first = samples[0]
    if den:
        _, warm_u8 = noisy_pair(first, 0, sigmas[0], seed)
    if inp:
        warm_mask = hole_mask(first, 0, presets[0], seed)
        warm_masked = np.where(warm_mask[..., None], 0, first.clean).astype(np.uint8)
    for name in MEMORY_ORDER:
        if name in inp:
            res.memory[("inpaint", name)] = measure_memory(lambda: inp[name](warm_masked, warm_mask))
            log(f"warm-up inpaint {name}: first call +{res.memory[('inpaint', name)].text()} MiB")
        if name in den:
            res.memory[("denoise", name)] = measure_memory(lambda: den[name](warm_u8, sigmas[0]))
            log(f"warm-up denoise {name}: first call +{res.memory[('denoise', name)].text()} MiB")

    def record(task, protocol, setting, method, sample, out, seconds, mask=None, clip=True):
        clean = sample.clean
        result = _as255(out, clean.shape, clip=clip)
        row = dict(task=task, protocol=protocol, setting=setting, method=method, image=sample.name,
                   psnr=psnr(result, clean), ssim=ssim(result, clean),
                   hole_psnr=psnr(result, clean, mask) if mask is not None else float("nan"),
                   seconds=seconds, megapixels=sample.megapixels,
                   hole_share=float(mask.mean()) if mask is not None else float("nan"))
        res.records.append(row)
        return row

    n = len(samples)
    for index, sample in enumerate(samples):
        for sigma in sigmas if den else []:
            noisy_f, noisy_u8 = noisy_pair(sample, index, sigma, seed)
            for protocol, noisy in (("float", noisy_f), ("uint8", noisy_u8)):
                record("denoise", protocol, f"{sigma:g}", "input", sample, noisy, float("nan"),
                       clip=False)
                keep = index == 0 and sigma == res.crop_sigma and protocol == "uint8"
                if keep:
                    res.examples["denoise"] = {"noisy": noisy_u8, "clean": sample.clean}
                for name, fn in den.items():
                    out, seconds = _timed(lambda: fn(noisy, sigma))
                    row = record("denoise", protocol, f"{sigma:g}", name, sample, out, seconds)
                    log(f"[{index + 1}/{n}] {sample.name} denoise sigma {sigma:g} {protocol:5s} "
                        f"{name:13s} {row['psnr']:6.2f} dB  {seconds:7.2f} s")
                    if keep:
                        res.examples["denoise"][name] = out
        for preset in presets if inp else []:
            mask = hole_mask(sample, index, preset, seed)
            masked = np.where(mask[..., None], 0, sample.clean).astype(np.uint8)
            record("inpaint", "holes=0", preset, "masked", sample, masked, float("nan"), mask)
            keep = index == 0 and preset == res.crop_preset
            if keep:
                res.examples["inpaint"] = {"masked": masked, "clean": sample.clean, "mask": mask}
            for name, fn in inp.items():
                out, seconds = _timed(lambda: fn(masked, mask))
                row = record("inpaint", "holes=0", preset, name, sample, out, seconds, mask)
                log(f"[{index + 1}/{n}] {sample.name} inpaint {preset:6s} {name:13s} "
                    f"{row['psnr']:6.2f} dB (hole {row['hole_psnr']:6.2f})  {seconds:7.2f} s")
                if keep:
                    res.examples["inpaint"][name] = out
    return res


def run_real(res: Results, real: dict[str, list[RealPair]], restorer, peers: Sequence[str],
             log: Callable[[str], None]) -> None:
    """Score every real-noise method on every pair of every set into ``res``."""
    methods = real_denoisers(restorer, peers)
    first = next(iter(real.values()))[0]
    for name, fn in methods.items():  # warm-up, untimed
        fn(first.noisy, first.sigma, 3.0)
    for set_name, pairs in real.items():
        if "opencv-nlm" in methods:
            log(f"tuning OpenCV NLM h on the {len(pairs)} pairs of {set_name}")
            res.real_opencv_h[set_name] = tune_real_opencv_h(pairs)
        h = res.real_opencv_h.get(set_name, 3.0)
        for index, pair in enumerate(pairs):
            rows = [("input", pair.noisy, float("nan"))]
            for name, fn in methods.items():
                out, seconds = _timed(lambda: fn(pair.noisy, pair.sigma, h))
                rows.append((name, out, seconds))
            for name, out, seconds in rows:
                result = _as255(out, pair.clean.shape)
                res.records.append(dict(
                    task="real", protocol="uint8", setting=set_name, method=name, image=pair.name,
                    psnr=psnr(result, pair.clean), ssim=ssim(result, pair.clean),
                    hole_psnr=float("nan"), seconds=seconds, megapixels=pair.megapixels,
                    hole_share=float("nan")))
                log(f"[{index + 1}/{len(pairs)}] {set_name} {pair.name} {name:13s} "
                    f"{res.records[-1]['psnr']:6.2f} dB  {seconds:7.2f} s")
            if index == 0:
                res.examples[f"real_{set_name}"] = {"noisy": pair.noisy, "clean": pair.clean,
                                                    **{n: o for n, o, _ in rows}}


# --------------------------------------------------------------------------------------------------
# summaries and files

SUMMARY_COLUMNS = ["task", "protocol", "setting", "method", "images", "psnr_db", "ssim",
                   "hole_psnr_db", "seconds_per_mp", "first_call_extra_mib",
                   "first_call_extra_is_upper_bound", "float_protocol_input"]
PER_IMAGE_COLUMNS = ["task", "protocol", "setting", "method", "image", "psnr_db", "ssim",
                     "hole_psnr_db", "hole_share", "seconds", "megapixels"]


def _mean(values) -> float:
    values = [v for v in values if not math.isnan(v)]
    return float(np.mean(values)) if values else float("nan")


def summarise(res: Results) -> list[dict]:
    """Means over the images per (task, protocol, setting, method), in first-seen order."""
    groups: dict[tuple, list[dict]] = {}
    for r in res.records:
        groups.setdefault((r["task"], r["protocol"], r["setting"], r["method"]), []).append(r)
    rows = []
    for (task, protocol, setting, method), rs in groups.items():
        seconds = [r["seconds"] for r in rs]
        timed = not any(math.isnan(s) for s in seconds)
        mem = res.memory.get((task, method))
        rows.append({
            "task": task, "protocol": protocol, "setting": setting, "method": method,
            "images": len(rs),
            "psnr_db": _mean([r["psnr"] for r in rs]),
            "ssim": _mean([r["ssim"] for r in rs]),
            "hole_psnr_db": _mean([r["hole_psnr"] for r in rs]),
            "seconds_per_mp": sum(seconds) / sum(r["megapixels"] for r in rs) if timed else float("nan"),
            "first_call_extra_mib": mem.mib if mem and mem.mib is not None else float("nan"),
            "first_call_extra_is_upper_bound": mem.upper_bound if mem else "",
            "float_protocol_input": FLOAT_INPUT.get(method, "") if protocol == "float" else "",
        })
    return rows


def _fmt(value: float, digits: int) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "-"
    return f"{value:.{digits}f}"


def _csv_value(value: Any) -> Any:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return value


def write_csv(rows: list[dict], path: Path, columns: list[str]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: _csv_value(row.get(c, "")) for c in columns})


def _s_per_mp(records: list[dict]) -> float:
    timed = [r for r in records if not math.isnan(r["seconds"])]
    if not timed:
        return float("nan")
    return sum(r["seconds"] for r in timed) / sum(r["megapixels"] for r in timed)


def markdown(res: Results, rows: list[dict], notes: Sequence[str] = ()) -> str:
    info = res.info
    lines = ["# restore benchmark", ""]
    lines.append(
        f"Images: `{info.get('images', '?')}` ({info.get('count', '?')} images"
        f"{', of ' + str(info['available']) if info.get('available') else ''}); "
        f"seed {info.get('seed', '?')}; weights: {info.get('weights', '?')}; "
        f"date {info.get('date', '?')}; device {info.get('device', '?')}, precision "
        f"{info.get('precision', '?')}; torch threads {torch.get_num_threads()}, OpenCV threads "
        f"{cv2.getNumThreads()}; {info.get('versions', '')}")
    lines.append("")
    by = {(r["task"], r["protocol"], r["setting"], r["method"]): r for r in rows}
    mem_text = {k: m.text() for k, m in res.memory.items()}

    if res.sigmas:
        methods = list(dict.fromkeys(r["method"] for r in rows if r["task"] == "denoise"))
        lines += ["## Denoising (additive white Gaussian noise)", ""]
        head = ["method", "float-protocol input"]
        for s in res.sigmas:
            for proto in ("float", "uint8"):
                head += [f"σ{s:g} {proto} PSNR", f"σ{s:g} {proto} SSIM"]
        head += ["s/MP", "first-call MiB"]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for m in methods:
            cells = [LABELS.get(m, m), FLOAT_INPUT.get(m, "")]
            for s in res.sigmas:
                for proto in ("float", "uint8"):
                    r = by.get(("denoise", proto, f"{s:g}", m))
                    cells += [_fmt(r["psnr_db"], 2), _fmt(r["ssim"], 4)] if r else ["-", "-"]
            recs = [r for r in res.records if r["task"] == "denoise" and r["method"] == m]
            cells += [_fmt(_s_per_mp(recs), 2), mem_text.get(("denoise", m), "-")]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        if res.opencv_h:
            hs = ", ".join(f"σ{s:g}: h={h:g}" for s, h in res.opencv_h.items())
            lines.append(f"OpenCV `fastNlMeansDenoisingColored` (template 7, search 21, h = hColor): {hs}"
                         f" ({res.info.get('opencv_h_rule', '')}).")
            lines.append("")

    if res.presets:
        methods = list(dict.fromkeys(r["method"] for r in rows if r["task"] == "inpaint"))
        lines += ["## Inpainting (LaMa irregular masks)", ""]
        head = ["method"]
        for p in res.presets:
            head += [f"{p} PSNR", f"{p} hole PSNR", f"{p} SSIM", f"{p} s/MP"]
        head += ["first-call MiB"]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for m in methods:
            cells = [INPAINT_LABELS.get(m, LABELS.get(m, m))]
            for p in res.presets:
                r = by.get(("inpaint", "holes=0", p, m))
                cells += ([_fmt(r["psnr_db"], 2), _fmt(r["hole_psnr_db"], 2), _fmt(r["ssim"], 4),
                           _fmt(r["seconds_per_mp"], 2)] if r else ["-"] * 4)
            cells.append(mem_text.get(("inpaint", m), "-"))
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        cover = {p: _mean([r["hole_share"] for r in res.records
                           if r["task"] == "inpaint" and r["setting"] == p and r["method"] == "masked"])
                 for p in res.presets}
        if any(not math.isnan(c) for c in cover.values()):
            lines += ["Mean hole share: " + ", ".join(f"{p} {100 * c:.1f}%" for p, c in cover.items()), ""]

    if res.real_sets:
        methods = list(dict.fromkeys(r["method"] for r in rows if r["task"] == "real"))
        lines += ["## Real camera noise (noisy/clean pairs)", ""]
        head = ["method"]
        for name in res.real_sets:
            head += [f"{name} PSNR", f"{name} SSIM"]
        head += ["s/MP"]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for m in methods:
            cells = [LABELS.get(m, m)]
            for name in res.real_sets:
                r = by.get(("real", "uint8", name, m))
                cells += [_fmt(r["psnr_db"], 2), _fmt(r["ssim"], 4)] if r else ["-", "-"]
            recs = [r for r in res.records if r["task"] == "real" and r["method"] == m]
            cells.append(_fmt(_s_per_mp(recs), 2))
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        counts = {name: len({r["image"] for r in res.records if r["task"] == "real"
                             and r["setting"] == name}) for name in res.real_sets}
        lines.append("Pairs: " + ", ".join(f"{n} {c}" for n, c in counts.items()) + ". " + (
            "OpenCV h tuned per set over " + f"{list(REAL_OPENCV_H)}: "
            + ", ".join(f"{n} h={h:g}" for n, h in res.real_opencv_h.items()) + "."
            if res.real_opencv_h else ""))
        lines.append("")

    lines += ["## Protocol", ""]
    lines += [
        "- PSNR: dB on the 0-255 scale against the clean 8-bit image, mean over images. "
        f"SSIM: {SSIM_NAME}, mean over images. Method outputs are clipped to [0, 255] first "
        "(float outputs are not rounded); input rows are scored as fed (the float-protocol noisy "
        "image is not clipped).",
        "- Denoising: noise = sigma/255 x one standard-normal field per image from "
        "`numpy.random.default_rng(seed + index)` (the same field at every sigma), added in float64 "
        "to the clean 8-bit image / 255. **float** protocol: the noisy image as is, not clipped "
        "(the published-table protocol); *restore*, BM3D and scikit-image get it as is "
        "(`Restorer` takes floats a little outside [0, 1]), OpenCV's 8-bit NLM gets it clipped and "
        "rounded (its float and uint8 results are the same). **uint8** protocol: round(clip(x + n)) "
        "to 8 bits, what a real photo holds; float methods get it / 255.",
        "- *restore (sigma given)* passes the true sigma to `Restorer.denoise(img, sigma=...)`; "
        "*restore (blind)* passes none; *self-ensemble x8* averages the 8 flips and rotations "
        "(`Restorer(self_ensemble=True)`, blind). BM3D: `bm3d.bm3d_rgb(noisy, sigma_psd=sigma/255)` "
        "(`bm3d.bm3d` for gray), default profile. scikit-image: `denoise_nl_means(h=0.8*s, "
        "sigma=s, fast_mode=True, patch_size=5, patch_distance=6, channel_axis=-1)`, s = sigma/255.",
        "- Real noise: 8-bit noisy/clean pairs (`real/CC15`: `*_real` / `*_mean`, `real/Nam25`: "
        "`*_noise` / `*_gt`; the clean image is the mean of many shots of the scene), given as "
        "they are. *told the true sigma*: the RMS of noisy - clean (0-255) goes to "
        "`Restorer.denoise(sigma=...)`, BM3D's `sigma_psd` and scikit-image's sigma; OpenCV's h is "
        "tuned per set on all its pairs.",
        "- Inpainting: masks from `IrregularMasks(preset)` (LaMa thin/medium/thick at 512 px, "
        "scaled to the image) with `torch.Generator().manual_seed(seed + index)`; holes set to 0 "
        "in an 8-bit image; *restore* = `Restorer.inpaint(masked, mask)`; OpenCV `cv2.inpaint` "
        f"radius {INPAINT_RADIUS}; *push-pull* and *harmonic fill*: `restore.models.fill` "
        "(`pyramid_fill`, `harmonic_fill`), the classical fills that restore's network adds its "
        f"residual to (these weights: `hole_fill: {info.get('hole_fill', '?')}`). PSNR and SSIM "
        "over the whole image, hole PSNR over hole pixels (all channels).",
        "- s/MP: wall-clock seconds (`time.perf_counter` around the call) per megapixel, summed "
        "over the timed calls; each method first gets one untimed warm-up call on the first image.",
        f"- first-call MiB: extra resident memory of that warm-up call: {memory_method()}. It "
        "includes one-time allocations (thread pools, caches); model weights loaded before the call "
        "are not counted.",
    ]
    if res.skipped:
        lines += ["", "Skipped peers:", ""]
        lines += [f"- {LABELS.get(p, p)}: {why}" for p, why in res.skipped.items()]
    if notes:
        lines += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def write_plots(res: Results, rows: list[dict], out: Path) -> list[str]:
    """PNG plots; returns the file names, or raises ImportError without matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    if res.sigmas:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
        for ax, proto in zip(axes, ("float", "uint8")):
            methods = dict.fromkeys(r["method"] for r in rows if r["task"] == "denoise")
            for m in methods:
                ys = [next((r["psnr_db"] for r in rows if r["task"] == "denoise" and r["method"] == m
                            and r["protocol"] == proto and r["setting"] == f"{s:g}"), np.nan)
                      for s in res.sigmas]
                ax.plot(res.sigmas, ys, "o-" if m != "input" else "k--", label=LABELS.get(m, m))
            ax.set_title(f"denoising, {proto} protocol")
            ax.set_xlabel("sigma (0-255)")
            ax.grid(alpha=0.3)
        axes[0].set_ylabel("PSNR (dB)")
        axes[1].legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "denoise_psnr.png", dpi=110)
        plt.close(fig)
        written.append("denoise_psnr.png")
    if res.presets:
        methods = list(dict.fromkeys(r["method"] for r in rows if r["task"] == "inpaint"))
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        x = np.arange(len(res.presets))
        width = 0.8 / max(1, len(methods))
        for ax, key, title in zip(axes, ("psnr_db", "hole_psnr_db"), ("whole image", "inside holes")):
            for k, m in enumerate(methods):
                ys = [next((r[key] for r in rows if r["task"] == "inpaint" and r["method"] == m
                            and r["setting"] == p), np.nan) for p in res.presets]
                ax.bar(x + (k - (len(methods) - 1) / 2) * width, ys, width,
                       label=INPAINT_LABELS.get(m, LABELS.get(m, m)))
            ax.set_xticks(x, res.presets)
            ax.set_title(f"inpainting PSNR, {title}")
            ax.set_ylabel("PSNR (dB)")
            ax.grid(alpha=0.3, axis="y")
        axes[1].legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "inpaint_psnr.png", dpi=110)
        plt.close(fig)
        written.append("inpaint_psnr.png")
    return written


def _panel(image: np.ndarray, label: str, box: tuple[int, int, int]) -> np.ndarray:
    y, x, c = box
    crop = _as255(image, image.shape if image.ndim == 3 else (*image.shape, 1))
    crop = np.round(crop[y : y + c, x : x + c]).astype(np.uint8)
    if crop.shape[2] == 1:
        crop = np.repeat(crop, 3, axis=2)
    header = np.full((20, crop.shape[1], 3), 255, np.uint8)
    cv2.putText(header, label, (3, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([header, crop], 0)


def _strip(panels: list[np.ndarray]) -> np.ndarray:
    gap = np.full((panels[0].shape[0], 4, 3), 255, np.uint8)
    parts = []
    for p in panels:
        parts += [p, gap]
    return np.concatenate(parts[:-1], 1)


def _save_rgb(image: np.ndarray, path: Path) -> None:
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))


def write_crops(res: Results, out: Path, size: int = 192) -> list[str]:
    """Side-by-side crops of the first image; returns the file names."""
    written = []
    if "denoise" in res.examples:
        ex = res.examples["denoise"]
        h, w = ex["clean"].shape[:2]
        c = min(size, h, w)
        box = ((h - c) // 2, (w - c) // 2, c)
        order = [("noisy", f"noisy s{res.crop_sigma:g}"), ("bm3d", "BM3D"), ("restore", "restore"),
                 ("clean", "clean")]
        name = f"crops_denoise_s{res.crop_sigma:g}.png"
        _save_rgb(_strip([_panel(ex[k], label, box) for k, label in order if k in ex]), out / name)
        written.append(name)
    if "inpaint" in res.examples:
        ex = res.examples["inpaint"]
        mask = ex["mask"]
        h, w = mask.shape
        c = min(size, h, w)
        stride = max(1, c // 4)
        best, box = None, (0, 0, c)
        for y in list(range(0, h - c + 1, stride)) + [h - c]:
            for x in list(range(0, w - c + 1, stride)) + [w - c]:
                score = abs(mask[y : y + c, x : x + c].mean() - 0.3)  # some hole, mostly context
                if best is None or score < best:
                    best, box = score, (y, x, c)
        order = [("masked", f"masked ({res.crop_preset})"), ("opencv-telea", "Telea"),
                 ("restore", "restore"), ("clean", "clean")]
        name = f"crops_inpaint_{res.crop_preset}.png"
        _save_rgb(_strip([_panel(ex[k], label, box) for k, label in order if k in ex]), out / name)
        written.append(name)
    return written


def write_outputs(res: Results, out: str | Path, crop: int = 192) -> list[Path]:
    """Write results.md, results.csv, per_image.csv, plots and crops into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = summarise(res)
    write_csv(rows, out / "results.csv", SUMMARY_COLUMNS)
    per_image = [{**r, "psnr_db": r["psnr"], "hole_psnr_db": r["hole_psnr"]} for r in res.records]
    write_csv(per_image, out / "per_image.csv", PER_IMAGE_COLUMNS)
    files = ["results.csv", "per_image.csv"]
    notes = []
    try:
        plots = write_plots(res, rows, out)
        files += plots
        notes.append("Plots: " + ", ".join(f"`{p}`" for p in plots) + ".")
    except ImportError:
        notes.append("Plots skipped: matplotlib is not installed (`pip install matplotlib`, or the "
                     "project's `bench` extra).")
    crops = write_crops(res, out, crop)
    files += crops
    if crops:
        notes.append("Example crops of the first image (uint8 protocol for denoising): "
                     + ", ".join(f"`{c}`" for c in crops) + ".")
    (out / "results.md").write_text(markdown(res, rows, notes))
    files.insert(0, "results.md")
    return [out / f for f in files]


# --------------------------------------------------------------------------------------------------
# command line

def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def make_restorer(weights: str | None, device: str = "auto", precision: str = "auto", tile: int = 1024):
    """``(Restorer, description)`` for ``weights`` (None: the shipped model)."""
    from importlib import resources

    from restore import Restorer
    from restore.restorer import DEFAULT_WEIGHTS

    kwargs = dict(device=device, precision=precision, tile=tile)
    if weights is None:
        restorer = Restorer.from_pretrained(**kwargs)
        with resources.as_file(resources.files("restore") / "weights" / DEFAULT_WEIGHTS) as file:
            return restorer, f"shipped `{DEFAULT_WEIGHTS}` (sha256 {_sha256(Path(file))[:12]})"
    restorer = Restorer.from_checkpoint(weights, **kwargs)
    path = Path(weights)
    digest = f" (sha256 {_sha256(path)[:12]})" if path.is_file() else ""
    return restorer, f"`{weights}`{digest}"


def _versions() -> str:
    parts = [f"python {platform.python_version()}", f"torch {torch.__version__}",
             f"opencv {cv2.__version__}"]
    for mod in ("kornia", "bm3d", "skimage"):
        try:
            parts.append(f"{mod} {__import__(mod).__version__}")
        except (ImportError, AttributeError):
            pass
    return ", ".join(parts)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, default=None,
                        help="folder of clean images, searched recursively (default: "
                             "$RESTORE_DATA_DIR/CBSD68, else ../shared/data/CBSD68 next to the repository)")
    parser.add_argument("--weights", default=None,
                        help="export file, checkpoint or run folder (default: the shipped model)")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "benchmark",
                        help="output folder (default: runs/benchmark)")
    parser.add_argument("--sigmas", type=float, nargs="+", default=[15.0, 25.0, 50.0],
                        help="noise levels on the 0-255 scale (default: 15 25 50)")
    parser.add_argument("--presets", nargs="+", default=["thin", "medium", "thick"],
                        choices=["thin", "medium", "thick"],
                        help="LaMa mask presets (default: all three)")
    parser.add_argument("--tasks", nargs="+", default=["denoise", "inpaint", "real"],
                        choices=["denoise", "inpaint", "real"],
                        help="denoise: synthetic Gaussian noise on --images; inpaint: LaMa masks "
                             "on --images; real: the real noisy/clean pairs of --real-dir "
                             "(default: all three)")
    parser.add_argument("--real-dir", type=Path, default=None,
                        help="data folder holding real/CC15 and real/Nam25 (default: "
                             "$RESTORE_DATA_DIR, else ../shared/data)")
    parser.add_argument("--max-images", type=int, default=None,
                        help="only the first N images, sorted by path (default: all)")
    parser.add_argument("--peers", nargs="*", default=None, choices=PEERS,
                        help="comparison methods, restore-x8 (restore's 8-fold self-ensemble, 8x "
                             "slower) among them (default: all; missing packages are skipped with "
                             "a note; the flag alone: none)")
    parser.add_argument("--seed", type=int, default=0,
                        help="image i gets noise from default_rng(seed + i) and its mask from "
                             "torch.Generator().manual_seed(seed + i) (default: 0)")
    parser.add_argument("--device", default="auto", help="Restorer device (default: auto)")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "fp16", "bf16"],
                        help="Restorer precision (default: auto = fp16 on CUDA, bf16 on CPU)")
    parser.add_argument("--tile", type=int, default=1024, help="Restorer tile size (default: 1024)")
    parser.add_argument("--threads", type=int, default=None,
                        help="set torch and OpenCV thread counts (default: leave them as they are)")
    parser.add_argument("--opencv-h", type=float, default=None,
                        help="OpenCV NLM h as a multiple of sigma (default: tuned per sigma over "
                             f"{', '.join(map(str, OPENCV_H_FACTORS))} on the first "
                             f"{OPENCV_TUNE_IMAGES} images)")
    parser.add_argument("--crop", type=int, default=192,
                        help="side of the example crops in pixels (default: 192)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
        cv2.setNumThreads(args.threads)
    images = args.images or default_images_dir()
    synthetic = bool(set(args.tasks) & {"denoise", "inpaint"})
    if synthetic and not images.is_dir():
        print(f"error: image folder {images} not found (pass --images DIR or set RESTORE_DATA_DIR)",
              file=sys.stderr)
        return 2
    from restore.data import list_images

    available = len(list_images(images)) if synthetic else 0
    samples = load_images(images, args.max_images) if synthetic else []
    real = {}
    if "real" in args.tasks:
        root = args.real_dir or data_dir()
        for name, (folder, noisy_suffix, clean_suffix) in REAL_SETS.items():
            try:
                real[name] = load_real_pairs(root / folder, noisy_suffix, clean_suffix, args.max_images)
            except (FileNotFoundError, ValueError) as err:
                print(f"error: real pairs {name}: {err} (pass --real-dir DIR, or leave out "
                      "--tasks real)", file=sys.stderr)
                return 2
    try:
        restorer, weights = make_restorer(args.weights, args.device, args.precision, args.tile)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: cannot load weights: {err}", file=sys.stderr)
        return 2
    log = (lambda s: None) if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    log(f"{len(samples)} image(s) from {images}; weights {weights}; device {restorer.device}")
    start = time.perf_counter()
    res = run_benchmark(samples, restorer, sigmas=args.sigmas, presets=args.presets,
                        peers=args.peers, seed=args.seed, tasks=args.tasks, opencv_h=args.opencv_h,
                        real=real, log=log)
    dtype = restorer.autocast_dtype
    res.info.update(
        images=images, count=len(samples), available=available if available != len(samples) else None,
        seed=args.seed, weights=weights, date=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        device=restorer.device, hole_fill=restorer.net.hole_fill,
        precision=f"{args.precision} ({'fp32' if dtype is None else str(dtype).replace('torch.', '')})",
        versions=_versions(),
        opencv_h_rule=(f"h = {args.opencv_h:g} x sigma" if args.opencv_h is not None else
                       f"h = factor x sigma, factor in {list(OPENCV_H_FACTORS)} chosen per sigma for the "
                       f"best mean PSNR on the first {min(len(samples), OPENCV_TUNE_IMAGES)} benchmark "
                       "image(s), uint8 inputs: slightly favours OpenCV"))
    files = write_outputs(res, args.out, args.crop)
    log(f"done in {time.perf_counter() - start:.0f} s")
    for f in files:
        print(f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
