"""``restore-bench``: benchmark restore weights against classical denoisers and inpainters.

    restore-bench                      # shipped model on ../shared/data (CBSD68, real pairs)
    restore-bench --weights runs/x/export/model.pt --max-images 10 --out runs/bench
    restore-bench --sigmas 25 --presets medium --peers bm3d opencv-telea
    restore-bench --tasks real --peers bm3d --max-images 4     # real noise, BM3D subset
    restore-bench speed --megapixels 24                         # speed and peak memory of Restorer
    restore-bench uncertainty                                   # calibration of the uncertainty
    restore-bench damage                                        # finding and repairing damage
    restore-bench samples                                       # plural completions of holes
    restore-bench inpaint                                       # hole fills: PSNR and texture

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

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def main(argv: Sequence[str] | None = None) -> int:
    """``restore-bench speed|uncertainty|damage|samples|inpaint ...`` or the quality benchmark;
    returns the exit status. The speed run imports only what ``Restorer`` needs, so its memory
    figures are what a user's process holds (the quality benchmark's metrics and plots import
    torchmetrics and matplotlib)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["speed"]:
        from restore.bench.speed import main as speed_main

        return speed_main(argv[1:])
    if argv[:1] == ["damage"]:
        from restore.bench.damage import main as damage_main

        return damage_main(argv[1:])
    if argv[:1] == ["inpaint"]:
        from restore.bench.inpaint import main as inpaint_main

        return inpaint_main(argv[1:])
    if argv[:1] == ["samples"]:
        from restore.bench.samples import main as samples_main

        return samples_main(argv[1:])
    if argv[:1] == ["uncertainty"]:
        from restore.bench.uncertainty import main as uncertainty_main

        return uncertainty_main(argv[1:])
    from restore.bench.quality import main as quality_main

    return quality_main(argv)


def model_parser(prog: str, description: str, max_images_help: str) -> argparse.ArgumentParser:
    """The options every model benchmark shares: --weights, --model, --images, --max-images,
    --out (default ``runs/benchmark/<subcommand>``)."""
    from restore.weights import add_model_options

    parser = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_model_options(parser)
    parser.add_argument("--images", type=Path, help="clean test images (default: Kodak24)")
    parser.add_argument("--max-images", type=int, help=max_images_help)
    default_out = Path("runs") / "benchmark" / prog.split()[-1]
    parser.add_argument(
        "--out",
        type=Path,
        default=default_out,
        help=f"where results.md and results.csv go (default: {default_out})",
    )
    return parser


def load_restorer(
    args: argparse.Namespace,
    head: str | None = None,
    name: str = "",
    device: str = "cpu",
    precision: str = "fp32",
    tile: int | None = None,
):
    """The one loader of every benchmark: ``(Restorer, description)`` of ``--weights`` or the
    shipped ``--model`` (the description names the file and its sha256), or None after printing
    why it cannot load or lacks the ``head`` attribute (e.g. ``damage_head``; ``name``: the head
    in words)."""
    import hashlib

    from restore import Restorer
    from restore.models.weights import load_net, shipped_weights
    from restore.weights import DEFAULT_MODEL, SHIPPED_MODELS

    model = args.model or DEFAULT_MODEL
    try:
        net = load_net(args.weights, model=model).float()
    except (FileNotFoundError, ValueError) as err:
        print(f"error: cannot load weights: {err}", file=sys.stderr)
        return None
    if head is not None and getattr(net, head) is None:
        print(f"error: these weights have no {name}", file=sys.stderr)
        return None
    kwargs = {} if tile is None else {"tile": tile}
    restorer = Restorer(net, device=device, precision=precision, **kwargs)
    if args.weights is None:
        digest = hashlib.sha256(shipped_weights(model).read_bytes()).hexdigest()[:12]
        return restorer, f"shipped model `{model}` ({SHIPPED_MODELS[model]}, sha256 {digest})"
    path = Path(args.weights)
    digest = (
        f" (sha256 {hashlib.sha256(path.read_bytes()).hexdigest()[:12]})" if path.is_file() else ""
    )
    return restorer, f"`{args.weights}`{digest}"


def main_exit() -> None:
    """Console-script entry point: exit with :func:`main`'s status."""
    sys.exit(main())


if __name__ == "__main__":
    main_exit()
