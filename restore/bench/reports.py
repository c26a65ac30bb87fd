"""What the benchmark writes: Markdown and CSV tables, plots and example crops."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from restore.bench.memory import memory_method
from restore.bench.peers import FLOAT_INPUT, INPAINT_LABELS, INPAINT_RADIUS, LABELS, REAL_OPENCV_H
from restore.bench.protocol import REAL_SETS, SSIM_NAME, as_255
from restore.bench.runner import Results

SUMMARY_COLUMNS = [
    "task",
    "protocol",
    "setting",
    "method",
    "images",
    "psnr_db",
    "ssim",
    "hole_psnr_db",
    "seconds_per_mp",
    "first_call_extra_mib",
    "first_call_extra_is_upper_bound",
    "float_protocol_input",
]
PER_IMAGE_COLUMNS = [
    "task",
    "protocol",
    "setting",
    "method",
    "image",
    "psnr_db",
    "ssim",
    "hole_psnr_db",
    "hole_share",
    "seconds",
    "megapixels",
]


def _mean(values) -> float:
    values = [v for v in values if not math.isnan(v)]
    return float(np.mean(values)) if values else float("nan")


def summarise(res: Results) -> list[dict]:
    """Means over the images per (task, protocol, setting, method), in first-seen order."""
    groups: dict[tuple, list[dict]] = {}
    for r in res.records:
        groups.setdefault((r["task"], r["protocol"], r["setting"], r["method"]), []).append(r)
    rows = []
    for (task, protocol, setting, method), rs in groups.items():
        seconds = [r["seconds"] for r in rs]
        timed = not any(math.isnan(s) for s in seconds)
        mem = res.memory.get((task, method))
        rows.append(
            {
                "task": task,
                "protocol": protocol,
                "setting": setting,
                "method": method,
                "images": len(rs),
                "psnr_db": _mean([r["psnr"] for r in rs]),
                "ssim": _mean([r["ssim"] for r in rs]),
                "hole_psnr_db": _mean([r["hole_psnr"] for r in rs]),
                "seconds_per_mp": sum(seconds) / sum(r["megapixels"] for r in rs)
                if timed
                else float("nan"),
                "first_call_extra_mib": mem.mib if mem and mem.mib is not None else float("nan"),
                "first_call_extra_is_upper_bound": mem.upper_bound if mem else "",
                "float_protocol_input": FLOAT_INPUT.get(method, "") if protocol == "float" else "",
            }
        )
    return rows


def _fmt(value: float, digits: int) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "-"
    return f"{value:.{digits}f}"


def csv_value(value: Any) -> Any:
    """A CSV cell: a float as 6 significant digits (NaN: empty), anything else as it is."""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return value


class PerImageLog:
    """``per_image.csv`` written row by row as the records are made (flushed each time), so a run
    stopped part way keeps every row it finished. Use as a context manager; ``write`` is a
    :class:`restore.bench.runner.Results` sink.

    Args:
        out: the folder to write ``per_image.csv`` into (made if missing; the file is replaced).
    """

    def __init__(self, out: str | Path) -> None:
        Path(out).mkdir(parents=True, exist_ok=True)
        self.file = open(Path(out) / "per_image.csv", "w", newline="")  # noqa: SIM115
        self.writer = csv.DictWriter(self.file, fieldnames=PER_IMAGE_COLUMNS)
        self.writer.writeheader()

    def write(self, record: dict) -> None:
        row = {**record, "psnr_db": record["psnr"], "hole_psnr_db": record["hole_psnr"]}
        self.writer.writerow({c: csv_value(row.get(c, "")) for c in PER_IMAGE_COLUMNS})
        self.file.flush()

    def __enter__(self) -> PerImageLog:
        return self

    def __exit__(self, *exc) -> None:
        self.file.close()


class SummaryTable:
    """The one writer of the model benchmarks (damage, samples, uncertainty) into ``out``:
    ``results.csv`` rewritten as each row finishes (:meth:`add`; every key of every row), so a
    run stopped part way keeps its rows, and ``results.md`` (Markdown, also printed) at the end
    (:meth:`finish`)."""

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.rows: list[dict] = []

    def add(self, row: dict) -> dict:
        self.rows.append(row)
        columns = list(dict.fromkeys(k for r in self.rows for k in r))
        write_csv(self.rows, self.out / "results.csv", columns)
        return row

    def finish(self, lines: Sequence[str]) -> None:
        text = "\n".join(lines) + "\n"
        (self.out / "results.md").write_text(text)
        print(text, end="")


def write_csv(rows: list[dict], path: Path, columns: list[str]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: csv_value(row.get(c, "")) for c in columns})


def _s_per_mp(records: list[dict]) -> float:
    timed = [r for r in records if not math.isnan(r["seconds"])]
    if not timed:
        return float("nan")
    return sum(r["seconds"] for r in timed) / sum(r["megapixels"] for r in timed)


def markdown_row(cells: Iterable[Any]) -> str:
    """One Markdown table line, ``| a | b |``, of ``cells`` as text (a ``|`` in one escaped)."""
    return "| " + " | ".join(str(c).replace("|", r"\|") for c in cells) + " |"


_ALIGN = {"l": ":---", "c": ":---:", "r": "---:"}


def markdown_table(
    header: Sequence[Any], rows: Iterable[Sequence[Any]], align: str | None = None
) -> str:
    """The one writer of the benchmarks' Markdown tables: the header line, its rule and one line
    per row (:func:`markdown_row`), joined by newlines, with none at the end.

    Args:
        header: the column names.
        rows: the rows, each with one cell per column (any value: written as text).
        align: ``l``, ``c`` or ``r`` per column (left, centred, right); None: none given.

    Raises:
        ValueError: a row, or ``align``, does not have one entry per column.
    """
    if align is not None and (len(align) != len(header) or not set(align) <= set(_ALIGN)):
        raise ValueError(f"align {align!r}: one of l, c, r for each of the {len(header)} columns")
    rule = ["---"] * len(header) if align is None else [_ALIGN[a] for a in align]
    lines = [markdown_row(header), "|" + "".join(f"{r}|" for r in rule)]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"a row of {len(row)} cells in a table of {len(header)} columns")
        lines.append(markdown_row(row))
    return "\n".join(lines)


def _methods(rows: list[dict], task: str) -> list[str]:
    """The methods of ``task``'s summary rows, in first-seen order."""
    return list(dict.fromkeys(r["method"] for r in rows if r["task"] == task))


