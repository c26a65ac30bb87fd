"""``restore-bench inpaint``: how well holes are filled, by PSNR and by the texture of the fill,
against classical inpainting, per hole area.

    restore-bench inpaint                                   # Kodak24, shipped photo model
    restore-bench inpaint --max-images 8 --every 3 --peers opencv-telea patchmatch
    restore-bench inpaint --bins 0.2 0.3 0.4 0.5 --kinds blobs

Protocol: each clean image ``i`` of ``--images`` (default ``Kodak24``; every ``--every``-th
image, then the first ``--max-images``) gets, for every hole-area bin ``[low, high)`` of
``--bins`` and every mask kind of ``--kinds``, one hole mask (:func:`area_mask`, seeded with
``seed + i``, the bin and the kind), whose holes hold 0 in the input. Mask kinds, neither of
them drawn by the training masks: ``strokes``, thick LaMa-style brush strokes (15-60 px wide at
512 px) added until the area reaches a target drawn in the bin; ``blobs``, the top share of a
smooth random field (irregular rounded holes of many sizes), exactly the target area.

Inside the holes, per image then averaged over the images and kinds of a bin:

* PSNR (dB, 0-255 scale) and SSIM (the SSIM map, 11 x 11 Gaussian window, averaged over the
  holes);
* fine-detail ratio: :func:`restore.metrics.fine_detail` of the fill over that of the true
  photo (grey, ``|x - blur(x)|``, Gaussian sigma 1.5): 1 = as much fine detail as the real
  content, a haze is near 0;
* patch SWD: :func:`restore.metrics.patch_swd`, the sliced Wasserstein distance between the
  7 x 7 grey patches (mean removed, 64 directions) of the fill and of the true photo centred in
  the holes, grey levels; lower = closer to the real texture;
* seconds per megapixel of image, each method on its own.

Methods: ``restore`` (``Restorer.inpaint`` as users get it: the VAE's fill with the texture
stage, :mod:`restore.models.texture`), ``restore-smooth`` (the VAE's fill alone) and the peers
of ``--peers``: OpenCV's Telea and Navier-Stokes (radius 5), FSR (``cv2.xphoto``, needs
opencv-contrib) and PatchMatch (``pypatchmatch``, 7 x 7 patches; the project's ``bench`` extra).
A peer whose package is missing is left out with a note.

Writes ``results.md``, ``results.csv`` (one row per bin x method), ``per_image.csv`` (row by
row as the fills are made) and ``crops_inpaint.png`` (input, each method, truth, side by side,
around a hole of the first images in the 30-40 % bin) into ``--out``. Stopped with Ctrl-C, it
writes the tables of the fills done and exits with status 130.
"""

from __future__ import annotations

import copy
import csv
import importlib.util
import math
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import cv2
import numpy as np
import torch

from restore.bench.common import load_restorer, model_parser
from restore.bench.peers import opencv_inpaint
from restore.bench.protocol import Sample, data_dir, float64_batch, load_images
from restore.bench.reports import (
    SummaryTable,
    crop_panel,
    csv_value,
    markdown_table,
    panel_strip,
    save_rgb,
)
from restore.metrics import fine_detail, patch_swd, psnr, ssim

BINS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)  # edges of the hole-area bins
MASK_KINDS = ("strokes", "blobs")
PEERS = ("opencv-telea", "opencv-ns", "fsr", "patchmatch")
LABELS = {
    "restore": "restore",
    "restore-smooth": "restore, no texture stage",
    "opencv-telea": "Telea",
    "opencv-ns": "Navier-Stokes",
    "fsr": "FSR",
    "patchmatch": "PatchMatch",
}
CROP_BIN = 0.3  # the bin whose fills the crops figure shows (its low edge)
COLUMNS = ("image", "bin", "kind", "method", "area", "s_per_mp", "psnr", "ssim", "detail", "swd")


