"""Export a restore-train run (or checkpoint) as the package's default weights, in float16.

python scripts/export_default.py runs/cbsd432_continue/<timestamp>   # -> restore/weights/default.pt
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from restore.io.weights import export_weights, load_net

DEFAULT = Path(__file__).resolve().parents[1] / "restore" / "weights" / "default.pt"

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="run folder, checkpoint or export file")
    parser.add_argument("--out", type=Path, default=DEFAULT)
    args = parser.parse_args()
    path = export_weights(load_net(args.source), args.out, dtype=torch.float16)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
