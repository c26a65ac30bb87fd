"""``restore-calibrate``: fit a model's post-hoc calibration on the validation split that a
training config names (its held-out photos and its real validation pairs), and write the
calibrated weights: the uncertainty head's calibration and the damage head's threshold.

    restore-calibrate runs/photo_v2/<run> calibrated.pt                 # experiment=photo_v2
    restore-calibrate model.pt calibrated.pt --config experiment=photo data.max_val_images=8
    restore-calibrate model.pt calibrated.pt --fit damage --config experiment=photo_heads

The split is the one ``restore-train`` holds out with the same config (its ``data`` group: folders,
``val_fraction``, ``max_val_images``, ``split_seed``, and the ``real_val`` pairs), so no test image
and no training image is used. Both fits are :mod:`restore.training.calibration`'s
(:func:`~restore.training.calibration.fit_calibration`, the uncertainty;
:func:`~restore.training.calibration.fit_damage_threshold`, the damage threshold). The weights are
written in float16, as the shipped models are.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def validation_split(overrides: Sequence[str]) -> tuple[list[Path], dict]:
    """The validation photos and real validation pairs (``{set name: [(noisy, clean)]}``,
    ``(1, C, H, W)`` 0-1 tensors) of the training config composed with ``overrides``."""
    from hydra.utils import instantiate

    from restore.data import PairedImages
    from restore.training.config import compose_config

    cfg = compose_config(overrides)
    data = instantiate(cfg.data, cache=False, real_val=None, real_train=None)
    data.build_datasets()
    pairs = {}
    for name, spec in (cfg.data.get("real_val") or {}).items():
        items = PairedImages(name=name, channels=data.channels, **spec)
        pairs[name] = [(item["noisy"][None], item["clean"][None]) for item in items]
    return list(data.val_files), pairs


def main(argv: Sequence[str] | None = None) -> int:
    from restore.models.heads import HEADS

    fittable = [key for key, part in HEADS.items() if part.calibrated]  # what can be fitted
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
    parser.add_argument(
        "--fit",
        nargs="+",
        choices=fittable,
        help="what to fit: the uncertainty head's calibration, the damage head's threshold "
        "(default: each the model has a head for; the rest is kept as it is)",
    )
    args = parser.parse_args(argv)

    import torch

    from restore.models.heads import has_head, require_head
    from restore.models.weights import export_weights, load_model
    from restore.restorer import Restorer
    from restore.training.calibration import fit_calibration, fit_damage_threshold

    try:
        net, source = load_model(args.weights)
        net = net.float()
        heads = [head for head in fittable if has_head(net, head)]
        fits = args.fit or heads or fittable[:1]  # a model with neither head: name what it lacks
        for head in fits:
            require_head(net, head, source, f"restore-calibrate --fit {head}")
        files, pairs = validation_split(args.config)
    except (OSError, ValueError) as err:
        print(f"restore-calibrate: error: {err}", file=sys.stderr)
        return 2
    if "uncertainty" in fits:
        net.calibration, count = fit_calibration(net, files, args.seed, pairs)
        print(
            f"uncertainty calibration {net.calibration} fitted on {len(files)} validation photos"
            f" and {sum(map(len, pairs.values()))} real validation pairs ({count} values)"
        )
    if "damage" in fits:
        restorer = Restorer(net, device="cpu", precision="fp32", source=source)
        try:
            net.damage_threshold, scores = fit_damage_threshold(restorer, files, args.seed)
        except ValueError as err:
            print(f"restore-calibrate: error: {err}", file=sys.stderr)
            return 2
        print(
            f"damage threshold {net.damage_threshold:.2f} fitted on {len(files)} validation"
            " photos with damage; repair PSNR (dB) at each threshold: "
            + ", ".join(f"{t:.2f}: {v:.2f}" for t, v in scores.items())
        )
    export_weights(net, args.out, dtype=torch.float16)
    print(f"wrote {args.out}")
    return 0


def main_exit() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    main_exit()