def _by_key(rows: list[dict]) -> dict[tuple, dict]:
    """The summary rows by (task, protocol, setting, method)."""
    return {(r["task"], r["protocol"], r["setting"], r["method"]): r for r in rows}


def _memory_text(res: Results, task: str, method: str) -> str:
    """The first-call memory cell of ``method`` on ``task`` (``-``: not measured)."""
    memory = res.memory.get((task, method))
    return memory.text() if memory is not None else "-"


def _header_section(info: dict) -> list[str]:
    """The title and the run's settings (images, seed, weights, machine, versions)."""
    images = (
        f"Images: `{info.get('images', '?')}` ({info.get('count', '?')} images"
        f"{', of ' + str(info['available']) if info.get('available') else ''}); "
        if info.get("count")
        else ""
    )
    return [
        "# restore benchmark",
        "",
        images + f"seed {info.get('seed', '?')}; weights: {info.get('weights', '?')}; "
        f"date {info.get('date', '?')}; device {info.get('device', '?')}, precision "
        f"{info.get('precision', '?')}; torch threads {torch.get_num_threads()}, OpenCV threads "
        f"{cv2.getNumThreads()}; {info.get('versions', '')}",
        "",
    ]


def _denoise_section(res: Results, rows: list[dict]) -> list[str]:
    """PSNR and SSIM per sigma and protocol, s/MP and first-call memory, per denoiser."""
    head = ["method", "float-protocol input"]
    for s in res.sigmas:
        for proto in ("float", "uint8"):
            head += [f"σ{s:g} {proto} PSNR", f"σ{s:g} {proto} SSIM"]
    head += ["s/MP", "first-call MiB"]
    table = []
    by = _by_key(rows)
    for m in _methods(rows, "denoise"):
        cells = [LABELS.get(m, m), FLOAT_INPUT.get(m, "")]
        for s in res.sigmas:
            for proto in ("float", "uint8"):
                r = by.get(("denoise", proto, f"{s:g}", m))
                cells += [_fmt(r["psnr_db"], 2), _fmt(r["ssim"], 4)] if r else ["-", "-"]
        recs = [r for r in res.records if r["task"] == "denoise" and r["method"] == m]
        cells += [_fmt(_s_per_mp(recs), 2), _memory_text(res, "denoise", m)]
        table.append(cells)
    lines = ["## Denoising (additive white Gaussian noise)", "", markdown_table(head, table), ""]
    if res.opencv_h:
        hs = ", ".join(f"σ{s:g}: h={h:g}" for s, h in res.opencv_h.items())
        lines += [
            f"OpenCV `fastNlMeansDenoisingColored` (template 7, search 21, h = hColor): {hs}"
            f" ({res.info.get('opencv_h_rule', '')}).",
            "",
        ]
    return lines


