"""``restore-calibrate``: fit the uncertainty head's calibration of a model on the validation
split that a training config names (its held-out photos and its real validation pairs), and write
the calibrated weights.

    restore-calibrate runs/photo_v2/<run> calibrated.pt                 # experiment=photo_v2
    restore-calibrate model.pt calibrated.pt --config experiment=photo data.max_val_images=8

The split is the one ``restore-train`` holds out with the same config (its ``data`` group: folders,
``val_fraction``, ``max_val_images``, ``split_seed``, and the ``real_val`` pairs), so no test image
and no training image is used. The fit is :func:`restore.training.calibration.fit_calibration`;
the weights are written in float16, as the shipped models are.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def validation_split(overrides: Sequence[str]) -> tuple[list[Path], dict]:
    """The validation photos and real validation pairs (``{set name: [(noisy, clean)]}``,
    ``(1, C, H, W)`` 0-1 tensors) of the training config composed with ``overrides``."""
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    from restore.data.datamodule import PairedImages
    from restore.training.config import config_dir

    with initialize_config_dir(config_dir(), version_base="1.3"):
        cfg = compose("train", overrides=list(overrides))
    data = instantiate(cfg.data, cache=False, real_val=None, real_train=None)
    data.build_datasets()
    pairs = {}
    for name, spec in (cfg.data.get("real_val") or {}).items():
        items = PairedImages(name=name, channels=data.channels, **spec)
        pairs[name] = [(item["noisy"][None], item["clean"][None]) for item in items]
    return list(data.val_files), pairs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="restore-calibrate", description=__doc__.splitlines()[0])
    parser.add_argument("weights", type=Path, help="weights file, checkpoint or run folder")
    parser.add_argument("out", type=Path, help="where to write the calibrated weights")
    parser.add_argument(
        "--config",
        nargs="+",
        default=["experiment=photo_v2"],
        metavar="OVERRIDE",
        help="Hydra overrides naming the training config whose split to use "
        "(default: experiment=photo_v2)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the fitting corruptions")
    args = parser.parse_args(argv)

    import torch

    from restore.models.weights import export_weights, load_net
    from restore.training.calibration import fit_calibration

    try:
        net = load_net(args.weights).float()
        if net.scale_head is None:
            raise ValueError(f"{args.weights}: this model has no uncertainty head")
        files, pairs = validation_split(args.config)
    except (OSError, ValueError) as err:
        print(f"restore-calibrate: error: {err}", file=sys.stderr)
        return 2
    net.calibration, count = fit_calibration(net, files, args.seed, pairs)
    export_weights(net, args.out, dtype=torch.float16)
    print(
        f"{net.calibration} fitted on {len(files)} validation photos and"
        f" {sum(map(len, pairs.values()))} real validation pairs ({count} values); wrote {args.out}"
    )
    return 0


def main_exit() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    main_exit()
