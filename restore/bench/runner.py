"""Running every method on every image of the benchmark."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from restore.bench.memory import Memory, measure_memory
from restore.bench.peers import (
    DEFAULT_PEERS,
    MEMORY_ORDER,
    OPENCV_TUNE_IMAGES,
    PEERS,
    denoisers,
    inpainters,
    peer_problem,
    real_denoisers,
    tune_opencv_h,
    tune_real_opencv_h,
)
from restore.bench.protocol import RealPair, Sample, as_255, hole_mask, noisy_pair, psnr, ssim


@dataclass
class Results:
    """Everything one ``restore-bench`` run measured, for :mod:`restore.bench.reports`.

    Attributes:
        records: one per image x task x protocol x setting x method.
        memory: the first-call memory per ``(task, method)``.
        opencv_h: OpenCV NL-means' h per sigma (tuned or by rule).
        skipped: peer -> why it did not run.
        examples: the first image's panels per task (for the crop figures).
        crop_sigma: the sigma of the denoising crop figure.
        crop_preset: the mask preset of the inpainting crop figure.
        sigmas: the denoising sigmas run.
        presets: the mask presets run.
        real_sets: the real pair sets run.
        real_opencv_h: OpenCV NL-means' h tuned per real set.
        info: the run's settings and versions (for the report's header).
        sink: told each record as it is made (a stopped run keeps them).
    """

    records: list[dict] = field(default_factory=list)
    memory: dict[tuple[str, str], Memory] = field(default_factory=dict)
    opencv_h: dict[float, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    examples: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    crop_sigma: float | None = None
    crop_preset: str | None = None
    sigmas: list[float] = field(default_factory=list)
    presets: list[str] = field(default_factory=list)
    real_sets: list[str] = field(default_factory=list)
    real_opencv_h: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    sink: Callable[[dict], None] | None = None

    def add(self, record: dict) -> None:
        """Keep a per-image record (and hand it to ``sink``: a stopped run keeps it)."""
        self.records.append(record)
        if self.sink is not None:
            self.sink(record)


def _timed(call: Callable[..., np.ndarray], *args: Any) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    out = call(*args)
    return out, time.perf_counter() - start


def _middle(values: Sequence, preferred) -> Any:
    return preferred if preferred in values else values[len(values) // 2]


def run_benchmark(
    samples: Sequence[Sample],
    restorer,
    *,
    sigmas: Sequence[float] = (15, 25, 50),
    presets: Sequence[str] = ("thin", "medium", "thick"),
    peers: Sequence[str] | None = None,
    seed: int = 0,
    tasks: Sequence[str] = ("denoise", "inpaint"),
    opencv_h: float | None = None,
    real: dict[str, list[RealPair]] | None = None,
    log: Callable[[str], None] = lambda s: None,
    res: Results | None = None,
) -> Results:
    """Run every method on every image; ``opencv_h`` None tunes OpenCV's h per sigma (see
    :func:`tune_opencv_h`), else h = ``opencv_h * sigma``. ``real`` (set name -> pairs) is
    scored when ``tasks`` has ``real``. ``res``: the results to fill (the caller keeps what was
    done if the run stops part way)."""
    if not samples and set(tasks) & {"denoise", "inpaint"}:
        raise ValueError("no images to benchmark")
    sigmas = [float(s) for s in sigmas]
    res = res if res is not None else Results()
    res.sigmas = sigmas if "denoise" in tasks else []
    res.presets = list(presets) if "inpaint" in tasks else []
    res.real_sets = list(real or {}) if "real" in tasks else []
    requested = list(DEFAULT_PEERS if peers is None else peers)
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
            res.memory[("inpaint", name)] = measure_memory(inp[name], warm_masked, warm_mask)
            log(f"warm-up inpaint {name}: first call +{res.memory[('inpaint', name)].text()} MiB")
        if name in den:
            res.memory[("denoise", name)] = measure_memory(den[name], warm_u8, sigmas[0])
            log(f"warm-up denoise {name}: first call +{res.memory[('denoise', name)].text()} MiB")

    def record(task, protocol, setting, method, sample, out, seconds, mask=None, clip=True):
        clean = sample.clean
        result = as_255(out, clean.shape, clip=clip)
        row = dict(
            task=task,
            protocol=protocol,
            setting=setting,
            method=method,
            image=sample.name,
            psnr=psnr(result, clean),
            ssim=ssim(result, clean),
            hole_psnr=psnr(result, clean, mask) if mask is not None else float("nan"),
            seconds=seconds,
            megapixels=sample.megapixels,
            hole_share=float(mask.mean()) if mask is not None else float("nan"),
        )
        res.add(row)
        return row

    n = len(samples)
    for index, sample in enumerate(samples):
        for sigma in sigmas if den else []:
            noisy_f, noisy_u8 = noisy_pair(sample, index, sigma, seed)
            for protocol, noisy in (("float", noisy_f), ("uint8", noisy_u8)):
                record(
                    "denoise",
                    protocol,
                    f"{sigma:g}",
                    "input",
                    sample,
                    noisy,
                    float("nan"),
                    clip=False,
                )
                keep = index == 0 and sigma == res.crop_sigma and protocol == "uint8"
                if keep:
                    res.examples["denoise"] = {"noisy": noisy_u8, "clean": sample.clean}
                for name, fn in den.items():
                    out, seconds = _timed(fn, noisy, sigma)
                    row = record("denoise", protocol, f"{sigma:g}", name, sample, out, seconds)
                    log(
                        f"[{index + 1}/{n}] {sample.name} denoise sigma {sigma:g} {protocol:5s} "
                        f"{name:13s} {row['psnr']:6.2f} dB  {seconds:7.2f} s"
                    )
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
                out, seconds = _timed(fn, masked, mask)
                row = record("inpaint", "holes=0", preset, name, sample, out, seconds, mask)
                log(
                    f"[{index + 1}/{n}] {sample.name} inpaint {preset:6s} {name:13s} "
                    f"{row['psnr']:6.2f} dB (hole {row['hole_psnr']:6.2f})  {seconds:7.2f} s"
                )
                if keep:
                    res.examples["inpaint"][name] = out
    return res


def run_real(
    res: Results,
    real: dict[str, list[RealPair]],
    restorer,
    peers: Sequence[str],
    log: Callable[[str], None],
) -> None:
    """Score every real-noise method on every pair of every set into ``res``."""
    methods = real_denoisers(restorer, peers)
    first = next(iter(real.values()))[0]
    for fn in methods.values():  # warm-up, untimed
        fn(first.noisy, first.sigma, 3.0)
    for set_name, pairs in real.items():
        if "opencv-nlm" in methods:
            log(f"tuning OpenCV NLM h on the {len(pairs)} pairs of {set_name}")
            res.real_opencv_h[set_name] = tune_real_opencv_h(pairs)
        h = res.real_opencv_h.get(set_name, 3.0)
        for index, pair in enumerate(pairs):
            rows = [("input", pair.noisy, float("nan"))]
            for name, fn in methods.items():
                out, seconds = _timed(fn, pair.noisy, pair.sigma, h)
                rows.append((name, out, seconds))
            for name, out, seconds in rows:
                result = as_255(out, pair.clean.shape)
                res.add(
                    dict(
                        task="real",
                        protocol="uint8",
                        setting=set_name,
                        method=name,
                        image=pair.name,
                        psnr=psnr(result, pair.clean),
                        ssim=ssim(result, pair.clean),
                        hole_psnr=float("nan"),
                        seconds=seconds,
                        megapixels=pair.megapixels,
                        hole_share=float("nan"),
                    )
                )
                log(
                    f"[{index + 1}/{len(pairs)}] {set_name} {pair.name} {name:13s} "
                    f"{res.records[-1]['psnr']:6.2f} dB  {seconds:7.2f} s"
                )
            if index == 0:
                res.examples[f"real_{set_name}"] = {
                    "noisy": pair.noisy,
                    "clean": pair.clean,
                    **{n: o for n, o, _ in rows},
                }
