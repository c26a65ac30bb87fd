"""The quality benchmark of ``restore-bench`` (tables of PSNR, SSIM and s/MP against peers);
usage and outputs in :data:`restore.bench.common.USAGE`. The protocol is in
:mod:`restore.bench.protocol` and in each results.md."""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import cv2
import torch

from restore.bench.common import USAGE, load_restorer
from restore.bench.peers import OPENCV_H_FACTORS, OPENCV_TUNE_IMAGES, PEERS
from restore.bench.protocol import (
    REAL_SETS,
    data_dir,
    default_images_dir,
    load_images,
    load_real_pairs,
)
from restore.bench.reports import PerImageLog, write_outputs
from restore.bench.runner import Results, run_benchmark
from restore.options import BACKEND_HELP, BACKENDS
from restore.shipped import add_model_options


def _versions() -> str:
    parts = [
        f"python {platform.python_version()}",
        f"torch {torch.__version__}",
        f"opencv {cv2.__version__}",
    ]
    for mod in ("kornia", "bm3d", "skimage"):
        try:
            parts.append(f"{mod} {__import__(mod).__version__}")
        except (ImportError, AttributeError):
            pass
    return ", ".join(parts)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="restore-bench",
        description=USAGE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--images",
        type=Path,
        default=None,
        help="folder of clean images, searched recursively (default: "
        "$RESTORE_DATA_DIR/CBSD68, else ../shared/data/CBSD68)",
    )
    add_model_options(parser)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("runs") / "benchmark",
        help="output folder (default: runs/benchmark)",
    )
    parser.add_argument(
        "--sigmas",
        type=float,
        nargs="+",
        default=[15.0, 25.0, 50.0],
        help="noise levels on the 0-255 scale (default: 15 25 50)",
    )
    parser.add_argument(
        "--presets",
        nargs="+",
        default=["thin", "medium", "thick"],
        choices=["thin", "medium", "thick"],
        help="LaMa mask presets (default: all three)",
    )
    parser.add_argument(
        "--tasks",
        nargs="+",
        choices=["denoise", "inpaint", "real"],
        help="denoise: synthetic Gaussian noise on --images; inpaint: LaMa masks "
        "on --images; real: the real noisy/clean pairs of --real-dir "
        "(default: all three, real only when its folders are there)",
    )
    parser.add_argument(
        "--real-dir",
        type=Path,
        default=None,
        help="data folder holding real/CC15 and real/Nam25 (default: "
        "$RESTORE_DATA_DIR, else ../shared/data)",
    )
    parser.add_argument(
        "--max-images",
        type=int,
        default=None,
        help="only the first N images, sorted by path (default: all)",
    )
    parser.add_argument(
        "--peers",
        nargs="*",
        default=None,
        choices=PEERS,
        help="comparison methods (default: the fast ones, all but bm3d and restore-x8, "
        "restore's 8-fold self-ensemble; missing packages are skipped with a note; the flag "
        "alone: none)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="image i gets noise from default_rng(seed + i) and its mask from "
        "torch.Generator().manual_seed(seed + i) (default: 0)",
    )
    parser.add_argument("--device", default="auto", help="Restorer device (default: auto)")
    parser.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "fp16", "bf16"],
        help="Restorer precision (default: auto = fp16 on CUDA, bf16 on CPU)",
    )
    parser.add_argument("--tile", type=int, help="Restorer tile size (default: Restorer's)")
    parser.add_argument("--backend", default="auto", choices=BACKENDS, help=BACKEND_HELP)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="set torch and OpenCV thread counts (default: leave them as they are)",
    )
    parser.add_argument(
        "--opencv-h",
        type=float,
        default=None,
        help="OpenCV NLM h as a multiple of sigma (default: tuned per sigma over "
        f"{', '.join(map(str, OPENCV_H_FACTORS))} on the first "
        f"{OPENCV_TUNE_IMAGES} images)",
    )
    parser.add_argument(
        "--crop", type=int, default=192, help="side of the example crops in pixels (default: 192)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """The quality benchmark; returns the exit status."""
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
        cv2.setNumThreads(args.threads)
    images = args.images or default_images_dir()
    real_root = args.real_dir or data_dir()
    if args.tasks is None:
        args.tasks = ["denoise", "inpaint"]
        folders = [real_root / spec.folder for spec in REAL_SETS.values()]
        if all(folder.is_dir() for folder in folders):
            args.tasks.append("real")
        elif not args.quiet:
            note = f"note: no real pairs under {real_root}: real-noise rows left out"
            print(note, file=sys.stderr)
    synthetic = bool(set(args.tasks) & {"denoise", "inpaint"})
    if synthetic and not images.is_dir():
        print(
            f"error: image folder {images} not found (pass --images DIR or set RESTORE_DATA_DIR)",
            file=sys.stderr,
        )
        return 2
    from restore.io import list_images

    available = len(list_images(images)) if synthetic else 0
    samples = load_images(images, args.max_images) if synthetic else []
    real = {}
    if "real" in args.tasks:
        for name, spec in REAL_SETS.items():
            try:
                real[name] = load_real_pairs(real_root, spec, args.max_images)
            except (FileNotFoundError, ValueError) as err:
                print(
                    f"error: real pairs {name}: {err} (pass --real-dir DIR, or leave out "
                    "--tasks real)",
                    file=sys.stderr,
                )
                return 2
    loaded = load_restorer(
        args, device=args.device, precision=args.precision, tile=args.tile, backend=args.backend
    )
    if loaded is None:
        return 2
    restorer, weights = loaded
    log = (lambda s: None) if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    log(
        f"{len(samples)} image(s) from {images}; weights {weights}; device {restorer.device}, "
        f"backend {restorer.backend}"
    )
    start = time.perf_counter()
    res, stopped = Results(), False
    with PerImageLog(args.out) as per_image:
        res.sink = per_image.write
        try:
            run_benchmark(
                samples,
                restorer,
                sigmas=args.sigmas,
                presets=args.presets,
                peers=args.peers,
                seed=args.seed,
                tasks=args.tasks,
                opencv_h=args.opencv_h,
                real=real,
                log=log,
                res=res,
            )
        except KeyboardInterrupt:
            stopped = True
            print("restore-bench: interrupted; the tables hold what was done", file=sys.stderr)
    dtype = restorer.autocast_dtype
    res.info.update(
        images=images,
        count=len(samples),
        available=available if available != len(samples) else None,
        seed=args.seed,
        weights=weights,
        date=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        device=restorer.device,
        hole_fill=restorer.net.hole_fill,
        precision=f"{args.precision} ({str(dtype).replace('torch.', '') if dtype else 'fp32'})",
        versions=_versions(),
        opencv_h_rule=(
            f"h = {args.opencv_h:g} x sigma"
            if args.opencv_h is not None
            else f"h = factor x sigma, factor in {list(OPENCV_H_FACTORS)} chosen per sigma for the "
            f"best mean PSNR on the first {min(len(samples), OPENCV_TUNE_IMAGES)} benchmark "
            "image(s), uint8 inputs: slightly favours OpenCV"
        ),
    )
    files = write_outputs(res, args.out, args.crop)
    log(f"done in {time.perf_counter() - start:.0f} s")
    for f in files:
        print(f)
    return 130 if stopped else 0
