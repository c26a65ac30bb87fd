"""One image, one job: what every front end (``restore-image``, the Lightning predict loop, Ray
Data) does to an image, in one place.

* :class:`JobOptions`: the validated options of a job (task, noise level, mask sources, damage
  search, samples, uncertainty, size limit).
* :func:`restore_pixels`: an image array (and its holes) in, a :class:`Restored` out: the task
  chosen (``auto``: fill where there are holes, denoise otherwise), float images restored on their
  own range, alpha kept (holes found from transparency come back opaque), damage found and
  repaired (``repair``), samples and the uncertainty map when asked.
* :func:`restore_file`: the same for an image file (its masks from a mask file, its alpha or a
  colour), with the side files it makes (:func:`side_path`); :func:`write_result` writes them,
  each atomically, the output last.

Tasks: ``auto``, ``denoise`` (holes ignored), ``inpaint`` (holes required; known pixels kept),
``restore`` (denoise everywhere and fill the holes), ``repair`` (old photos: the model finds the
damage and fills it; with a noise level the photo is denoised too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from restore.io.images import ImageFile, check_max_pixels
from restore.options import (
    DEFAULT_MASK_GROW,
    DEFAULT_MASK_MAX_WIDTH,
    MAX_MASK_GROW,
    MAX_MASK_WIDTH,
    MAX_PIXELS,
    MAX_SAMPLES,
    MAX_SEED,
    MAX_SIGMA,
    TASKS,
    check_number,
    is_integer,
)

OUT_SUFFIX = {"png": ".png", "jpg": ".jpg", "webp": ".webp", "tiff": ".tif"}


@dataclass
class Job:
    """One input file, where its result goes and its mask file (if any). (Not frozen: Lightning's
    loader rebuilds the dataclasses it carries.)

    Attributes:
        source: the input image file.
        output: the restored image's path (its side files go next to it, :func:`side_path`);
            None: given to :func:`write_result` instead.
        mask: the hole-mask file (white = hole, by the rule of :mod:`restore.io.masks`), the
            image's size; None: no mask file.
    """

    source: Path
    output: Path | None = None
    mask: Path | None = None

    def __str__(self) -> str:  # messages name the input file
        return str(self.source)


@dataclass(frozen=True)
class JobOptions:
    """What to do to each image; checked when made (``ValueError``, one line).

    Args:
        task: one of :data:`restore.options.TASKS`.
        sigma: the noise level in grey levels (0-255 scale), None: read from the image (blind).
            With holes, a level above 0 denoises the known pixels too.
        mask_from_alpha: transparent pixels (alpha below half) are holes; they come back opaque.
        mask_color: pixels of exactly this RGB colour (0-255) are holes.
        mask_threshold: ``repair``: damage probability above which a pixel is filled, in (0, 1);
            None: the model's (``Restorer.repair``).
        mask_grow: ``repair``: pixels to grow the found damage by.
        mask_max_width: ``repair``: found regions wider than this many pixels are left alone
            (damage is thin or small); 0: no limit.
        samples: also draw this many plausible restorations (other fills of the holes).
        seed: seed of the draws.
        uncertainty: also make the map of how sure the model is of each pixel.
        strength: how much of the noise to take away, in [0, 1] (``Restorer.denoise``: 0 keeps
            the input, 1 is the full restoration), wherever the job denoises; holes are filled
            in full, ``repair`` ignores it, and the samples and the uncertainty map are of the
            full restoration.
        max_pixels: image and mask files above this many pixels are refused from their header.
    """

    task: str = "auto"
    sigma: float | None = None
    mask_from_alpha: bool = False
    mask_color: tuple[int, int, int] | None = None
    mask_threshold: float | None = None
    mask_grow: int = DEFAULT_MASK_GROW
    mask_max_width: int = DEFAULT_MASK_MAX_WIDTH
    samples: int = 0
    seed: int = 0
    uncertainty: bool = False
    strength: float = 1.0
    max_pixels: int | None = MAX_PIXELS

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, got {self.task!r}")
        if self.sigma is not None:
            check_number("the noise level", self.sigma, 0, MAX_SIGMA)
        if self.mask_color is not None and (
            len(self.mask_color) != 3
            or not all(is_integer(c) and 0 <= c <= 255 for c in self.mask_color)
        ):
            raise ValueError(f"mask_color must be R,G,B in 0-255, got {self.mask_color!r}")
        if self.mask_threshold is not None:
            check_number("mask_threshold", self.mask_threshold, 0, 1, low_open=True, high_open=True)
        check_number("mask_grow", self.mask_grow, 0, MAX_MASK_GROW, integer=True)
        check_number("mask_max_width", self.mask_max_width, 0, MAX_MASK_WIDTH, integer=True)
        check_number("samples", self.samples, 0, MAX_SAMPLES, integer=True)
        check_number("strength", self.strength, 0, 1)
        check_number("seed", self.seed, 0, MAX_SEED, integer=True)
        if self.task == "repair" and (self.mask_from_alpha or self.mask_color is not None):
            raise ValueError("repair finds the holes itself: leave out the mask options")
        object.__setattr__(self, "max_pixels", check_max_pixels(self.max_pixels))


@dataclass
class Restored:
    """What a job made of one image; arrays in the input's layout and type (float images on their
    own range).

    Attributes:
        image: the restored image.
        holes: ``(H, W)`` bool: the pixels filled (repair: the damage found); None: none.
        samples: the plausible restorations drawn (``JobOptions.samples`` of them), each like
            ``image``; empty unless asked for.
        uncertainty: ``(H, W)`` float32: the predicted standard deviation of each pixel's error
            (:meth:`restore.restorer.Restorer.uncertainty`) in grey levels, 0 where the known
            pixels were copied; None unless asked for (``JobOptions.uncertainty``).
        noise_level: RMS of the level read when denoising blind (grey levels); None when the
            level was given, nothing was denoised (holes filled in a clean photo), for
            ``repair``, or when the model has no noise estimator.
        warning: what the user should know of this file though it did not fail (a mask file
            without a hole pixel); None when nothing.
    """

    image: np.ndarray
    holes: np.ndarray | None = None
    samples: list[np.ndarray] = field(default_factory=list)
    uncertainty: np.ndarray | None = None
    noise_level: float | None = None
    warning: str | None = None


def restore_pixels(
    restorer, pixels: np.ndarray, holes: np.ndarray | None, options: JobOptions
) -> Restored:
    """Restore one image array ``(H, W[, C])`` (uint8, uint16, or float32 on any range) with the
    holes ``(H, W)`` bool (or None) as ``options`` say; see the module docstring."""
    if options.task == "repair":
        return _repair(restorer, pixels, options)
    if holes is not None and not holes.any():
        holes = None
    if options.task == "denoise":
        holes = None
    if options.task == "inpaint" and holes is None:
        raise ValueError("task inpaint but no hole mask was found for it")
    # Float images (32-bit TIFF) are restored on their own scale: [min(0, low), max(1, high)] is
    # mapped to [0, 1] and back, so HDR highlights and negative values survive, unclipped.
    low, high = (
        (min(0.0, float(pixels.min())), max(1.0, float(pixels.max())))
        if pixels.dtype == np.float32
        else (0.0, 1.0)
    )
    scale = high - low
    scaled = pixels if scale == 1.0 and low == 0.0 else (pixels - low) / scale
    sigma = None if options.sigma is None else options.sigma / scale
    draw_sigma = sigma
    if holes is not None and (sigma or options.task == "restore"):
        # noisy photo with holes: both at once
        out = restorer.restore(scaled, holes, sigma, options.strength)
    elif holes is not None:
        out = restorer.inpaint(scaled, holes)
        draw_sigma = 0.0  # as inpaint: the known pixels are clean and kept
    else:
        out = restorer.denoise(scaled, sigma, options.strength)
    draws = _draws(restorer, scaled, holes, draw_sigma, options)

    def finish(result: np.ndarray) -> np.ndarray:
        if holes is not None and options.mask_from_alpha and _has_alpha(pixels):
            top = 1.0 if result.dtype == np.float32 else np.iinfo(result.dtype).max
            result[:, :, -1][holes] = top  # filled holes become opaque
        if (low, high) != (0.0, 1.0):
            result = (result * scale + low).astype(np.float32)
        return result

    std = _uncertainty(restorer, scaled, holes, sigma, options)
    level = None
    denoised = holes is None or options.task == "restore"
    if sigma is None and denoised and restorer.net.noise_estimator is not None:
        read = restorer.estimate_noise(scaled, holes)
        level = float(np.sqrt(np.mean(np.square(read)))) * scale
    return Restored(
        finish(out),
        holes,
        [finish(d) for d in draws],
        None if std is None else std * scale,
        level,
    )


def _repair(restorer, pixels: np.ndarray, options: JobOptions) -> Restored:
    """Find the damage, fill it (known pixels kept; denoised too with a noise level; alpha kept
    as it is)."""
    if pixels.dtype == np.float32:
        raise ValueError("repair takes 8/16-bit images, not float TIFF")
    sigma = options.sigma or 0.0  # blind denoising only when a level asks for it
    out, found = restorer.repair(
        pixels,
        sigma,
        options.mask_threshold,
        options.mask_grow,
        max_width=options.mask_max_width or None,
    )
    std = _uncertainty(restorer, pixels, found, sigma, options)
    # nothing found and nothing to denoise: the output is the input, and so is every draw
    if not found.any() and not sigma:
        draws = [pixels.copy() for _ in range(options.samples)]
    else:
        draws = _draws(restorer, pixels, found, sigma, options)
    return Restored(out, found, draws, std)


def _has_alpha(pixels: np.ndarray) -> bool:
    return pixels.ndim == 3 and pixels.shape[2] in (2, 4)


def _draws(restorer, image, holes, sigma, options: JobOptions) -> list[np.ndarray]:
    if not options.samples:
        return []
    return restorer.sample(image, holes, options.samples, sigma, seed=options.seed)


def _uncertainty(restorer, image, holes, sigma, options: JobOptions) -> np.ndarray | None:
    if not options.uncertainty:
        return None
    std = restorer.uncertainty(image, holes, sigma)
    if holes is not None and not sigma:
        std[~holes] = 0.0  # inpainting copies the known pixels
    return std


# --------------------------------------------------------------------------------------------------
# files


def find_holes(job: Job, image: ImageFile, options: JobOptions) -> np.ndarray | None:
    """The hole mask (bool ``H x W``) of a job: its mask file, its alpha (``mask_from_alpha``)
    and a colour (``mask_color``) together; None without any."""
    from restore.io.images import ImageFileError, read_image_file
    from restore.io.masks import holes_in_mask

    pixels = image.pixels
    h, w = pixels.shape[:2]
    holes = None
    if job.mask is not None:
        mask = read_image_file(job.mask, options.max_pixels).pixels
        if mask.shape[:2] != (h, w):
            raise ImageFileError(
                f"{job.mask}: mask is {mask.shape[1]}x{mask.shape[0]} but the image "
                f"{job.source} is {w}x{h}"
            )
        holes = holes_in_mask(mask)
    if options.mask_from_alpha and _has_alpha(pixels):
        alpha = pixels[:, :, -1]
        top = 1.0 if alpha.dtype == np.float32 else np.iinfo(alpha.dtype).max
        transparent = alpha < top / 2
        holes = transparent if holes is None else holes | transparent
    if options.mask_color is not None and pixels.ndim == 3 and pixels.dtype != np.float32:
        scale = 257 if pixels.dtype == np.uint16 else 1
        painted = (pixels[:, :, :3] == np.array(options.mask_color) * scale).all(axis=2)
        holes = painted if holes is None else holes | painted
    return holes


@dataclass
class JobResult:
    """A restored file, not written yet: the input (pixels and metadata) and what was made.

    Attributes:
        job: the job (input file, output path, mask file).
        input: the input file as read; its metadata goes into the output and the samples.
        restored: what was made of its pixels.
    """

    job: Job
    input: ImageFile
    restored: Restored

    @property
    def size(self) -> str:
        """``WxH`` of the input."""
        return f"{self.input.pixels.shape[1]}x{self.input.pixels.shape[0]}"

    def report(self) -> dict[str, str]:
        """What a run's report says of it: ``size``, the ``noise_level`` read when denoising
        blind (grey levels, empty when told or not read), the share of the pixels ``filled``
        (holes given or damage found; empty when none) and a ``warning`` (empty when none)."""
        level, holes = self.restored.noise_level, self.restored.holes
        return {
            "size": self.size,
            "noise_level": "" if level is None else f"{level:.2f}",
            "filled": "" if holes is None else f"{float(holes.mean()):.4f}",
            "warning": self.restored.warning or "",
        }

    def files(self, output: Path, options: JobOptions) -> list[tuple[Path, ImageFile]]:
        """``[(path, ImageFile)]`` to write for ``output``, the output last (see
        :func:`write_result`): the found damage (``repair``), the uncertainty map, the samples
        and their contact sheet, the output."""
        from restore.visualize import contact_sheet, uncertainty_picture

        r, meta = self.restored, (self.input.exif, self.input.icc)
        files = []
        if options.task == "repair":
            mask = r.holes.astype(np.uint8) * 255
            files.append((side_path(output, "mask", ".png"), ImageFile(mask)))
        if r.uncertainty is not None:
            std = r.uncertainty.astype(np.float32)
            files += [
                (side_path(output, "uncertainty", ".tif"), ImageFile(std)),
                (side_path(output, "uncertainty", ".png"), ImageFile(uncertainty_picture(std))),
            ]
        if r.samples:
            files += [
                (side_path(output, f"sample{k}"), ImageFile(draw, *meta))
                for k, draw in enumerate(r.samples, 1)
            ]
            labels = ["input", "restored"] + [
                f"sample {k} (seed {options.seed + k - 1})" for k in range(1, len(r.samples) + 1)
            ]
            sheet = contact_sheet([self.input.pixels, r.image, *r.samples], labels)
            files.append((side_path(output, "samples", ".png"), ImageFile(sheet)))
        files.append((output, ImageFile(r.image, *meta)))
        return files


def restore_file(restorer, job: Job | str | Path, options: JobOptions) -> JobResult:
    """Read and restore one image file as ``options`` say; nothing is written (a failure here
    writes nothing). Raises ``ImageFileError`` / ``ValueError`` naming the file."""
    from restore.io.images import read_image_file
    from restore.io.mask_rule import MASK_RULE

    job = job if isinstance(job, Job) else Job(Path(job))
    image = read_image_file(job.source, options.max_pixels)
    holes = None if options.task in ("denoise", "repair") else find_holes(job, image, options)
    restored = restore_pixels(restorer, image.pixels, holes, options)
    if job.mask is not None and holes is not None and not holes.any():
        restored.warning = f"{job.mask}: the mask has no hole pixel ({MASK_RULE}); nothing filled"
    return JobResult(job, image, restored)


def write_result(
    result: JobResult, options: JobOptions, output: Path | None = None, quality: int = 95
) -> None:
    """Write a :class:`JobResult` to ``output`` (default: its job's), each file atomically, in
    order: the output comes last, so an interrupted or failed write never leaves an output whose
    side files are missing (which a resumed run would then skip)."""
    from restore.io.images import write_image_file

    output = output or result.job.output
    if output is None:
        raise ValueError(f"{result.job.source}: no output path to write to")
    for path, image in result.files(output, options):
        write_image_file(path, image, quality)


def side_path(output: Path, tag: str, suffix: str | None = None) -> Path:
    """``<output stem>_<tag><suffix>`` next to ``output`` (suffix: the output's by default)."""
    return output.with_name(f"{output.stem}_{tag}{output.suffix if suffix is None else suffix}")


def side_paths(output: Path, options: JobOptions) -> list[Path]:
    """The files written beside ``output`` with these options (samples, uncertainty, mask)."""
    paths = [side_path(output, f"sample{k}") for k in range(1, options.samples + 1)]
    paths += [side_path(output, "samples", ".png")] if options.samples else []
    if options.uncertainty:
        paths += [
            side_path(output, "uncertainty", ".tif"),
            side_path(output, "uncertainty", ".png"),
        ]
    return paths + ([side_path(output, "mask", ".png")] if options.task == "repair" else [])


# --------------------------------------------------------------------------------------------------
# planning a run over files and folders


def plan_jobs(
    inputs: list[Path],
    output: Path,
    options: JobOptions,
    recursive: bool = False,
    masks: Path | None = None,
    out_format: str = "keep",
    suffix: str = "",
) -> tuple[list[Job], list[Path]]:
    """A :class:`Job` for every image file of ``inputs`` (files and folders, subfolders too when
    ``recursive``): its output under ``output`` (the folder tree kept, the format kept or
    ``out_format``, ``suffix`` added to the stem) and its mask in ``masks`` (same stem, any image
    suffix). Returns the jobs and the inputs that do not exist. ``ValueError`` when an output or
    side file (:func:`side_paths`) would overwrite an input or another output, or leave the
    output folder."""
    from restore.io.listing import list_images

    outdir = output.resolve()
    jobs: list[Job] = []
    missing: list[Path] = []
    for item in inputs:
        if item.is_dir():
            # Leave out earlier outputs only when OUTDIR is a subfolder of the input folder: when it
            # is the folder itself (clash check below) or a parent (e.g. -o .), every file is in it.
            nested_out = outdir != item.resolve() and _is_within(outdir, item.resolve())
            files = [
                p
                for p in list_images(item, recursive)
                if not (nested_out and _is_within(p.resolve(), outdir))
            ]
            pairs = [(f, f.relative_to(item)) for f in files]
        elif item.is_file():
            pairs = [(item, Path(item.name))]
        else:
            missing.append(item)
            continue
        for source, rel in pairs:
            ext = source.suffix.lower() if out_format == "keep" else OUT_SUFFIX[out_format]
            target = outdir / rel.parent / f"{rel.stem}{suffix}{ext}"
            if not _is_within(target.resolve(), outdir):  # a symlinked folder in OUTDIR
                raise ValueError(f"{target} would be written outside the output folder {outdir}")
            jobs.append(Job(source, target, _find_mask(masks, source) if masks else None))
    sources = {j.source.resolve() for j in jobs}
    clash = [j for j in jobs if j.output in sources]
    if clash:
        raise ValueError(
            f"output folder {output} would overwrite the input {clash[0].source}; "
            "choose another folder or a --suffix"
        )
    seen: dict[Path, Path] = {}
    for j in jobs:
        for path in [j.output, *side_paths(j.output, options)]:
            if path in seen:
                raise ValueError(f"{j.source} and {seen[path]} would both be written to {path}")
            if path.resolve() in sources:
                raise ValueError(f"{path} would overwrite the input of that name")
            seen[path] = j.source
    return jobs, missing


def _is_within(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def _find_mask(folder: Path, source: Path) -> Path | None:
    from restore.io.listing import IMAGE_SUFFIXES

    for suffix in IMAGE_SUFFIXES:
        for candidate in (
            folder / f"{source.stem}{suffix}",
            folder / f"{source.stem}{suffix.upper()}",
        ):
            if candidate.is_file():
                return candidate
    return None
