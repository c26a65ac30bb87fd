"""``restore-image``: denoise or inpaint photo files and folders into an output folder.

Only the standard library is imported at start-up, so ``--help`` answers at once; torch and the
model are loaded when there is work to do.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from restore.io.atomic import remove_empty_folders
from restore.io.mask_rule import MASK_RULE
from restore.options import (
    BACKEND_HELP,
    BACKENDS,
    DEFAULT_MASK_GROW,
    DEFAULT_MASK_MAX_WIDTH,
    HOLE_TILE_OVERLAP,
    MAX_PIXELS,
    MAX_TILE_PIXELS,
    MIN_TILE,
    TASKS,
    check_number,
    parse_number,
)
from restore.run_report import ReportRow, write_report
from restore.shipped import add_model_options

if TYPE_CHECKING:  # restore.jobs imports NumPy and OpenCV: only once there is work to do
    from restore.jobs import Job

EXIT_OK, EXIT_FAILURES, EXIT_INTERRUPTED = 0, 1, 130  # usage errors exit 2 (argparse)
EXIT_TERMINATED = 143  # SIGTERM (what SLURM, Docker and kill send): stopped as Ctrl-C stops
# set to a nonzero value in all but the first process of a Lightning or SLURM run
RANK_VARIABLES = ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="restore-image",
        description="Denoise or inpaint images with a VAE. Originals are never modified.",
        epilog=f"Masks: {MASK_RULE}. Example: restore-image photos/ -o restored/ --recursive",
    )
    p.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="image files and folders")
    p.add_argument(
        "-o", "--output", required=True, type=Path, metavar="OUTDIR", help="output folder"
    )
    p.add_argument(
        "-r",
        "--recursive",
        action="store_true",
        help="descend into subfolders, keeping the tree under OUTDIR",
    )
    p.add_argument(
        "--task",
        choices=TASKS,
        default="auto",
        help="auto: inpaint where a mask exists, denoise otherwise (default); restore: denoise "
        "and fill the holes; repair: as --auto-mask",
    )
    p.add_argument(
        "--masks",
        type=Path,
        metavar="DIR",
        help="mask folder: same file stem as the image, any image extension (holes: below)",
    )
    p.add_argument("--mask-from-alpha", action="store_true", help="transparent pixels are holes")
    p.add_argument("--mask-color", metavar="R,G,B", help="pixels of exactly this colour are holes")
    p.add_argument(
        "--auto-mask",
        action="store_true",
        help="find damage (scratches, dust, creases, writing) with the model, repair it, and write "
        "the mask found as <name>_mask.png next to the output",
    )
    p.add_argument(
        "--mask-threshold",
        type=float,
        metavar="P",
        help="--auto-mask: damage probability above which a pixel is repaired (default: the "
        "model's, chosen on validation photos; MODEL_CARD.md)",
    )
    p.add_argument(
        "--mask-grow",
        type=int,
        default=DEFAULT_MASK_GROW,
        metavar="PX",
        help="--auto-mask: grow the found mask by this many pixels, for soft edges "
        f"(default {DEFAULT_MASK_GROW})",
    )
    p.add_argument(
        "--mask-max-width",
        type=int,
        default=DEFAULT_MASK_MAX_WIDTH,
        metavar="PX",
        help="--auto-mask: leave alone found regions wider than this (damage is thin or small; "
        f"a wide region is more likely part of the picture); 0: no limit (default "
        f"{DEFAULT_MASK_MAX_WIDTH})",
    )
    p.add_argument(
        "--noise-level",
        default="auto",
        metavar="auto|SIGMA",
        help="noise standard deviation on the 0-255 scale, or auto (blind; default). "
        "With a mask and SIGMA > 0, the known pixels are denoised too",
    )
    p.add_argument(
        "--strength",
        type=float,
        default=1.0,
        metavar="S",
        help="how much of the noise to take away, 0-1: the output is the input plus S times the "
        "model's change (0: the input, 1: the full restoration, the default; between: some of "
        "the grain kept). Holes are filled in full",
    )
    add_model_options(p)
    p.add_argument("--device", default="auto", help="auto (cuda, mps, cpu), cpu, cuda, cuda:1, mps")
    p.add_argument("--backend", default="auto", choices=BACKENDS, help=BACKEND_HELP)
    p.add_argument(
        "--devices",
        type=int,
        metavar="N",
        help="run Lightning's predict loop on N devices (processes) per node, each file once "
        "(DDP; instead of --device)",
    )
    p.add_argument(
        "--num-nodes",
        type=int,
        default=1,
        metavar="M",
        help="with --devices: machines taking part (start the same command on each, e.g. "
        "with srun under SLURM; default 1)",
    )
    p.add_argument(
        "--accelerator",
        choices=["auto", "cpu", "gpu", "cuda", "mps"],
        help="with --devices: the kind of device (default auto)",
    )
    p.add_argument(
        "--tile",
        type=int,
        metavar="N",
        help=f"tile size in pixels, at least {MIN_TILE}; smaller uses less memory (default: "
        f"the fewest tiles of at most {MAX_TILE_PIXELS / 1e6:g} megapixels each)",
    )
    p.add_argument(
        "--uncertainty",
        action="store_true",
        help="also write <name>_uncertainty.png (a colour map with a scale bar) and "
        "<name>_uncertainty.tif (float32, grey levels): how sure the model is of each pixel",
    )
    p.add_argument(
        "--samples",
        type=int,
        default=0,
        metavar="N",
        help="also write N plausible restorations drawn from the model (<name>_sample1 ... "
        "_sampleN, other fills of the holes) and a contact sheet <name>_samples.png",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="--samples: seed of the first draw, the next ones S+1, S+2, ...; the same seed "
        "gives the same samples on the same kind of device (default 0)",
    )
    p.add_argument(
        "--self-ensemble",
        action="store_true",
        help="average the results of the 8 flips and rotations of each image: "
        "8x slower, a little better (MODEL_CARD.md)",
    )
    p.add_argument(
        "--smooth-fill",
        action="store_true",
        help="fill holes with the network's fill alone, without the texture copied from the "
        "photo's own known pixels (smoother; MODEL_CARD.md compares both)",
    )
    p.add_argument(
        "--format",
        choices=["keep", "png", "jpg", "webp", "tiff"],
        default="keep",
        help="output format (keep: same as the input)",
    )
    p.add_argument(
        "--quality", type=int, default=95, metavar="Q", help="JPEG/WebP quality, 1-100 (95)"
    )
    p.add_argument(
        "--suffix", default="", help="added to output file stems, e.g. _restored (no slashes)"
    )
    p.add_argument("--skip-existing", action="store_true", help="skip files whose output exists")
    p.add_argument("--dry-run", action="store_true", help="list what would be done, write nothing")
    p.add_argument(
        "--report",
        type=Path,
        metavar="FILE.csv|FILE.json",
        help="write one row per file: input, output, size, the noise level read when denoising "
        "blind (grey levels), the share of pixels filled, seconds, status, error",
    )
    p.add_argument(
        "--max-pixels",
        type=float,
        default=MAX_PIXELS,
        metavar="N",
        help="refuse images above this many pixels (decompression bombs; default "
        f"{MAX_PIXELS:.0e})",
    )
    return p


def _parse_color(text: str | None) -> tuple[int, int, int] | None:
    """``R,G,B`` as three ints (their range: :class:`restore.jobs.JobOptions`)."""
    if text is None:
        return None
    parts = text.split(",")
    if len(parts) != 3 or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"--mask-color must be R,G,B with values 0-255, got {text!r}")
    return tuple(int(p) for p in parts)


def printable(text: str) -> str:
    """``text`` for one line of the terminal: control characters (a newline in a file name)
    shown escaped, so a name cannot add lines to the summary."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _check_options(args: argparse.Namespace) -> None:
    """The run's options: ``args.options``, a :class:`restore.jobs.JobOptions` (which checks the
    job's), after the checks of the run's own (tile, quality, suffix, report); ``ValueError``
    naming the flag."""
    if args.tile is not None and args.tile < MIN_TILE:
        raise ValueError(
            f"--tile must be at least {MIN_TILE} (tiles overlap by up to {HOLE_TILE_OVERLAP} "
            "pixels)"
        )
    check_number("--quality", args.quality, 1, 100, integer=True)
    if any(c in args.suffix for c in ("/", "\\", os.sep)) or ".." in args.suffix:
        raise ValueError(f"--suffix must not hold a path (/, \\ or ..), got {args.suffix!r}")
    if any(not c.isprintable() for c in args.suffix):
        raise ValueError(f"--suffix must be printable characters, got {args.suffix!r}")
    if args.report is not None and args.report.suffix.lower() not in (".csv", ".json"):
        raise ValueError("--report must end in .csv or .json")
    from restore.jobs import JobOptions

    sigma = None if args.noise_level == "auto" else parse_number("--noise-level", args.noise_level)
    try:
        args.options = JobOptions(
            task="repair" if args.auto_mask else args.task,
            sigma=sigma,
            mask_from_alpha=args.mask_from_alpha,
            mask_color=args.mask_color,
            mask_threshold=args.mask_threshold,
            mask_grow=args.mask_grow,
            mask_max_width=args.mask_max_width,
            samples=args.samples,
            seed=args.seed,
            uncertainty=args.uncertainty,
            strength=args.strength,
            max_pixels=args.max_pixels,
        )
    except ValueError as err:
        raise ValueError(_flag_named(str(err))) from None


