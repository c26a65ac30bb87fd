"""``restore-bench damage``: how well the model finds old-photo damage without a mask, and how
much its automatic repair gains.

    restore-bench damage                            # Kodak24, shipped photo model
    restore-bench damage --weights run/export/model.pt --max-images 6
    restore-bench damage --generator independent    # damage drawn by the evaluation-only routine
    restore-bench damage --images ../shared/data/CBSD68 --kinds   # false positives only
    restore-bench damage --marks                    # the flat-image check (no photos needed)

Protocol: each clean image ``i`` of ``--images`` (default ``Kodak24``) gets synthetic damage
(:func:`restore.corruption.damaged_photo`, ``reference_size`` 512: on Kodak's 768 x 512 images
sizes are in image pixels) seeded with ``torch.Generator().manual_seed(seed + i)``, one kind at a
time (scratches, dust, hairs, creases, blotches, text: each kind's default settings, drawn with
p = 1) and the kinds to be filled mixed (:func:`restore.corruption.kinds_to_fill`, at least one
kind per image). The damage mask is every pixel the damage changed by more than 0.02
(0-1 scale). The damaged image is rounded to 8 bits, as in a scan. Stains (blotches) are to be
left, not filled: the head is trained not to flag them, and their row shows how much of them it
flags and what filling them would cost.

Detection, per image then averaged: pixel average precision and AUROC of ``detect_damage``
against the damage mask, and the precision and recall of the repaired mask (``repair``'s
defaults: the model's damage threshold, grown by 1 pixel). A random detector's AP is the share of
damaged pixels.

Repair, PSNR in dB against the undamaged image (0-255 scale, whole image): the damaged input;
``Restorer.repair`` (found mask, model fill); OpenCV Telea on the same found mask; and, as upper
bounds that know where the damage is, OpenCV Telea and the model's ``inpaint`` on the true mask.

``--generator independent`` draws the damage with :mod:`restore.bench.independent_damage`
(scratches, dust, hairs, mixed), written apart from the training routine and never trained on.

``--marks``: the check a person would run first (:mod:`restore.bench.marks`): dots of radius 1-6
(white, black, red) and straight and bent lines 1-4 px wide (white, black) drawn on a flat, a
gradient and a finely textured background; per mark and background the share of its pixels
``repair`` fills, and the share of the rest it fills.

False positives, on the undamaged images: the share of pixels marked (probability above the
model's damage threshold, and above 0.5) and the share ``repair`` would fill (wide regions left
alone, grown by 1 pixel), mean and worst image.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from restore.bench.common import load_restorer, model_parser
from restore.bench.protocol import data_dir, load_images, psnr
from restore.bench.reports import SummaryTable, markdown_table
from restore.metrics import damage_auroc, damage_average_precision

KINDS = ("scratches", "dust", "hairs", "creases", "blotches", "text")
REPAIRS = ("damaged input", "restore repair", "Telea, found mask", "Telea, true mask",
           "restore inpaint, true mask")  # fmt: skip


def _telea(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    import cv2

    filled = cv2.inpaint(np.ascontiguousarray(image), mask.astype(np.uint8), 3, cv2.INPAINT_TELEA)
    return filled.reshape(image.shape)


def false_positives(restorer, samples) -> dict:
    """Shares of the pixels of undamaged images marked (probability above the model's damage
    threshold, and above 0.5) and filled by ``repair``: mean and worst."""
    threshold = restorer.net.damage_threshold
    marked, marked_half, filled = [], [], []
    for sample in samples:
        probability = restorer.detect_damage(sample.clean)
        marked.append(float((probability > threshold).mean()))
        marked_half.append(float((probability > 0.5).mean()))
        filled.append(float(restorer.repair(sample.clean, probability=probability)[1].mean()))
    return dict(
        images=len(samples),
        threshold=threshold,
        marked_mean=float(np.mean(marked)),
        marked_worst=float(np.max(marked)),
        marked_half_mean=float(np.mean(marked_half)),
        marked_half_worst=float(np.max(marked_half)),
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
    from restore.corruption import damaged_photo

    draw = damaged_photo if generator == "train" else independent_damage
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


def marks_table(restorer, table: SummaryTable) -> list[str]:
    """The ``--marks`` check with ``restorer``: rows added to ``table``, Markdown lines back."""
    from restore.bench.marks import BACKGROUNDS, MARKS, marks_image, score_marks

    filled, false = {}, {}
    for background in BACKGROUNDS:
        image, masks = marks_image(background)
        found = restorer.repair(image)[1]
        filled[background], false[background] = score_marks(found, masks)
    for i, mark in enumerate(MARKS):
        table.add({"mark": mark.name, **{b: filled[b][i] for b in BACKGROUNDS}})
    table.add({"mark": "rest (false positives)", **false})
    found_all = sum(filled[b][i] >= 0.9 for b in BACKGROUNDS for i in range(len(MARKS)))
    cells = [[m.name, *(f"{filled[b][i]:.2f}" for b in BACKGROUNDS)] for i, m in enumerate(MARKS)]
    cells.append(["rest (false positives)", *(f"{100 * false[b]:.3f} %" for b in BACKGROUNDS)])
    return [
        f"marks filled (>= 90 % of their pixels): {found_all} of {len(MARKS) * len(BACKGROUNDS)}",
        "",
        markdown_table(["mark", *(f"{b}: share filled" for b in BACKGROUNDS)], cells),
    ]


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
    parser.add_argument(
        "--marks",
        action="store_true",
        help="the flat-image check instead: dots and lines on plain backgrounds, filled or not",
    )
    args = parser.parse_args(argv)
    from restore.bench.independent_damage import KINDS as INDEPENDENT_KINDS

    allowed = [*KINDS, "mixed"] if args.generator == "train" else list(INDEPENDENT_KINDS)
    kinds = allowed if args.kinds is None else args.kinds
    if set(kinds) - set(allowed):
        parser.error(f"--kinds for the {args.generator} generator: {', '.join(allowed)}")

    loaded = load_restorer(args, "damage")
    if loaded is None:
        return 2
    if args.marks:
        table = SummaryTable(args.out)
        table.finish([f"weights {loaded[1]}", "", *marks_table(loaded[0], table)])
        return 0
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
        f"false positives on the {fp['images']} undamaged images: marked (p >"
        f" {fp['threshold']:.2f}, the model's threshold) {fp['marked_mean']:.4f} (worst"
        f" {fp['marked_worst']:.4f}), at p > 0.5 {fp['marked_half_mean']:.4f} (worst"
        f" {fp['marked_half_worst']:.4f}), filled {fp['filled_mean']:.4f} (worst"
        f" {fp['filled_worst']:.4f})",
    ]
    if rows:
        head = ["damage", "images", "damaged share", "AP (random = share)", "AUROC"]
        head += ["precision", "recall", *(f"PSNR {name}" for name in REPAIRS)]
        cells = [
            [r["kind"], r["images"], f"{r['share']:.4f}"]
            + [f"{r[k]:.3f}" for k in ("ap", "auroc", "precision", "recall")]
            + [f"{r[name]:.2f}" for name in REPAIRS]
            for r in rows
        ]
        lines += ["", markdown_table(head, cells)]
    table.finish(lines)
    return 0
