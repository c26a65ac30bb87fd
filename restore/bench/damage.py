"""``restore-bench damage``: how well the model finds old-photo damage without a mask, and how
much its automatic repair gains.

    restore-bench damage                            # Kodak24, shipped photo model
    restore-bench damage --weights run/export/model.pt --max-images 6
    restore-bench damage --generator independent    # damage drawn by the evaluation-only routine
    restore-bench damage --images ../shared/data/CBSD68 --kinds   # false positives only

Protocol: each clean image ``i`` of ``--images`` (default ``Kodak24``) gets synthetic damage
(:class:`restore.corruption.Damage`, ``reference_size`` 512: on Kodak's 768 x 512 images sizes are
in image pixels) seeded with ``torch.Generator().manual_seed(seed + i)``, one kind at a time
(scratches, dust, hairs, creases, blotches, text: each kind's default settings, drawn with
p = 1) and the kinds to be filled mixed (:func:`restore.corruption.default_kinds` but blotches, at
least one kind per image). The damage mask is every pixel the damage changed by more than 0.02
(0-1 scale). The damaged image is rounded to 8 bits, as in a scan. Stains (blotches) are to be
left, not filled: the head is trained not to flag them, and their row shows how much of them it
flags and what filling them would cost.

Detection, per image then averaged: pixel average precision and AUROC of ``detect_damage``
against the damage mask, and the precision and recall of the repaired mask (``repair``'s
threshold 0.5, grown by 1 pixel). A random detector's AP is the share of damaged pixels.

Repair, PSNR in dB against the undamaged image (0-255 scale, whole image): the damaged input;
``Restorer.repair`` (found mask, model fill); OpenCV Telea on the same found mask; and, as upper
bounds that know where the damage is, OpenCV Telea and the model's ``inpaint`` on the true mask.

``--generator independent`` draws the damage with :mod:`restore.bench.independent_damage`
(scratches, dust, hairs, mixed), written apart from the training routine and never trained on.

False positives, on the undamaged images: the share of pixels marked (probability above 0.5)
and the share ``repair`` would fill (wide regions left alone, grown by 1 pixel), mean and worst
image.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from restore.bench.cli import load_restorer, model_parser
from restore.bench.protocol import data_dir, load_images, psnr
from restore.bench.reports import SummaryTable
from restore.metrics import damage_auroc, damage_average_precision

KINDS = ("scratches", "dust", "hairs", "creases", "blotches", "text")
REPAIRS = ("damaged input", "restore repair", "Telea, found mask", "Telea, true mask",
           "restore inpaint, true mask")  # fmt: skip


def damaged_pair(clean: np.ndarray, kind: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(damaged uint8 ``(H, W, C)``, bool ``(H, W)`` damage mask) of an 8-bit image; ``kind``:
    a name in :data:`KINDS` or ``mixed``."""
    from restore.corruption import DAMAGE_KINDS, Damage, default_kinds

    generator = torch.Generator().manual_seed(seed)
    x = torch.from_numpy(clean).permute(2, 0, 1)[None].float() / 255.0
    if kind == "mixed":
        kinds = [k for k in default_kinds() if k.name != "blotches"]
    else:
        kinds = [DAMAGE_KINDS[kind](p=1.0)]
    for _ in range(20):  # mixed: each kind has its own chance; draw again until one lands
        damaged, mask = Damage(kinds, reference_size=512)(x, generator=generator)
        if mask.any():
            break
    pixels = (damaged[0].permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8)
    return pixels, mask[0, 0].numpy() > 0.5


