"""Speed and peak memory of `Restorer` on one large synthetic photo (default 24 megapixels).

    python scripts/bench_restorer.py --megapixels 24 --tile 1024
Prints megapixels per second and the process's peak resident memory (ru_maxrss).
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch

from restore import Restorer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megapixels", type=float, default=24.0)
    parser.add_argument("--tile", type=int, default=1024)
    parser.add_argument("--weights", help="weights file (default: the shipped model)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--task", choices=["denoise", "inpaint"], default="denoise")
    args = parser.parse_args()

    kwargs = dict(device=args.device, tile=args.tile, precision=args.precision)
    restorer = Restorer.from_checkpoint(args.weights, **kwargs) if args.weights else \
        Restorer.from_pretrained(**kwargs)
    width = int((args.megapixels * 1e6 * 3 / 2) ** 0.5)
    height = int(width * 2 / 3)
    rng = np.random.default_rng(0)
    # A smooth photo stand-in with sigma-25 noise, built in row blocks straight into uint8 (like a
    # decoded JPEG) so that the benchmark itself adds little memory.
    image = np.empty((height, width, 3), np.uint8)
    x = np.arange(width, dtype=np.float32)
    for top in range(0, height, 256):
        y = np.arange(top, min(top + 256, height), dtype=np.float32)[:, None, None]
        block = 0.5 + 0.25 * np.sin(x / 97.0)[None, :, None] * np.cos(y / 61.0)
        block = block + rng.normal(0, 25 / 255, (len(y), width, 3)).astype(np.float32)
        image[top : top + len(y)] = (np.clip(block, 0, 1) * 255 + 0.5).astype(np.uint8)
    mask = np.zeros((height, width), bool)
    mask[height // 3 : height // 2, width // 3 : width // 2] = True
    start_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    if args.task == "denoise":
        restorer.denoise(image)
    else:
        restorer.inpaint(image, mask)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    mp = width * height / 1e6
    print(f"{args.task} {width}x{height} ({mp:.1f} MP) on {restorer.device}, tile {args.tile}, "
          f"threads {torch.get_num_threads()}: {seconds:.1f} s = {mp / seconds:.2f} MP/s; "
          f"peak RSS {peak:.0f} MiB (before the call {start_rss:.0f} MiB)")


if __name__ == "__main__":
    main()
