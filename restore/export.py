"""``restore-export``: the deterministic restoration as an ONNX graph, for runtimes without PyTorch.

    restore-export --onnx photo.onnx                      # the shipped photo model
    restore-export --onnx mine.onnx --weights runs/x/export/model.pt --check

The graph (:class:`OnnxRestoration`): inputs ``image`` ``(B, 3, H, W)`` float32 in [0, 1] (any
``H``, ``W``; gray images repeated to 3 channels), ``mask`` ``(B, 1, H, W)`` float32 (1 = hole)
and ``noise_level`` ``(1,)`` float32 (the noise standard deviation on the 0-255 scale; NaN:
blind, 0: clean known pixels, as ``Restorer.inpaint`` says); output ``restored`` ``(B, 3, H, W)``
in [0, 1], every pixel. Three steps stay outside the graph, as ``Restorer`` does them:

1. before: pre-fill the holes with the model's fill (``RestorationVAE.fill_holes``: the
   weights' ``hole_fill``, whose iterations depend on the image size);
2. after, on the whole image (after the tiles are blended): the texture stage, which gives the
   holes the fine detail of the known pixels (``restore.models.texture.texture_fill(restored,
   mask)``: a nearest-neighbour search whose work depends on the holes, in torch; on the
   graph's output, which differs from torch's by about 1e-4, it may pick another source where
   two match about equally well);
3. after, for inpainting a clean image: copy the known pixels back
   (``np.where(mask, restored, image)``).

Large images: run the graph on overlapping tiles, as ``Restorer`` does (``restore.tiling``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from restore.geometry import pad_border
from restore.io.atomic import atomic_path
from restore.models.vae import RestorationVAE
from restore.restorer import BORDER
from restore.runtime import INPUTS, RestorationGraph, onnx_graph


class OnnxRestoration(nn.Module):
    """The network's deterministic restoration (decoded prior mean) of pre-filled images of any
    size (at least 17 x 17): mirrored ``BORDER`` pixels beyond every edge (as ``Restorer`` does)
    around :class:`restore.runtime.RestorationGraph`, and cropped back inside.

    Args:
        net: the network to export; it is cast to float32 and put in eval mode (in place).
    """

    def __init__(self, net: RestorationVAE) -> None:
        super().__init__()
        self.graph = RestorationGraph(net)

    def forward(self, image: Tensor, mask: Tensor, noise_level: Tensor) -> Tensor:
        h, w = image.shape[-2:]
        image, mask = pad_border(image, BORDER), pad_border(mask, BORDER)
        restored = self.graph(image, mask, noise_level)
        return restored[..., BORDER : BORDER + h, BORDER : BORDER + w]


def export_onnx(net: RestorationVAE, path: str | Path, opset: int = 17) -> Path:
    """Write :class:`OnnxRestoration` of ``net`` to ``path`` (fp32, dynamic batch, height and
    width; :func:`restore.runtime.onnx_graph`)."""
    if net.image_channels != 3:
        raise ValueError("ONNX export supports colour models (image_channels 3)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    graph = onnx_graph(OnnxRestoration(net), opset)
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(graph)
    return path


def check_onnx(net: RestorationVAE, path: str | Path, size: int = 512, threads: int = 0) -> dict:
    """Run the exported graph with onnxruntime on a seeded ``size`` x ``size`` photo-like test
    image (noise, holes pre-filled; blind and told sigma 25) and compare with PyTorch: the
    largest absolute difference (0-1 scale), and seconds per image for each (best of 3, after a
    warm-up; ``threads`` 0: the runtimes' defaults)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    g = torch.Generator().manual_seed(0)
    y, x = torch.meshgrid(torch.linspace(0, 6, size), torch.linspace(0, 9, size), indexing="ij")
    clean = torch.stack([(x + c).sin() * (y - c).cos() * 0.3 + 0.5 for c in range(3)])[None]
    image = (clean + 25 / 255 * torch.randn(clean.shape, generator=g)).clamp(0, 1)
    mask = torch.zeros(1, 1, size, size)
    mask[..., size // 4 : size // 2, size // 3 : size // 2] = 1
    image = net.fill_holes(image, mask)
    graph = OnnxRestoration(net)
    worst, seconds = 0.0, {"onnxruntime": [], "pytorch": []}
    for level in (float("nan"), 25.0):
        inputs = (image, mask, torch.tensor([level]))
        feeds = {name: t.numpy() for name, t in zip(INPUTS, inputs, strict=True)}
        for _ in range(4):
            start = time.perf_counter()
            ours = session.run(None, feeds)[0]
            seconds["onnxruntime"].append(time.perf_counter() - start)
            start = time.perf_counter()
            with torch.no_grad():
                theirs = graph(*inputs).numpy()
            seconds["pytorch"].append(time.perf_counter() - start)
        worst = max(worst, float(abs(ours - theirs).max()))
    best = {k: min(v[1:4] + v[5:]) for k, v in seconds.items()}  # the first run of each warms up
    return dict(max_abs_diff=worst, size=size, **{f"{k}_s": v for k, v in best.items()})


def main(argv: Sequence[str] | None = None) -> int:
    from restore.shipped import add_model_options

    parser = argparse.ArgumentParser(
        prog="restore-export",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--onnx", type=Path, required=True, metavar="OUT.onnx")
    add_model_options(parser)
    parser.add_argument("--opset", type=int, default=17)
    parser.add_argument(
        "--check",
        action="store_true",
        help="run the graph with onnxruntime and compare it with PyTorch (speed too)",
    )
    args = parser.parse_args(argv)

    from restore.models.weights import load_model

    try:
        net = load_model(args.weights, args.model)[0].float()
        path = export_onnx(net, args.onnx, args.opset)
    except (OSError, ValueError) as err:
        print(f"restore-export: error: {err}", file=sys.stderr)
        return 1
    print(
        f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB, hole fill before it: {net.hole_fill})"
    )
    if args.check:
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            print("restore-export: --check needs onnxruntime: pip install 'restore[onnx]'")
            return 1
        result = check_onnx(net, path)
        print(
            f"onnxruntime vs PyTorch on a {result['size']}x{result['size']} image: max abs diff "
            f"{result['max_abs_diff']:.2e}; {result['onnxruntime_s']:.3f} s vs "
            f"{result['pytorch_s']:.3f} s"
        )
    return 0


def main_exit() -> None:
    """Console-script entry point: exit with :func:`main`'s status."""
    sys.exit(main())