def _inpaint_section(res: Results, rows: list[dict]) -> list[str]:
    """PSNR, hole PSNR, SSIM and s/MP per mask preset, first-call memory, per inpainter; the
    mean hole share."""
    head = ["method"]
    for p in res.presets:
        head += [f"{p} PSNR", f"{p} hole PSNR", f"{p} SSIM", f"{p} s/MP"]
    head += ["first-call MiB"]
    table = []
    by = _by_key(rows)
    for m in _methods(rows, "inpaint"):
        cells = [INPAINT_LABELS.get(m, LABELS.get(m, m))]
        for p in res.presets:
            r = by.get(("inpaint", "holes=0", p, m))
            cells += (
                [
                    _fmt(r["psnr_db"], 2),
                    _fmt(r["hole_psnr_db"], 2),
                    _fmt(r["ssim"], 4),
                    _fmt(r["seconds_per_mp"], 2),
                ]
                if r
                else ["-"] * 4
            )
        cells.append(_memory_text(res, "inpaint", m))
        table.append(cells)
    lines = ["## Inpainting (LaMa irregular masks)", "", markdown_table(head, table), ""]
    cover = {
        p: _mean(
            [
                r["hole_share"]
                for r in res.records
                if r["task"] == "inpaint" and r["setting"] == p and r["method"] == "masked"
            ]
        )
        for p in res.presets
    }
    if any(not math.isnan(c) for c in cover.values()):
        lines += [
            "Mean hole share: " + ", ".join(f"{p} {100 * c:.1f}%" for p, c in cover.items()),
            "",
        ]
    return lines


def _real_section(res: Results, rows: list[dict]) -> list[str]:
    """PSNR and SSIM per real pair set and s/MP, per denoiser; the pair counts and OpenCV's h."""
    head = ["method"]
    for name in res.real_sets:
        role = f" ({REAL_SETS[name].role})" if name in REAL_SETS else ""
        head += [f"{name}{role} PSNR", f"{name} SSIM"]
    head += ["s/MP"]
    table = []
    by = _by_key(rows)
    for m in _methods(rows, "real"):
        cells = [LABELS.get(m, m)]
        for name in res.real_sets:
            r = by.get(("real", "uint8", name, m))
            cells += [_fmt(r["psnr_db"], 2), _fmt(r["ssim"], 4)] if r else ["-", "-"]
        recs = [r for r in res.records if r["task"] == "real" and r["method"] == m]
        cells.append(_fmt(_s_per_mp(recs), 2))
        table.append(cells)
    counts = {
        name: len({r["image"] for r in res.records if r["task"] == "real" and r["setting"] == name})
        for name in res.real_sets
    }
    tuned = (
        f"OpenCV h tuned per set over {list(REAL_OPENCV_H)}: "
        + ", ".join(f"{n} h={h:g}" for n, h in res.real_opencv_h.items())
        + "."
        if res.real_opencv_h
        else ""
    )
    pairs = "Pairs: " + ", ".join(f"{n} {c}" for n, c in counts.items()) + ". " + tuned
    return [
        "## Real camera noise (noisy/clean pairs)",
        "",
        markdown_table(head, table),
        "",
        pairs,
        "",
    ]


