"""The benchmark's Markdown: the table helper, and ``markdown()`` pinned byte for byte on a small
synthetic run (the protocol text included)."""

from __future__ import annotations

import cv2
import pytest
import torch

from restore.bench import reports
from restore.bench.memory import Memory
from restore.bench.runner import Results

NAN = float("nan")


def _record(task, protocol, setting, method, image, k):
    """A record whose numbers depend on its place (k), some missing (NaN)."""
    return {
        "task": task,
        "protocol": protocol,
        "setting": setting,
        "method": method,
        "image": image,
        "psnr": 20.0 + 0.37 * k,
        "ssim": 0.5 + 0.0123 * k,
        "hole_psnr": 15.0 + 0.29 * k if task == "inpaint" else NAN,
        "hole_share": 0.1 + 0.003 * k if task == "inpaint" else NAN,
        "seconds": NAN if method in ("input", "masked") else 0.01 * (k + 1),
        "megapixels": 0.5,
    }


def synthetic_results(info: dict | None = None) -> Results:
    res = Results(
        sigmas=[15.0, 25.0],
        presets=["thin", "medium"],
        real_sets=["Nam25", "mine"],
        opencv_h={15.0: 10.5, 25.0: 17.5},
        real_opencv_h={"Nam25": 4.0, "mine": 6.0},
        skipped={"bm3d": "bm3d is not installed (`pip install bm3d`)"},
        memory={
            ("denoise", "restore"): Memory(123.4, False),
            ("denoise", "opencv-nlm"): Memory(5.0, True),
            ("inpaint", "opencv-telea"): Memory(None, False),
            ("inpaint", "restore"): Memory(7.6, False, lower_bound=True),
        },
        info=info
        if info is not None
        else {
            "images": "data/Kodak24",
            "count": 2,
            "available": 24,
            "seed": 0,
            "weights": "`model.pt` (sha256 0123456789ab)",
            "date": "2024-01-02",
            "device": "cpu",
            "precision": "fp32",
            "versions": "torch 2.0, numpy 1.26",
            "opencv_h_rule": "tuned on 2 images",
            "hole_fill": "pyramid",
        },
    )
    k = 0
    for image in ("a.png", "b.png"):
        for sigma in ("15", "25"):
            for protocol in ("float", "uint8"):
                for method in ("input", "restore", "opencv-nlm", "custom"):
                    if method == "opencv-nlm" and sigma == "25" and protocol == "float":
                        continue  # a missing cell
                    res.add(_record("denoise", protocol, sigma, method, image, k))
                    k += 1
        for preset in ("thin", "medium"):
            for method in ("masked", "restore", "opencv-telea"):
                if method == "opencv-telea" and preset == "medium":
                    continue
                res.add(_record("inpaint", "holes=0", preset, method, image, k))
                k += 1
        for name in ("Nam25", "mine"):
            for method in ("input", "restore-told", "bm3d"):
                res.add(_record("real", "uint8", name, method, image, k))
                k += 1
    return res


