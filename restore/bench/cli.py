"""``restore-bench``: benchmark restore weights against classical denoisers and inpainters.

    restore-bench                      # shipped model on ../shared/data (CBSD68, real pairs)
    restore-bench --weights runs/x/export/model.pt --max-images 10 --out runs/bench
    restore-bench --sigmas 25 --presets medium --peers bm3d opencv-telea
    restore-bench --tasks real --peers bm3d --max-images 4     # real noise, BM3D subset
    restore-bench speed --megapixels 24                         # speed and peak memory of Restorer
    restore-bench uncertainty [--calibrate OUT]                 # calibration of the uncertainty

Writes into --out (default runs/benchmark):
  results.md        Markdown tables (denoising, real noise, inpainting) with the protocol
  results.csv       one row per task x protocol x setting x method (means over the images)
  per_image.csv     one row per image x task x protocol x setting x method
  denoise_psnr.png, inpaint_psnr.png    plots (only when matplotlib is installed)
  crops_denoise_s<sigma>.png            noisy | BM3D | restore | clean, first image
  crops_inpaint_<preset>.png            masked | Telea | restore | clean, first image

The protocol is in :mod:`restore.bench.protocol` and in each results.md.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """``restore-bench speed ...``, ``restore-bench uncertainty ...`` or the quality benchmark;
    returns the exit status. The speed run imports only what ``Restorer`` needs, so its memory
    figures are what a user's process holds (the quality benchmark's metrics and plots import
    torchmetrics and matplotlib)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["speed"]:
        from restore.bench.speed import main as speed_main

        return speed_main(argv[1:])
    if argv[:1] == ["uncertainty"]:
        from restore.bench.uncertainty import main as uncertainty_main

        return uncertainty_main(argv[1:])
    from restore.bench.quality import main as quality_main

    return quality_main(argv)


def main_exit() -> None:
    """Console-script entry point: exit with :func:`main`'s status."""
    sys.exit(main())


if __name__ == "__main__":
    main_exit()