def _protocol_section(info: dict) -> list[str]:
    """How every number was made (metrics, noise, peers, real pairs, masks, timing, memory)."""
    return [
        "## Protocol",
        "",
        "- PSNR: dB on the 0-255 scale against the clean 8-bit image, mean over images. "
        f"SSIM: {SSIM_NAME}, mean over images. Method outputs are clipped to [0, 255] first "
        "(float outputs are not rounded); input rows are scored as fed (the float-protocol noisy "
        "image is not clipped).",
        "- Denoising: noise = sigma/255 x one standard-normal field per image from "
        "`numpy.random.default_rng(seed + index)` (the same field at every sigma), added in "
        "float64 to the clean 8-bit image / 255. **float** protocol: the noisy image as is, not "
        "clipped (the published-table protocol); *restore*, BM3D and scikit-image get it as is "
        "(`Restorer` takes floats a little outside [0, 1]), OpenCV's 8-bit NLM gets it clipped "
        "and rounded (its float and uint8 results are the same). **uint8** protocol: "
        "round(clip(x + n)) to 8 bits, what a real photo holds; float methods get it / 255.",
        "- *restore (sigma given)* passes the true sigma to `Restorer.denoise(img, sigma=...)`; "
        "*restore (blind)* passes none; *self-ensemble x8* averages the 8 flips and rotations "
        "(`Restorer(self_ensemble=True)`, blind). BM3D: "
        "`bm3d.bm3d_rgb(noisy, sigma_psd=sigma/255)` (`bm3d.bm3d` for gray), default profile. "
        "scikit-image: `denoise_nl_means(h=0.8*s, sigma=s, fast_mode=True, patch_size=5, "
        "patch_distance=6, channel_axis=-1)`, s = sigma/255.",
        "- Real noise: 8-bit noisy/clean pairs (`real/CC15`: `*_real` / `*_mean`, `real/Nam25`: "
        "`*_noise` / `*_gt`; the clean image is the mean of many shots of the scene; RENOIR-val: "
        "`real/RENOIR_T3i` 03, 04, 11, 15, `*_noisy` against the rounded mean of `*_clean` and "
        "`*_reference`), given as they are. CC15 is a test set (it chose nothing); Nam25 and "
        "RENOIR-val chose the shipped model's recipe and checkpoint (validation). "
        "*told the true sigma*: the RMS of noisy - clean (0-255) goes to "
        "`Restorer.denoise(sigma=...)`, BM3D's `sigma_psd` and scikit-image's sigma; OpenCV's h is "
        "tuned per set on all its pairs.",
        "- Inpainting: masks from `IrregularMasks(preset)` (LaMa thin/medium/thick at 512 px, "
        "scaled to the image) with `torch.Generator().manual_seed(seed + index)`; holes set to 0 "
        "in an 8-bit image; *restore* = `Restorer.inpaint(masked, mask)`; OpenCV `cv2.inpaint` "
        f"radius {INPAINT_RADIUS}; *push-pull* and *harmonic fill*: `restore.models.fill` "
        "(`pyramid_fill`, `harmonic_fill`), the classical fills that restore's network adds its "
        f"residual to (these weights: `hole_fill: {info.get('hole_fill', '?')}`). PSNR and SSIM "
        "over the whole image, hole PSNR over hole pixels (all channels).",
        "- s/MP: wall-clock seconds (`time.perf_counter` around the call) per megapixel, summed "
        "over the timed calls; each method first gets one untimed warm-up call on the first "
        "image.",
        f"- first-call MiB: extra resident memory of that warm-up call: {memory_method()}. It "
        "includes one-time allocations (thread pools, caches); model weights loaded before the "
        "call are not counted.",
    ]