FULL = """# restore benchmark

Images: `data/Kodak24` (2 images, of 24); seed 0; weights: `model.pt` (sha256 0123456789ab); date 2024-01-02; device cpu, precision fp32; torch threads 3, OpenCV threads 2; torch 2.0, numpy 1.26

## Denoising (additive white Gaussian noise)

| method | float-protocol input | σ15 float PSNR | σ15 float SSIM | σ15 uint8 PSNR | σ15 uint8 SSIM | σ25 float PSNR | σ25 float SSIM | σ25 uint8 PSNR | σ25 uint8 SSIM | s/MP | first-call MiB |
|---|---|---|---|---|---|---|---|---|---|---|---|
| noisy input | as is (not clipped) | 24.81 | 0.6599 | 26.29 | 0.7091 | 27.77 | 0.7583 | 28.88 | 0.7952 | - | - |
| restore (sigma given) | as is (not clipped) | 25.18 | 0.6722 | 26.66 | 0.7214 | 28.14 | 0.7706 | 29.25 | 0.8075 | 0.42 | 123 |
| OpenCV fastNlMeans | clipped and rounded to uint8 (8-bit only), = the uint8 input | 25.55 | 0.6845 | 27.03 | 0.7337 | - | - | 29.62 | 0.8198 | 0.42 | <= 5 |
| custom |  | 25.92 | 0.6968 | 27.40 | 0.7460 | 28.51 | 0.7829 | 29.99 | 0.8321 | 0.45 | - |

OpenCV `fastNlMeansDenoisingColored` (template 7, search 21, h = hColor): σ15: h=10.5, σ25: h=17.5 (tuned on 2 images).

## Inpainting (LaMa irregular masks)

| method | thin PSNR | thin hole PSNR | thin SSIM | thin s/MP | medium PSNR | medium hole PSNR | medium SSIM | medium s/MP | first-call MiB |
|---|---|---|---|---|---|---|---|---|---|
| masked input (holes = 0) | 30.36 | 23.12 | 0.8444 | - | 31.47 | 23.99 | 0.8813 | - | - |
| restore | 30.73 | 23.41 | 0.8567 | 0.60 | 31.84 | 24.28 | 0.8936 | 0.66 | >= 8 |
| OpenCV inpaint Telea (r=5) | 31.10 | 23.70 | 0.8690 | 0.62 | - | - | - | - | n/a |

Mean hole share: thin 18.4%, medium 19.3%

## Real camera noise (noisy/clean pairs)

| method | Nam25 (validation) PSNR | Nam25 SSIM | mine PSNR | mine SSIM | s/MP |
|---|---|---|---|---|---|
| noisy input | 32.21 | 0.9059 | 33.32 | 0.9428 | - |
| restore (told the true sigma) | 32.58 | 0.9182 | 33.69 | 0.9551 | 0.73 |
| BM3D (bm3d, colour, default profile) | 32.95 | 0.9305 | 34.06 | 0.9674 | 0.75 |

Pairs: Nam25 2, mine 2. OpenCV h tuned per set over [1, 2, 3, 4, 5, 6, 7, 8, 10, 12]: Nam25 h=4, mine h=6.

## Protocol

- PSNR: dB on the 0-255 scale against the clean 8-bit image, mean over images. SSIM: kornia.metrics.ssim, 11x11 Gaussian window (sigma 1.5), valid region, channel mean, mean over images. Method outputs are clipped to [0, 255] first (float outputs are not rounded); input rows are scored as fed (the float-protocol noisy image is not clipped).
- Denoising: noise = sigma/255 x one standard-normal field per image from `numpy.random.default_rng(seed + index)` (the same field at every sigma), added in float64 to the clean 8-bit image / 255. **float** protocol: the noisy image as is, not clipped (the published-table protocol); *restore*, BM3D and scikit-image get it as is (`Restorer` takes floats a little outside [0, 1]), OpenCV's 8-bit NLM gets it clipped and rounded (its float and uint8 results are the same). **uint8** protocol: round(clip(x + n)) to 8 bits, what a real photo holds; float methods get it / 255.
- *restore (sigma given)* passes the true sigma to `Restorer.denoise(img, sigma=...)`; *restore (blind)* passes none; *self-ensemble x8* averages the 8 flips and rotations (`Restorer(self_ensemble=True)`, blind). BM3D: `bm3d.bm3d_rgb(noisy, sigma_psd=sigma/255)` (`bm3d.bm3d` for gray), default profile. scikit-image: `denoise_nl_means(h=0.8*s, sigma=s, fast_mode=True, patch_size=5, patch_distance=6, channel_axis=-1)`, s = sigma/255.
- Real noise: 8-bit noisy/clean pairs (`real/CC15`: `*_real` / `*_mean`, `real/Nam25`: `*_noise` / `*_gt`; the clean image is the mean of many shots of the scene; RENOIR-val: `real/RENOIR_T3i` 03, 04, 11, 15, `*_noisy` against the rounded mean of `*_clean` and `*_reference`), given as they are. CC15 is a test set (it chose nothing); Nam25 and RENOIR-val chose the shipped model's recipe and checkpoint (validation). *told the true sigma*: the RMS of noisy - clean (0-255) goes to `Restorer.denoise(sigma=...)`, BM3D's `sigma_psd` and scikit-image's sigma; OpenCV's h is tuned per set on all its pairs.
- Inpainting: masks from `IrregularMasks(preset)` (LaMa thin/medium/thick at 512 px, scaled to the image) with `torch.Generator().manual_seed(seed + index)`; holes set to 0 in an 8-bit image; *restore* = `Restorer.inpaint(masked, mask)`; OpenCV `cv2.inpaint` radius 5; *push-pull* and *harmonic fill*: `restore.models.fill` (`pyramid_fill`, `harmonic_fill`), the classical fills that restore's network adds its residual to (these weights: `hole_fill: pyramid`). PSNR and SSIM over the whole image, hole PSNR over hole pixels (all channels).
- s/MP: wall-clock seconds (`time.perf_counter` around the call) per megapixel, summed over the timed calls; each method first gets one untimed warm-up call on the first image.
- first-call MiB: extra resident memory of that warm-up call: MEMORY METHOD. It includes one-time allocations (thread pools, caches); model weights loaded before the call are not counted.

Skipped peers:

- BM3D (bm3d, colour, default profile): bm3d is not installed (`pip install bm3d`)

Notes:

- Plots: `a.png`.
- More.
"""  # noqa: E501

