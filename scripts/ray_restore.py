"""Restore a folder of images with Ray Data: read, restore on every worker, write.

    pip install -e '.[ray]'
    python scripts/ray_restore.py photos/ restored/ --workers 2            # local, 2 CPU workers
    python scripts/ray_restore.py s3://bucket/in s3://bucket/out --gpus-per-worker 1 --address auto

Ray reads the images (``ray.data.read_images``), :class:`restore.ray_data.RayRestorer` restores
each batch (the model loads once per worker) and ``write_images`` writes PNGs named by Ray. For
a local folder where names and subfolders must be kept, ``restore-image --devices N`` does that.
"""

from __future__ import annotations

import argparse

import ray

from restore.ray_data import TASKS, RayRestorer

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="folder (or URI) of images")
    parser.add_argument("destination", help="folder (or URI) for the restored PNGs")
    parser.add_argument("--task", choices=[t for t in TASKS if t in ("denoise", "repair")],
                        default="denoise")  # fmt: skip
    parser.add_argument("--model", help="shipped model name (default photo)")
    parser.add_argument("--weights", help="weights file")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cpus-per-worker", type=float, default=1)
    parser.add_argument("--gpus-per-worker", type=float, default=0)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--address", help="Ray cluster address (default: a local Ray)")
    args = parser.parse_args()

    ray.init(address=args.address)
    ds = ray.data.read_images(args.source, mode="RGB")
    ds = ds.map_batches(
        RayRestorer,
        fn_constructor_kwargs=dict(weights=args.weights, model=args.model, task=args.task),
        batch_size=args.batch_size,
        concurrency=args.workers,
        num_cpus=args.cpus_per_worker,
        num_gpus=args.gpus_per_worker,
    )
    ds.write_images(args.destination, column="image", file_format="png")
    print(f"restored {args.source} -> {args.destination}")