def _list_section(title: str, items: Iterable[str]) -> list[str]:
    """``title`` and a bullet per item, after a blank line."""
    return ["", title, "", *(f"- {item}" for item in items)]


def markdown(res: Results, rows: list[dict], notes: Sequence[str] = ()) -> str:
    """``results.md``: the run's settings, a table per task run (denoising, inpainting, real
    noise), the protocol, the skipped peers and ``notes``.

    Args:
        res: the run.
        rows: its summary rows (:func:`summarise`).
        notes: closing lines (plots and crops written, or why not).
    """
    lines = _header_section(res.info)
    if res.sigmas:
        lines += _denoise_section(res, rows)
    if res.presets:
        lines += _inpaint_section(res, rows)
    if res.real_sets:
        lines += _real_section(res, rows)
    lines += _protocol_section(res.info)
    if res.skipped:
        lines += _list_section(
            "Skipped peers:", (f"{LABELS.get(p, p)}: {why}" for p, why in res.skipped.items())
        )
    if notes:
        lines += _list_section("Notes:", notes)
    return "\n".join(lines) + "\n"


def write_plots(res: Results, rows: list[dict], out: Path) -> list[str]:
    """PNG plots; returns the file names, or raises ImportError without matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    if res.sigmas:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
        for ax, proto in zip(axes, ("float", "uint8"), strict=False):
            for m in _methods(rows, "denoise"):
                ys = [
                    next(
                        (
                            r["psnr_db"]
                            for r in rows
                            if r["task"] == "denoise"
                            and r["method"] == m
                            and r["protocol"] == proto
                            and r["setting"] == f"{s:g}"
                        ),
                        np.nan,
                    )
                    for s in res.sigmas
                ]
                ax.plot(res.sigmas, ys, "o-" if m != "input" else "k--", label=LABELS.get(m, m))
            ax.set_title(f"denoising, {proto} protocol")
            ax.set_xlabel("sigma (0-255)")
            ax.grid(alpha=0.3)
        axes[0].set_ylabel("PSNR (dB)")
        axes[1].legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "denoise_psnr.png", dpi=110)
        plt.close(fig)
        written.append("denoise_psnr.png")
    if res.presets:
        methods = _methods(rows, "inpaint")
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        x = np.arange(len(res.presets))
        width = 0.8 / max(1, len(methods))
        for ax, key, title in zip(
            axes, ("psnr_db", "hole_psnr_db"), ("whole image", "inside holes"), strict=False
        ):
            for k, m in enumerate(methods):
                ys = [
                    next(
                        (
                            r[key]
                            for r in rows
                            if r["task"] == "inpaint" and r["method"] == m and r["setting"] == p
                        ),
                        np.nan,
                    )
                    for p in res.presets
                ]
                ax.bar(
                    x + (k - (len(methods) - 1) / 2) * width,
                    ys,
                    width,
                    label=INPAINT_LABELS.get(m, LABELS.get(m, m)),
                )
            ax.set_xticks(x, res.presets)
            ax.set_title(f"inpainting PSNR, {title}")
            ax.set_ylabel("PSNR (dB)")
            ax.grid(alpha=0.3, axis="y")
        axes[1].legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "inpaint_psnr.png", dpi=110)
        plt.close(fig)
        written.append("inpaint_psnr.png")
    return written


def crop_panel(image: np.ndarray, label: str, box: tuple[int, int, int]) -> np.ndarray:
    """The ``box`` = (top, left, size) crop of ``image`` (uint8 or 0-1 float, ``(H, W[, C])``)
    under a white 20-px band holding ``label``: uint8 ``(20 + size, size, 3)``."""
    y, x, c = box
    crop = as_255(image, image.shape if image.ndim == 3 else (*image.shape, 1))
    crop = np.round(crop[y : y + c, x : x + c]).astype(np.uint8)
    if crop.shape[2] == 1:
        crop = np.repeat(crop, 3, axis=2)
    header = np.full((20, crop.shape[1], 3), 255, np.uint8)
    cv2.putText(header, label, (3, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([header, crop], 0)


def panel_strip(panels: list[np.ndarray]) -> np.ndarray:
    """Equal-height uint8 ``(H, W, 3)`` panels side by side with 4-px white gaps."""
    gap = np.full((panels[0].shape[0], 4, 3), 255, np.uint8)
    parts = []
    for p in panels:
        parts += [p, gap]
    return np.concatenate(parts[:-1], 1)


def save_rgb(image: np.ndarray, path: str | Path) -> None:
    """Write a uint8 RGB ``(H, W, 3)`` image to ``path`` (format from the extension)."""
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))


def write_crops(res: Results, out: Path, size: int = 192) -> list[str]:
    """Side-by-side crops of the first image; returns the file names."""
    written = []
    if "denoise" in res.examples:
        ex = res.examples["denoise"]
        h, w = ex["clean"].shape[:2]
        c = min(size, h, w)
        box = ((h - c) // 2, (w - c) // 2, c)
        order = [
            ("noisy", f"noisy s{res.crop_sigma:g}"),
            ("bm3d", "BM3D"),
            ("restore", "restore"),
            ("clean", "clean"),
        ]
        name = f"crops_denoise_s{res.crop_sigma:g}.png"
        save_rgb(
            panel_strip([crop_panel(ex[k], label, box) for k, label in order if k in ex]),
            out / name,
        )
        written.append(name)
    if "inpaint" in res.examples:
        ex = res.examples["inpaint"]
        mask = ex["mask"]
        h, w = mask.shape
        c = min(size, h, w)
        stride = max(1, c // 4)
        best, box = None, (0, 0, c)
        for y in list(range(0, h - c + 1, stride)) + [h - c]:
            for x in list(range(0, w - c + 1, stride)) + [w - c]:
                score = abs(mask[y : y + c, x : x + c].mean() - 0.3)  # some hole, mostly context
                if best is None or score < best:
                    best, box = score, (y, x, c)
        order = [
            ("masked", f"masked ({res.crop_preset})"),
            ("opencv-telea", "Telea"),
            ("restore", "restore"),
            ("clean", "clean"),
        ]
        name = f"crops_inpaint_{res.crop_preset}.png"
        save_rgb(
            panel_strip([crop_panel(ex[k], label, box) for k, label in order if k in ex]),
            out / name,
        )
        written.append(name)
    return written


def write_outputs(res: Results, out: str | Path, crop: int = 192) -> list[Path]:
    """Write results.md, results.csv, per_image.csv, plots and crops into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = summarise(res)
    write_csv(rows, out / "results.csv", SUMMARY_COLUMNS)
    per_image = [{**r, "psnr_db": r["psnr"], "hole_psnr_db": r["hole_psnr"]} for r in res.records]
    write_csv(per_image, out / "per_image.csv", PER_IMAGE_COLUMNS)
    files = ["results.csv", "per_image.csv"]
    notes = []
    try:
        plots = write_plots(res, rows, out)
        files += plots
        if plots:
            notes.append("Plots: " + ", ".join(f"`{p}`" for p in plots) + ".")
    except ImportError:
        notes.append(
            "Plots skipped: matplotlib is not installed (`pip install matplotlib`, or the "
            "project's `bench` extra)."
        )
    crops = write_crops(res, out, crop)
    files += crops
    if crops:
        notes.append(
            "Example crops of the first image (uint8 protocol for denoising): "
            + ", ".join(f"`{c}`" for c in crops)
            + "."
        )
    (out / "results.md").write_text(markdown(res, rows, notes))
    files.insert(0, "results.md")
    return [out / f for f in files]