EMPTY = """# restore benchmark

seed ?; weights: ?; date ?; device ?, precision ?; torch threads 3, OpenCV threads 2; 

## Protocol

- PSNR: dB on the 0-255 scale against the clean 8-bit image, mean over images. SSIM: kornia.metrics.ssim, 11x11 Gaussian window (sigma 1.5), valid region, channel mean, mean over images. Method outputs are clipped to [0, 255] first (float outputs are not rounded); input rows are scored as fed (the float-protocol noisy image is not clipped).
- Denoising: noise = sigma/255 x one standard-normal field per image from `numpy.random.default_rng(seed + index)` (the same field at every sigma), added in float64 to the clean 8-bit image / 255. **float** protocol: the noisy image as is, not clipped (the published-table protocol); *restore*, BM3D and scikit-image get it as is (`Restorer` takes floats a little outside [0, 1]), OpenCV's 8-bit NLM gets it clipped and rounded (its float and uint8 results are the same). **uint8** protocol: round(clip(x + n)) to 8 bits, what a real photo holds; float methods get it / 255.
- *restore (sigma given)* passes the true sigma to `Restorer.denoise(img, sigma=...)`; *restore (blind)* passes none; *self-ensemble x8* averages the 8 flips and rotations (`Restorer(self_ensemble=True)`, blind). BM3D: `bm3d.bm3d_rgb(noisy, sigma_psd=sigma/255)` (`bm3d.bm3d` for gray), default profile. scikit-image: `denoise_nl_means(h=0.8*s, sigma=s, fast_mode=True, patch_size=5, patch_distance=6, channel_axis=-1)`, s = sigma/255.
- Real noise: 8-bit noisy/clean pairs (`real/CC15`: `*_real` / `*_mean`, `real/Nam25`: `*_noise` / `*_gt`; the clean image is the mean of many shots of the scene; RENOIR-val: `real/RENOIR_T3i` 03, 04, 11, 15, `*_noisy` against the rounded mean of `*_clean` and `*_reference`), given as they are. CC15 is a test set (it chose nothing); Nam25 and RENOIR-val chose the shipped model's recipe and checkpoint (validation). *told the true sigma*: the RMS of noisy - clean (0-255) goes to `Restorer.denoise(sigma=...)`, BM3D's `sigma_psd` and scikit-image's sigma; OpenCV's h is tuned per set on all its pairs.
- Inpainting: masks from `IrregularMasks(preset)` (LaMa thin/medium/thick at 512 px, scaled to the image) with `torch.Generator().manual_seed(seed + index)`; holes set to 0 in an 8-bit image; *restore* = `Restorer.inpaint(masked, mask)`; OpenCV `cv2.inpaint` radius 5; *push-pull* and *harmonic fill*: `restore.models.fill` (`pyramid_fill`, `harmonic_fill`), the classical fills that restore's network adds its residual to (these weights: `hole_fill: ?`). PSNR and SSIM over the whole image, hole PSNR over hole pixels (all channels).
- s/MP: wall-clock seconds (`time.perf_counter` around the call) per megapixel, summed over the timed calls; each method first gets one untimed warm-up call on the first image.
- first-call MiB: extra resident memory of that warm-up call: MEMORY METHOD. It includes one-time allocations (thread pools, caches); model weights loaded before the call are not counted.
"""  # noqa: E501, W291


@pytest.fixture
def fixed_machine(monkeypatch):
    """The header's thread counts and the memory method pinned."""
    monkeypatch.setattr(torch, "get_num_threads", lambda: 3)
    monkeypatch.setattr(cv2, "getNumThreads", lambda: 2)
    monkeypatch.setattr(reports, "memory_method", lambda: "MEMORY METHOD")


def test_markdown_of_a_full_run_is_unchanged(fixed_machine):
    res = synthetic_results()
    notes = ["Plots: `a.png`.", "More."]
    assert reports.markdown(res, reports.summarise(res), notes) == FULL


def test_markdown_of_an_empty_run_is_unchanged(fixed_machine):
    res = Results()
    assert reports.markdown(res, reports.summarise(res)) == EMPTY


def test_markdown_table_writes_header_rule_and_rows():
    table = reports.markdown_table(["method", "PSNR", "n"], [["a", "30.10", 2], ["b", "-", 3]])
    assert table == "| method | PSNR | n |\n|---|---|---|\n| a | 30.10 | 2 |\n| b | - | 3 |"
    assert reports.markdown_table(["x"], []) == "| x |\n|---|"


def test_markdown_table_escapes_pipes_and_aligns():
    table = reports.markdown_table(["|x|", "y", "z"], [["a|b", "", "c"]], align="lcr")
    assert table.splitlines() == [r"| \|x\| | y | z |", "|:---|:---:|---:|", r"| a\|b |  | c |"]
    assert reports.markdown_row(["a", 1.5]) == "| a | 1.5 |"


@pytest.mark.parametrize(
    ("rows", "align"), [([["a"]], None), ([["a", "b", "c"]], None), ([], "l"), ([], "lx")]
)
def test_markdown_table_refuses_a_malformed_table(rows, align):
    with pytest.raises(ValueError):
        reports.markdown_table(["x", "y"], rows, align=align)