def _telea(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    import cv2

    filled = cv2.inpaint(np.ascontiguousarray(image), mask.astype(np.uint8), 3, cv2.INPAINT_TELEA)
    return filled.reshape(image.shape)


def false_positives(restorer, samples) -> dict:
    """Marked (p > 0.5) and filled shares of the pixels of undamaged images: mean and worst."""
    marked, filled = [], []
    for sample in samples:
        probability = restorer.detect_damage(sample.clean)
        marked.append(float((probability > 0.5).mean()))
        filled.append(float(restorer.repair(sample.clean, probability=probability)[1].mean()))
    return dict(
        images=len(samples),
        marked_mean=float(np.mean(marked)),
        marked_worst=float(np.max(marked)),
        filled_mean=float(np.mean(filled)),
        filled_worst=float(np.max(filled)),
    )


def evaluate(
    restorer, samples, kinds: Sequence[str], seed: int = 0, generator: str = "train"
) -> Iterator[dict]:
    """One row per kind, as each finishes: detection scores and the repair PSNRs (means over
    images); damage from the training routine (``train``) or the evaluation-only one
    (``independent``)."""
    from restore.bench.independent_damage import independent_damage

    draw = damaged_pair if generator == "train" else independent_damage
    for kind in kinds:
        scores = []
        for i, sample in enumerate(samples):
            damaged, truth = draw(sample.clean, kind, seed + i)
            probability = restorer.detect_damage(damaged)
            repaired, found = restorer.repair(damaged, probability=probability)
            hits = float((found & truth).sum())
            maps = torch.from_numpy(probability)[None, None], torch.from_numpy(truth)[None, None]
            outputs = (
                damaged,
                repaired,
                _telea(damaged, found),
                _telea(damaged, truth),
                restorer.inpaint(damaged, truth),
            )
            scores.append(
                [float(f(*maps)[0]) for f in (damage_average_precision, damage_auroc)]
                + [
                    hits / max(float(found.sum()), 1.0),
                    hits / float(truth.sum()),
                    float(truth.mean()),
                ]
                + [psnr(out, sample.clean) for out in outputs]
            )
        values = np.nanmean(np.array(scores), axis=0)
        row = dict(kind=kind, images=len(samples))
        row.update(zip(("ap", "auroc", "precision", "recall", "share"), values[:5], strict=True))
        row.update(zip(REPAIRS, values[5:], strict=True))
        yield row


def main(argv: Sequence[str] | None = None) -> int:
    parser = model_parser("restore-bench damage", __doc__, "first N images only")
    parser.add_argument(
        "--generator",
        choices=["train", "independent"],
        default="train",
        help="who draws the damage: the training routine (held-out seeds) or the evaluation-only "
        "one (restore.bench.independent_damage)",
    )
    parser.add_argument(
        "--kinds",
        nargs="*",
        help="damage kinds (default: all of the generator's; the flag alone: none, false "
        "positives only)",
    )
    parser.add_argument("--seed", type=int, default=10_000, help="held out from training")
    args = parser.parse_args(argv)
    from restore.bench.independent_damage import KINDS as INDEPENDENT_KINDS

    allowed = [*KINDS, "mixed"] if args.generator == "train" else list(INDEPENDENT_KINDS)
    kinds = allowed if args.kinds is None else args.kinds
    if set(kinds) - set(allowed):
        parser.error(f"--kinds for the {args.generator} generator: {', '.join(allowed)}")

    loaded = load_restorer(args, "damage_head", "damage head")
    if loaded is None:
        return 2
    try:
        samples = load_images(args.images or data_dir() / "Kodak24", args.max_images)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    samples = [
        s if s.clean.shape[2] == 3 else type(s)(s.name, s.clean.repeat(3, 2)) for s in samples
    ]
    table = SummaryTable(args.out)
    fp = table.add(dict(kind="false positives (undamaged)", **false_positives(loaded[0], samples)))
    rows = [
        table.add(row) for row in evaluate(loaded[0], samples, kinds, args.seed, args.generator)
    ]
    lines = [
        "# restore-bench damage",
        "",
        f"weights {loaded[1]}; images {args.images or data_dir() / 'Kodak24'}; generator"
        f" {args.generator}; seed {args.seed}",
        "",
        f"false positives on the {fp['images']} undamaged images: marked {fp['marked_mean']:.4f}"
        f" (worst {fp['marked_worst']:.4f}), filled {fp['filled_mean']:.4f} (worst"
        f" {fp['filled_worst']:.4f})",
    ]
    if rows:
        lines += [
            "",
            "| damage | images | damaged share | AP (random = share) | AUROC | precision @0.5 "
            "| recall @0.5 | " + " | ".join(f"PSNR {name}" for name in REPAIRS) + " |",
            "|---" * (7 + len(REPAIRS)) + "|",
        ]
        lines += [
            f"| {r['kind']} | {r['images']} | {r['share']:.4f} | {r['ap']:.3f} | "
            f"{r['auroc']:.3f} | {r['precision']:.3f} | {r['recall']:.3f} | "
            + " | ".join(f"{r[name]:.2f}" for name in REPAIRS)
            + " |"
            for r in rows
        ]
    table.finish(lines)
    return 0