def _flag_named(message: str) -> str:
    """A :class:`restore.jobs.JobOptions` message with its option named as this command's flag
    (``mask_grow must be ...`` -> ``--mask-grow must be ...``, ``the noise level`` ->
    ``--noise-level``)."""
    name, sep, rest = message.partition(" must be ")
    if not sep:
        return message
    return "--" + name.removeprefix("the ").replace(" ", "-").replace("_", "-") + sep + rest


def _check_writable(args: argparse.Namespace, jobs: list[Job]) -> list[Path]:
    """Before any work: the output folders and the report can be written; parts that a killed
    run left in the output folders are removed. Returns the folders made for the check (see
    :func:`restore.io.atomic.remove_empty_folders`); ``OSError`` naming a folder that cannot be
    written."""
    from restore.io.atomic import check_writable, remove_stale_parts

    folders = {job.output.parent for job in jobs} | {args.output}
    if args.report is not None:
        folders.add(args.report.parent)
    created: list[Path] = []
    for folder in sorted(folders):
        created += check_writable(folder)
        remove_stale_parts(folder)
    return created


def plan(args: argparse.Namespace) -> tuple[list[Job], list[ReportRow]]:
    """The jobs of the command line (:func:`restore.jobs.plan_jobs`); a failed row for each input
    that does not exist."""
    from restore.jobs import plan_jobs

    jobs, missing = plan_jobs(
        args.inputs,
        args.output,
        args.options,
        recursive=args.recursive,
        masks=args.masks,
        out_format=args.format,
        suffix=args.suffix,
    )
    rows = [
        ReportRow(str(m), "", status="failed", error=f"{m}: no such file or folder")
        for m in missing
    ]
    return jobs, rows


