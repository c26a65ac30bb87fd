"""Pack what a lent GPU needs to train an experiment into the git-ignored folder ``.gpu``: its
photos (a copy of the data folder's layout, within a size budget) and the wheels of the packages
the GPU machine's image lacks (it has torch, lightning and opencv; nothing can be fetched there).

    python scripts/gpu_pack.py                       # experiment=photo_v3, 40 MiB of photos
    python scripts/gpu_pack.py --experiment photo_v3 --budget-mib 40 --no-wheels

The photos are the experiment's own (``data.root``, ``data.real_train``, ``data.real_val``), read
from ``paths.data_dir`` (``$RESTORE_DATA_DIR``, else ``../shared/data``) and copied as they are:
first the real pairs (every file of a pair), then the photo folders in a seeded order, until the
budget is full, so a run on the GPU sees the same pairs and a seeded subset of the photos. What
did not fit is listed in ``.gpu/data/PACKED.txt``; validation pairs outside the training pairs'
folders (Nam25) stay here, and ``.gpu/data/OVERRIDES`` tells the run to skip them.
``make gpu-train`` (``scripts/gpu_train.sh``) trains from the folder; the device tool carries
it (``carry: [".gpu"]``; the working tree and the carried folder travel together within 64 MiB:
about 15 MiB of tree, 7 of wheels, 40 of photos).
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
from pathlib import Path

from omegaconf import OmegaConf

from restore.io import list_images
from restore.training.config import compose_config

ROOT = Path(__file__).resolve().parents[1]
PACK = ROOT / ".gpu"
# What the GPU image lacks, at the versions this project is tested with (Python 3.12 there).
WHEELS = ["hydra-core==1.3.8", "omegaconf==2.3.1", "kornia==0.9.0", "kornia_rs==0.2.0"]
SDISTS = ["antlr4-python3-runtime==4.9.3"]  # hydra's parser: pure Python, no wheel published
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"]


def experiment_folders(
    experiment: str, overrides: list[str]
) -> tuple[Path, list[Path], list[Path], list[str]]:
    """``(data_dir, pair folders, photo folders, validation sets left out)`` of the experiment:
    the validation pairs travel only where the training pairs' folder holds them (the others are
    validated on here, after the run)."""
    cfg = compose_config([f"experiment={experiment}", *overrides])
    data = OmegaConf.to_container(cfg.data, resolve=True)
    roots = data.get("root") or []
    photos = [Path(r) for r in ([roots] if isinstance(roots, str) else roots)]
    pairs = list(dict.fromkeys(Path(v["root"]) for v in (data.get("real_train") or {}).values()))
    val = data.get("real_val") or {}
    dropped = [name for name, v in val.items() if Path(v["root"]) not in pairs]
    return Path(cfg.paths.data_dir), pairs, photos, dropped


def pack_photos(data_dir: Path, pairs: list[Path], photos: list[Path], out: Path, budget: int,
                seed: int = 0) -> tuple[int, list[Path]]:  # fmt: skip
    """Copy the pair folders whole, then photos in a seeded order while they fit in ``budget``
    bytes; returns the bytes copied and the files left out."""
    files = [f for folder in pairs for f in list_images(folder)]
    rest = [f for folder in photos for f in list_images(folder)]
    random.Random(seed).shuffle(rest)
    used, left = 0, []
    for index, f in enumerate(files + rest):
        size = f.stat().st_size
        if used + size > budget:
            if index < len(files):
                raise SystemExit(f"{f}: the real pairs alone exceed the budget of {budget} bytes")
            left.append(f)
            continue
        target = out / f.relative_to(data_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, target)
        used += size
    return used, left


def fetch_wheels(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    pip = [sys.executable, "-m", "pip"]
    subprocess.run([*pip, "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version",
                    "3.12", "--implementation", "cp", *platforms, "-d", str(out), *WHEELS],
                   check=True)  # fmt: skip
    subprocess.run([*pip, "wheel", "-q", "--no-deps", "-w", str(out), *SDISTS], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--experiment", default="photo_v3")
    parser.add_argument("--budget-mib", type=float, default=40.0, help="photos, MiB (default 40)")
    parser.add_argument("--out", type=Path, default=PACK, help="default: .gpu in the repository")
    parser.add_argument("--no-wheels", action="store_true", help="the photos only")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. paths.data_dir=DIR")
    args = parser.parse_args()
    data_dir, pairs, photos, dropped = experiment_folders(args.experiment, args.overrides)
    missing = [p for p in pairs + photos if not p.is_dir()]
    if missing:
        raise SystemExit(f"{missing[0]}: no such folder (set RESTORE_DATA_DIR or paths.data_dir)")
    data_out = args.out / "data"
    shutil.rmtree(data_out, ignore_errors=True)
    used, left = pack_photos(data_dir, pairs, photos, data_out, int(args.budget_mib * 2**20))
    (data_out / "PACKED.txt").write_text(
        f"experiment={args.experiment}, {used / 2**20:.1f} MiB; left out ({len(left)}):\n"
        + "".join(f"{f.relative_to(data_dir)}\n" for f in left)
    )
    # what scripts/gpu_train.sh adds to the run's overrides
    (data_out / "OVERRIDES").write_text(
        " ".join(
            [f"experiment={args.experiment}", *args.overrides]
            + [f"~data.real_val.{name}" for name in dropped]
        )  # fmt: skip
    )
    print(f"photos: {used / 2**20:.1f} MiB in {data_out} ({len(left)} left out, PACKED.txt)")
    if not args.no_wheels:
        fetch_wheels(args.out / "wheels")
        print(f"wheels: {args.out / 'wheels'}")


if __name__ == "__main__":
    main()
