"""``restore-bench speed``: megapixels per second and peak memory of ``Restorer`` on one large
synthetic photo (default 24 megapixels), and the classical peers' time on the same photo in the
same run (default OpenCV NL-means for denoising, OpenCV Telea for inpainting).

    restore-bench speed --megapixels 24 [--tile 768] [--task inpaint] [--peers opencv-nlm bm3d]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import numpy as np
import torch

from restore.bench.memory import measure_memory, memory_method, proc_status_mib
from restore.bench.peers import (
    DENOISE_PEERS,
    INPAINT_PEERS,
    LABELS,
    PEERS,
    denoisers,
    inpainters,
    peer_problem,
)
from restore.options import BACKEND_HELP, BACKENDS
from restore.shipped import add_model_options
from restore.tiling import tile_description


def synthetic_photo(megapixels: float, seed: int = 0) -> np.ndarray:
    """A smooth 3:2 photo stand-in with sigma-25 noise, uint8, built in row blocks (little
    memory)."""
    width = int((megapixels * 1e6 * 3 / 2) ** 0.5)
    height = int(width * 2 / 3)
    rng = np.random.default_rng(seed)
    image = np.empty((height, width, 3), np.uint8)
    x = np.arange(width, dtype=np.float32)
    for top in range(0, height, 256):
        y = np.arange(top, min(top + 256, height), dtype=np.float32)[:, None, None]
        block = 0.5 + 0.25 * np.sin(x / 97.0)[None, :, None] * np.cos(y / 61.0)
        block = block + rng.normal(0, 25 / 255, (len(y), width, 3)).astype(np.float32)
        image[top : top + len(y)] = (np.clip(block, 0, 1) * 255 + 0.5).astype(np.uint8)
    return image


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="restore-bench speed", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--megapixels", type=float, default=24.0)
    parser.add_argument("--tile", type=int, help="tile size (default: Restorer's)")
    add_model_options(parser)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "fp16", "bf16"])
    parser.add_argument("--backend", default="auto", choices=BACKENDS, help=BACKEND_HELP)
    parser.add_argument("--task", choices=["denoise", "inpaint"], default="denoise")
    classical = [p for p in PEERS if p != "restore-x8"]
    parser.add_argument(
        "--peers",
        nargs="*",
        choices=classical,
        help="classical methods timed on the same photo after restore (default: opencv-nlm for "
        "denoise, opencv-telea for inpaint; none: --peers with no name)",
    )
    args = parser.parse_args(argv)
    task_peers = DENOISE_PEERS if args.task == "denoise" else INPAINT_PEERS
    if args.peers is None:
        args.peers = ["opencv-nlm" if args.task == "denoise" else "opencv-telea"]
    wrong = [p for p in args.peers if p not in task_peers]
    if wrong:
        parser.error(f"--peers {' '.join(wrong)}: not a method for --task {args.task}")

    from restore.bench.common import load_restorer

    loaded = load_restorer(
        args, device=args.device, precision=args.precision, tile=args.tile, backend=args.backend
    )
    if loaded is None:
        return 2
    restorer = loaded[0]
    compile_note = ""
    if restorer.backend != "torch":  # its graph compiles (or loads from the cache) at first use
        start = time.perf_counter()
        restorer.denoise(synthetic_photo(0.01))
        compile_note = f" (compiled or loaded in {time.perf_counter() - start:.1f} s before)"
    image = synthetic_photo(args.megapixels)
    height, width = image.shape[:2]
    mask = np.zeros((height, width), bool)
    mask[height // 3 : height // 2, width // 3 : width // 2] = True
    before = proc_status_mib("VmRSS")
    seconds = []

    def call() -> None:
        start = time.perf_counter()
        if args.task == "denoise":
            restorer.denoise(image)
        else:
            restorer.inpaint(image, mask)
        seconds.append(time.perf_counter() - start)

    extra = measure_memory(call)
    mp = width * height / 1e6
    print(
        f"{args.task} {width}x{height} ({mp:.1f} MP) on {restorer.device} with "
        f"{restorer.backend}{compile_note}, "
        f"tile {tile_description(restorer.tile, restorer.tile_overlap)}, "
        f"threads {torch.get_num_threads()}: {seconds[0]:.1f} s = {mp / seconds[0]:.2f} MP/s; "
        f"the call added {extra.text()} MiB of resident memory"
        + (f" to {before:.0f} MiB before it" if before is not None else "")
        + f" ({memory_method()})"
    )
    for name in args.peers:
        problem = peer_problem(name)
        if problem is not None:
            print(f"skipped {LABELS[name]}: {problem}")
            continue
        took = time_peer(name, restorer, image, mask)
        print(
            f"{LABELS[name]}, same photo: {took:.1f} s = {mp / took:.2f} MP/s "
            f"(restore took {seconds[0] / took:.2f}x its time)"
        )
    return 0


def time_peer(name: str, restorer, image: np.ndarray, mask: np.ndarray) -> float:
    """Seconds that classical method ``name`` of :mod:`restore.bench.peers` takes on ``image``
    (denoisers at sigma 25, the photo's noise; OpenCV NL-means with h = 25; inpainters on
    ``mask``)."""
    if name in DENOISE_PEERS:
        method = denoisers(restorer, [name], {25.0: 25.0})[name]
        start = time.perf_counter()
        method(image, 25.0)
    else:
        method = inpainters(restorer, [name])[name]
        start = time.perf_counter()
        method(image, mask)
    return time.perf_counter() - start