class Progress:
    """Files done, megapixels per second and ETA on one stderr line; silent when not a terminal.

    Args:
        total: the number of files the run will restore (what the count and the ETA go up to).
    """

    def __init__(self, total: int) -> None:
        self.total, self.done, self.megapixels = total, 0, 0.0
        self.start = time.monotonic()
        self.enabled = sys.stderr.isatty()

    def update(self, megapixels: float) -> None:
        self.done += 1
        self.megapixels += megapixels
        if not self.enabled:
            return
        elapsed = max(time.monotonic() - self.start, 1e-6)
        eta = elapsed / self.done * (self.total - self.done)
        print(
            f"\r{self.done}/{self.total} files  {self.megapixels / elapsed:.2f} MP/s  "
            f"ETA {eta:4.0f} s ",
            end="",
            file=sys.stderr,
            flush=True,
        )

    def close(self) -> None:
        if self.enabled and self.done:
            print(file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.masks is not None and not args.masks.is_dir():
        parser.error(f"--masks {args.masks}: no such folder")
    if args.auto_mask and args.task not in ("auto", "repair"):
        parser.error(f"--auto-mask repairs damage: it does not go with --task {args.task}")
    args.auto_mask = args.auto_mask or args.task == "repair"
    if args.auto_mask and (args.masks or args.mask_from_alpha or args.mask_color):
        parser.error("--auto-mask finds the holes itself: leave out --masks and the mask options")
    if _lightning_run(args) and args.device != "auto":
        parser.error("give --device (one process) or --devices/--accelerator (Lightning), not both")
    if (args.devices is not None and args.devices < 1) or args.num_nodes < 1:
        parser.error("--devices and --num-nodes must be at least 1")
    try:
        args.mask_color = _parse_color(args.mask_color)
        _check_options(args)
        jobs, rows = plan(args)
    except ValueError as err:
        parser.error(str(err))

    created: list[Path] = []
    if not args.dry_run:
        try:
            created = _check_writable(args, jobs)
        except OSError as err:
            print(f"restore-image: error: {printable(str(err))}", file=sys.stderr)
            return EXIT_FAILURES
    try:
        return _restore_all(args, jobs, rows)
    finally:
        remove_empty_folders(created)


def _lightning_run(args: argparse.Namespace) -> bool:
    return bool(args.devices is not None or args.num_nodes != 1 or args.accelerator)


def _restore_all(args: argparse.Namespace, jobs: list[Job], rows: list[ReportRow]) -> int:
    """Restore the planned jobs, then report; the exit status."""
    todo = []
    for job in jobs:
        if args.skip_existing and job.output.exists():
            rows.append(
                ReportRow(str(job.source), str(job.output), status="skipped", error="output exists")
            )
        elif args.dry_run:
            rows.append(ReportRow(str(job.source), str(job.output), status="dry-run"))
            line = f"{job.source} -> {job.output}" + (f" (mask {job.mask})" if job.mask else "")
            print(printable(line))
        else:
            todo.append(job)

    status, report = EXIT_OK, True
    if todo and _lightning_run(args):
        status, report = _run_lightning(args, todo, rows)
    elif todo:
        status = _run(args, todo, rows)
    if not report:  # another process of a Lightning run: process 0 reports for all
        return status
    failed = [r for r in rows if r.status == "failed"]
    if args.report is not None:
        try:
            write_report(args.report, rows)
        except OSError as err:
            print(f"restore-image: error: cannot write the report: {err}", file=sys.stderr)
            status = status if status != EXIT_OK else EXIT_FAILURES
    done = sum(r.status == "ok" for r in rows)
    skipped = sum(r.status == "skipped" for r in rows)
    print(
        f"restore-image: {done} restored, {skipped} skipped, {len(failed)} failed"
        + (" (dry run)" if args.dry_run else ""),
        file=sys.stderr,
    )
    for r in failed:
        print(f"  failed: {printable(r.error)}", file=sys.stderr)
    if status in (EXIT_INTERRUPTED, EXIT_TERMINATED):
        return status
    return EXIT_FAILURES if failed or status else EXIT_OK


def _load_net(args, todo: list[Job], rows: list[ReportRow]):
    """The network --weights/--model name, checked against the options that need its heads;
    None (every job failed, in ``rows``) when it cannot be loaded."""
    from restore.models.heads import require_head
    from restore.models.weights import load_model

    try:
        net, source = load_model(args.weights, args.model)
        if args.auto_mask:
            require_head(net, "damage", source, "--auto-mask")
        if args.uncertainty:
            require_head(net, "uncertainty", source, "--uncertainty")
        return net
    except (OSError, ValueError, RuntimeError) as err:
        _model_not_loaded(err, todo, rows)
        return None


def _model_not_loaded(err: Exception, todo: list[Job], rows: list[ReportRow]) -> None:
    print(f"restore-image: error: cannot load the model: {err}", file=sys.stderr)
    rows.extend(
        ReportRow(str(j.source), str(j.output), status="failed", error="model not loaded")
        for j in todo
    )


def _run_lightning(args, todo: list[Job], rows: list[ReportRow]) -> tuple[int, bool]:
    """Restore ``todo`` with Lightning's predict loop (:func:`restore.predict.restore_jobs`) over
    --devices x --num-nodes processes; the rows of every process, in input order, go to ``rows``.
    Returns the status and whether this is process 0 (which reports).

    Every process runs this command from the start (Lightning starts the others with the same
    arguments) and plans the same jobs: the plans are made before any process has connected, so
    before any output is written, and --skip-existing sees the same files everywhere."""
    from restore.predict import restore_jobs

    net = _load_net(args, todo, rows)
    if net is None:  # every process got here; the first one reports
        first = all(os.environ.get(k, "0") == "0" for k in RANK_VARIABLES)
        return EXIT_FAILURES, first
    run = restore_jobs(
        net,
        todo,
        args.options,
        quality=args.quality,
        devices=args.devices or 1,
        num_nodes=args.num_nodes,
        accelerator=args.accelerator or "auto",
        tile=args.tile,
        self_ensemble=args.self_ensemble,
        texture=not args.smooth_fill,
        backend=args.backend,
    )
    if run.interrupted and run.first:
        print(
            "restore-image: interrupted; finished files are complete (the report lists "
            "this process's), rerun with --skip-existing to continue",
            file=sys.stderr,
        )
    for p in run.predictions:
        job, record = p.item, p.record or {}
        rows.append(
            ReportRow(
                str(job.source),
                str(job.output),
                size=record.get("size", ""),
                noise_level=record.get("noise_level", ""),
                filled=record.get("filled", ""),
                seconds=round(p.seconds, 3),
                status="failed" if p.error else "ok",
                error=p.error,
            )
        )
    return (_stop_status() if run.interrupted else EXIT_OK), run.first


def _run(args, todo: list[Job], rows: list[ReportRow]) -> int:
    from restore.errors import failure_message
    from restore.jobs import restore_file, write_result
    from restore.restorer import Restorer

    net = _load_net(args, todo, rows)
    if net is None:
        return EXIT_FAILURES
    try:
        restorer = Restorer(
            net,
            device=args.device,
            tile=args.tile,
            self_ensemble=args.self_ensemble,
            texture=not args.smooth_fill,
            backend=args.backend,
        )
    except (OSError, ValueError, RuntimeError) as err:
        _model_not_loaded(err, todo, rows)
        return EXIT_FAILURES
    progress = Progress(len(todo))
    try:
        for job in todo:
            start = time.monotonic()
            row = ReportRow(str(job.source), str(job.output))
            try:
                result = restore_file(restorer, job, args.options)
                write_result(result, args.options, quality=args.quality)
                report = result.report()
                row.size, row.noise_level, row.filled = (
                    report["size"], report["noise_level"], report["filled"]
                )  # fmt: skip
                row.warning, row.status = report["warning"], "ok"
                if row.warning:
                    print(f"restore-image: warning: {printable(row.warning)}", file=sys.stderr)
            except Exception as err:  # noqa: BLE001 - one file's failure is its own
                row.status, row.error = "failed", failure_message(job.source, err)
                print(f"restore-image: {printable(row.error)}", file=sys.stderr)
            row.seconds = round(time.monotonic() - start, 3)
            rows.append(row)
            w, _, h = row.size.partition("x")
            progress.update(int(w) * int(h) / 1e6 if h else 0.0)
    except KeyboardInterrupt:
        progress.close()
        print(
            f"restore-image: {_stop_reason()}; finished files are complete, rerun with "
            "--skip-existing to continue",
            file=sys.stderr,
        )
        return _stop_status()
    progress.close()
    return EXIT_OK


_TERMINATED = []  # set when SIGTERM stopped the run


def _on_sigterm(signum, frame) -> None:
    _TERMINATED.append(signum)
    raise KeyboardInterrupt


def _stop_reason() -> str:
    return "terminated (SIGTERM)" if _TERMINATED else "interrupted"


def _stop_status() -> int:
    return EXIT_TERMINATED if _TERMINATED else EXIT_INTERRUPTED


def main_exit() -> None:
    """Console script: exit with :func:`main`'s status. SIGTERM stops the run as Ctrl-C does
    (finished files complete, nothing half-written), with exit status 143; Ctrl-C before the
    run starts (while torch loads) exits 130 without a traceback."""
    try:
        signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread
        pass
    try:
        status = main()
    except KeyboardInterrupt:
        print(f"restore-image: {_stop_reason()}", file=sys.stderr)
        status = _stop_status()
    sys.exit(status)


if __name__ == "__main__":
    main_exit()
