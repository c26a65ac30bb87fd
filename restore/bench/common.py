"""What every ``restore-bench`` subcommand shares: the model options and the one loader of the
weights. The subcommands' modules import it; :mod:`restore.bench.cli` only dispatches to them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

USAGE = """``restore-bench``: benchmark restore weights against classical denoisers and inpainters.

    restore-bench                      # shipped model on ../shared/data (CBSD68, real pairs)
    restore-bench --weights runs/x/export/model.pt --max-images 10 --out runs/bench
    restore-bench --sigmas 25 --presets medium --peers bm3d opencv-telea
    restore-bench --tasks real --peers bm3d --max-images 4     # real noise, BM3D subset
    restore-bench speed --megapixels 24                         # speed and peak memory of Restorer
    restore-bench profile                                       # where each task's time goes
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


def model_parser(prog: str, description: str, max_images_help: str) -> argparse.ArgumentParser:
    """The options every model benchmark shares: --weights, --model, --images, --max-images,
    --out (default ``runs/benchmark/<subcommand>``)."""
    from restore.shipped import add_model_options

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
    device: str = "cpu",
    precision: str = "fp32",
    tile: int | None = None,
    backend: str = "auto",
):
    """The one loader of every benchmark: ``(Restorer, description)`` of ``--weights`` or the
    shipped ``--model`` (the description names the file and its sha256), or None after printing
    why it cannot load or lacks the optional part ``head`` (a key of
    :data:`restore.models.heads.HEADS`, e.g. ``"damage"``)."""
    import hashlib

    from restore import Restorer
    from restore.models.heads import HEADS, has_head
    from restore.models.weights import load_model, shipped_weights
    from restore.shipped import DEFAULT_MODEL, SHIPPED_MODELS

    try:
        net = load_model(args.weights, args.model)[0].float()
    except (OSError, ValueError) as err:
        print(f"error: cannot load weights: {err}", file=sys.stderr)
        return None
    if head is not None and not has_head(net, head):
        print(f"error: these weights have no {HEADS[head].name}", file=sys.stderr)
        return None
    kwargs = {} if tile is None else {"tile": tile}
    try:
        restorer = Restorer(net, device=device, precision=precision, backend=backend, **kwargs)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return None
    if args.weights is None:
        model = args.model or DEFAULT_MODEL
        digest = hashlib.sha256(shipped_weights(model).read_bytes()).hexdigest()[:12]
        return restorer, f"shipped model `{model}` ({SHIPPED_MODELS[model]}, sha256 {digest})"
    path = Path(args.weights)
    digest = (
        f" (sha256 {hashlib.sha256(path.read_bytes()).hexdigest()[:12]})" if path.is_file() else ""
    )
    return restorer, f"`{args.weights}`{digest}"
