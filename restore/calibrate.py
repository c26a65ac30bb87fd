"""``restore-calibrate``: fit a model's post-hoc calibration on the validation split that a
training config names (its held-out photos and its real validation pairs), and write the
calibrated weights: the uncertainty head's calibration and the damage head's threshold.

    restore-calibrate runs/photo_v2/<run> calibrated.pt                 # experiment=photo_v2
    restore-calibrate model.pt calibrated.pt --config experiment=photo data.max_val_images=8
    restore-calibrate model.pt calibrated.pt --fit damage --config experiment=photo_heads

The split is the one ``restore-train`` holds out with the same config (its ``data`` group: folders,
``val_fraction``, ``max_val_images``, ``split_seed``, and the ``real_val`` pairs), so no test image
and no training image is used. The uncertainty fit is
:func:`restore.training.calibration.fit_calibration`; the damage threshold is
:func:`fit_damage_threshold`'s. The weights are written in float16, as the shipped models are.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

DAMAGE_THRESHOLDS = tuple(round(0.5 + 0.05 * k, 2) for k in range(10))  # 0.5-0.95
FITS = ("uncertainty", "damage")  # what can be fitted: heads, as restore.restorer.HEADS names them


def fit_damage_threshold(
    restorer, files: Sequence[Path], seed: int = 0, crop: int = 512
) -> tuple[float, dict[float, float]]:
    """The threshold of :data:`DAMAGE_THRESHOLDS` at which ``restorer.repair`` (its other
    settings at their defaults) restores damaged validation photos best. Each photo (its centre
    ``crop`` x ``crop`` pixels at most) gets the training routine's damage
    (:func:`restore.corruption.damaged_photo`, ``mixed``: the kinds a repair fills, seed
    ``seed + i``), and the repair's PSNR against the undamaged photo (0-255 scale, whole photo)
    is averaged over the photos at each threshold: too low a threshold repaints undamaged
    pixels (the fill of texture and edges costs more than a faint scratch), too high a one
    leaves damage. Returns the best threshold and the mean PSNR at each."""
    import torch

    from restore.corruption import damaged_photo
    from restore.geometry import centre_crop
    from restore.io.images import read_image
    from restore.metrics import psnr

    channels = restorer.net.image_channels
    totals, count = dict.fromkeys(DAMAGE_THRESHOLDS, 0.0), 0
    for i, path in enumerate(files):
        image = torch.from_numpy(read_image(path, channels)).permute(2, 0, 1)
        clean = (centre_crop(image, crop) * 255.0).round().byte().permute(1, 2, 0).numpy()
        damaged, mask = damaged_photo(clean, "mixed", seed + i)
        if not mask.any():  # nothing drawn (a tiny photo): its PSNR could be infinite
            continue
        count += 1
        probability = restorer.detect_damage(damaged)
        truth = torch.from_numpy(clean).permute(2, 0, 1)[None].float()
        for threshold in DAMAGE_THRESHOLDS:
            repaired, _ = restorer.repair(damaged, threshold=threshold, probability=probability)
            result = torch.from_numpy(repaired).permute(2, 0, 1)[None].float()
            totals[threshold] += float(psnr(result, truth, 255.0)[0])
    if not count:
        raise ValueError("no damage could be drawn on the validation photos (too small)")
    scores = {threshold: total / count for threshold, total in totals.items()}
    return max(scores, key=scores.get), scores


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
    parser.add_argument(
        "--fit",
        nargs="+",
        choices=FITS,
        help="what to fit: the uncertainty head's calibration, the damage head's threshold "
        "(default: each the model has a head for; the rest is kept as it is)",
    )
    args = parser.parse_args(argv)

    import torch

    from restore.models.weights import export_weights, load_net
    from restore.restorer import HEADS, Restorer, require_head
    from restore.training.calibration import fit_calibration

    try:
        net = load_net(args.weights).float()
        heads = [head for head in FITS if getattr(net, HEADS[head][1]) is not None]
        fits = args.fit or heads or FITS[:1]  # a model with neither head: name what it lacks
        for head in fits:
            require_head(net, head, str(args.weights), f"restore-calibrate --fit {head}")
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
        restorer = Restorer(net, device="cpu", precision="fp32", source=str(args.weights))
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
