"""Write a restore-train run (or checkpoint) as one of the package's shipped models, in float16.

python scripts/ship_model.py runs/photo/<timestamp>            # -> restore/shipped/photo.pt
python scripts/ship_model.py runs/cbsd432_continue/<t> --model gaussian
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from restore.models.weights import export_weights, load_net
from restore.shipped import DEFAULT_MODEL, SHIPPED_MODELS

FOLDER = Path(__file__).resolve().parents[1] / "restore" / "shipped"

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="run folder, checkpoint or export file")
    parser.add_argument("--model", default=DEFAULT_MODEL, choices=list(SHIPPED_MODELS))
    args = parser.parse_args()
    out = FOLDER / SHIPPED_MODELS[args.model]
    path = export_weights(load_net(args.source), out, dtype=torch.float16)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