def area_mask(height: int, width: int, low: float, high: float, kind: str, seed: int) -> np.ndarray:
    """Boolean ``(H, W)`` hole mask covering a share of the image in ``[low, high)`` (module
    docstring: ``strokes`` or ``blobs``), the same for the same arguments."""
    rng = np.random.default_rng(seed)
    target = rng.uniform(low, high)
    if kind == "blobs":
        field = rng.standard_normal((height // 16 + 2, width // 16 + 2)).astype(np.float32)
        field = cv2.resize(field, (width, height), interpolation=cv2.INTER_CUBIC)
        field = cv2.GaussianBlur(field, (0, 0), min(height, width) / 40)
        return field > np.quantile(field, 1.0 - target)
    if kind != "strokes":
        raise ValueError(f"mask kind must be one of {MASK_KINDS}, got {kind!r}")
    s = min(height, width) / 512
    mask = np.zeros((height, width), np.uint8)
    for _ in range(1000):
        if mask.mean() >= target:
            break
        stroke = np.zeros_like(mask)
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        stroke_width = max(1, round(rng.uniform(15, 60) * s))
        for _ in range(rng.integers(2, 6)):
            angle, length = rng.uniform(0, 2 * math.pi), rng.uniform(40, 200) * s
            nx = float(np.clip(x + length * math.cos(angle), 0, width - 1))
            ny = float(np.clip(y + length * math.sin(angle), 0, height - 1))
            cv2.line(stroke, (round(x), round(y)), (round(nx), round(ny)), 1, stroke_width)
            x, y = nx, ny
        if np.maximum(mask, stroke).mean() < high:
            np.maximum(mask, stroke, out=mask)
    return mask > 0


def peer_problem(name: str) -> str | None:
    """Why peer ``name`` cannot run here, or None when it can."""
    if name == "fsr" and not hasattr(cv2, "xphoto"):
        return "FSR needs OpenCV's contrib modules (`pip install opencv-contrib-python-headless`)"
    if name == "patchmatch" and importlib.util.find_spec("patchmatch") is None:
        return "PatchMatch needs `pypatchmatch` (`pip install pypatchmatch`, or the `bench` extra)"
    return None


def _fsr(image: np.ndarray, holes: np.ndarray) -> np.ndarray:
    out = np.zeros_like(image)
    known = (~holes).astype(np.uint8)  # xphoto.inpaint's mask: nonzero = known
    cv2.xphoto.inpaint(image, known, out, cv2.xphoto.INPAINT_FSR_FAST)
    return out


def _patchmatch(image: np.ndarray, holes: np.ndarray) -> np.ndarray:
    import patchmatch

    patchmatch.set_random_seed(0)
    return patchmatch.inpaint(image, holes.astype(np.uint8) * 255, patch_size=3)


def methods(restorer, peers: Sequence[str]) -> dict[str, Callable[[np.ndarray, np.ndarray], Any]]:
    """``name -> fill(image uint8 (H, W, 3), holes bool (H, W)) -> uint8 (H, W, 3)``."""
    smooth = copy.copy(restorer)
    smooth.texture = False
    table = {
        "restore": lambda x, m: restorer.inpaint(x, m),
        "restore-smooth": lambda x, m: smooth.inpaint(x, m),
        "opencv-telea": lambda x, m: opencv_inpaint(x, m, cv2.INPAINT_TELEA),
        "opencv-ns": lambda x, m: opencv_inpaint(x, m, cv2.INPAINT_NS),
        "fsr": _fsr,
        "patchmatch": _patchmatch,
    }
    return {name: table[name] for name in ("restore", "restore-smooth", *peers)}


def scores(fill: np.ndarray, clean: np.ndarray, holes: np.ndarray) -> dict[str, float]:
    """The protocol's measures of one fill (uint8 ``(H, W, 3)``) inside ``holes``."""
    out, truth = float64_batch(fill), float64_batch(clean)
    mask = torch.from_numpy(holes)[None, None]
    return dict(
        psnr=float(psnr(out, truth, 255.0, mask)[0]),
        ssim=float(ssim(out, truth, 255.0, mask=mask)[0]),
        detail=float(fine_detail(out, mask)[0] / fine_detail(truth, mask)[0].clamp_min(1e-6)),
        swd=float(patch_swd(out, truth, mask)[0]),
    )


def evaluate(
    samples: Sequence[Sample],
    fills: dict[str, Callable],
    bins: Sequence[float],
    kinds: Sequence[str],
    seed: int,
    log: Callable[[str], None],
    examples: dict | None = None,
    records: list[dict] | None = None,
    sink: Callable[[dict], None] = lambda record: None,
) -> list[dict]:
    """One record per image x bin x kind x method (:data:`COLUMNS`), appended to ``records``
    (a new list when None; so that a run stopped part way keeps what it did) and given to
    ``sink`` as each is made; fills of the :data:`CROP_BIN` bin's first kind go into
    ``examples`` (``{image name: {name: image}}``)."""
    records = [] if records is None else records
    for i, sample in enumerate(samples):
        clean = sample.clean if sample.clean.shape[2] == 3 else sample.clean.repeat(3, 2)
        h, w = clean.shape[:2]
        for b, (low, high) in enumerate(zip(bins[:-1], bins[1:], strict=True)):
            for k, kind in enumerate(kinds):
                holes = area_mask(h, w, low, high, kind, (seed + i) * 1000 + b * 10 + k)
                degraded = np.where(holes[..., None], 0, clean).astype(np.uint8)
                shown = examples is not None and math.isclose(low, CROP_BIN) and k == 0
                if shown:
                    examples[sample.name] = dict(input=degraded, truth=clean, holes=holes)
                for name, fill in fills.items():
                    start = time.perf_counter()
                    out = fill(degraded, holes)
                    seconds = time.perf_counter() - start
                    records.append(
                        dict(
                            image=sample.name,
                            bin=f"{low:.0%}-{high:.0%}",
                            kind=kind,
                            method=name,
                            area=float(holes.mean()),
                            s_per_mp=seconds / (h * w / 1e6),
                            **scores(out, clean, holes),
                        )
                    )
                    sink(records[-1])
                    if shown:
                        examples[sample.name][name] = out
                log(f"{sample.name} {low:.0%}-{high:.0%} {kind}: done")
    return records


def summarise(records: Sequence[dict]) -> list[dict]:
    """Means per bin x method, in the records' order."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in records:
        groups.setdefault((r["bin"], r["method"]), []).append(r)
    return [
        dict(
            bin=bin_,
            method=method,
            fills=len(rs),
            **{k: float(np.mean([r[k] for r in rs])) for k in ("area", "psnr", "ssim", "detail")},
            swd=float(np.mean([r["swd"] for r in rs])),
            s_per_mp=float(np.median([r["s_per_mp"] for r in rs])),
        )
        for (bin_, method), rs in groups.items()
    ]


def _bin_cells(rows: Sequence[dict], names: Sequence[str]) -> list[list[str]]:
    """One table row per hole-area bin: the bin, then ``PSNR / SSIM / detail / SWD / s per MP``
    of each method in ``names`` (``-``: not run)."""
    table = []
    for bin_ in dict.fromkeys(r["bin"] for r in rows):
        cells = {r["method"]: r for r in rows if r["bin"] == bin_}
        table.append(
            [bin_]
            + [
                f"{c['psnr']:.2f} / {c['ssim']:.3f} / {c['detail']:.2f} / {c['swd']:.2f} / "
                f"{c['s_per_mp']:.2f}"
                if c
                else "-"
                for c in (cells.get(n) for n in names)
            ]
        )
    return table


def write_crops(examples: dict, names: Sequence[str], path, size: int = 160) -> None:
    """Rows of ``input | each method | truth`` crops, one row per example image, each crop the
    ``size`` x ``size`` window whose hole share is nearest 40 %."""
    rows = []
    for ex in examples.values():
        holes = ex["holes"]
        h, w = holes.shape
        c = min(size, h, w)
        windows = [
            (y, x)
            for y in list(range(0, h - c + 1, c // 4)) + [h - c]
            for x in list(range(0, w - c + 1, c // 4)) + [w - c]
        ]
        y, x = min(windows, key=lambda p: abs(holes[p[0] : p[0] + c, p[1] : p[1] + c].mean() - 0.4))
        box = (y, x, c)
        order = [("input", "input"), *((n, LABELS[n]) for n in names), ("truth", "truth")]
        rows.append(panel_strip([crop_panel(ex[k], label, box) for k, label in order]))
    gap = np.full((6, rows[0].shape[1], 3), 255, np.uint8)
    save_rgb(np.concatenate([p for r in rows for p in (r, gap)][:-1], 0), path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = model_parser("restore-bench inpaint", __doc__, "first N images only")
    parser.add_argument("--every", type=int, default=1, help="every N-th image (1)")
    parser.add_argument(
        "--bins", type=float, nargs="+", default=list(BINS), help="hole-area bin edges (0.1-0.6)"
    )
    parser.add_argument("--kinds", nargs="+", choices=MASK_KINDS, default=list(MASK_KINDS))
    parser.add_argument(
        "--peers",
        nargs="*",
        choices=PEERS,
        default=list(PEERS),
        help="classical peers (default: all; a missing package leaves its peer out)",
    )
    parser.add_argument("--crops", type=int, default=3, help="images shown in the crops (3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    bins = args.bins
    if len(bins) < 2 or any(not 0 < a < b < 1 for a, b in zip(bins[:-1], bins[1:], strict=True)):
        parser.error("--bins: two or more increasing edges in (0, 1)")
    if args.every < 1:
        parser.error("--every must be at least 1")

    loaded = load_restorer(args)
    if loaded is None:
        return 2
    folder = args.images or data_dir() / "Kodak24"
    try:
        samples = load_images(folder)[:: args.every][: args.max_images]
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    notes = []
    peers = []
    for name in args.peers:
        problem = peer_problem(name)
        if problem:
            notes.append(f"{LABELS[name]} left out: {problem}.")
            print(f"note: {notes[-1]}", file=sys.stderr)
        else:
            peers.append(name)
    fills = methods(loaded[0], peers)
    log = (lambda s: None) if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    examples: dict = {}
    records: list[dict] = []
    stopped = False
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "per_image.csv", "w", newline="") as f:  # row by row, flushed
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()

        def sink(record: dict) -> None:
            writer.writerow({k: csv_value(record[k]) for k in COLUMNS})
            f.flush()

        try:
            evaluate(samples, fills, bins, args.kinds, args.seed, log, examples, records, sink)
        except KeyboardInterrupt:
            stopped = True
            print(
                "restore-bench inpaint: interrupted; the tables hold what was done", file=sys.stderr
            )
    table = SummaryTable(args.out)
    rows = [table.add(row) for row in summarise(records)]
    names = list(fills)
    complete = {k: ex for k, ex in examples.items() if all(n in ex for n in names)}
    if complete:
        shown = dict(list(complete.items())[: args.crops])
        write_crops(shown, names, args.out / "crops_inpaint.png")
    lines = [
        "# restore-bench inpaint",
        "",
        f"weights {loaded[1]}; images {folder} ({len(samples)}: every {args.every}); mask kinds "
        f"{', '.join(args.kinds)}; seed {args.seed}; torch threads {torch.get_num_threads()}",
        "",
        "Per hole-area bin: hole PSNR (dB) / hole SSIM / fine-detail ratio (1 = as the real "
        "photo) / patch SWD (lower = closer texture) / s per MP (median).",
        "",
        markdown_table(["hole area", *(LABELS[n] for n in names)], _bin_cells(rows, names)),
    ]
    if stopped:
        notes.append("Interrupted: the tables hold the fills that were done.")
    lines += ["", *notes, "", "Crops: `crops_inpaint.png`." if complete else ""]
    table.finish(lines)
    if stopped:
        return 130
    return 0 if all(math.isfinite(r["psnr"]) for r in rows) else 1
