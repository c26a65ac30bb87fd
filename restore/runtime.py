"""Where the network's deterministic restoration runs: in PyTorch, or as a graph compiled for a
CPU inference runtime (OpenVINO, ONNX Runtime), which runs the same fp32 arithmetic in less time
on CPUs without native bf16 (MODEL_CARD.md, "Where the time goes").

* :class:`RestorationGraph`: the prior-mean restoration of pre-filled images of any size, the
  module that is exported (``restore-export`` adds the mirrored border around it).
* :func:`onnx_graph`: it as ONNX bytes.
* :func:`pick_backend`: what ``backend="auto"`` runs on a device at a precision.
* :func:`compile_restoration`: a callable ``(image, mask, noise_level) -> restored`` on a runtime;
  the compiled model is cached on disk (:func:`cache_dir`) under a hash of the weights, so the
  next process loads it in about a second instead of converting it again.

Tensors are ``(B, C, H, W)`` float32 in [0, 1]; masks ``(B, 1, H, W)`` with 1 = missing pixel.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import io
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from restore.models.heads import HEADS
from restore.models.vae import DECODED_HEADS, RestorationVAE
from restore.models.weights import saved_config
from restore.options import BACKENDS

INPUTS, OUTPUTS = ("image", "mask", "noise_level"), ("restored",)
# Bumped whenever RestorationGraph computes something else: it is part of the cache key.
GRAPH_VERSION = 1

Runner = Callable[[Tensor, Tensor, Tensor], Tensor]


class RestorationGraph(nn.Module):
    """The network's deterministic restoration (decoded prior mean, clamped to [0, 1]) of images
    whose holes hold :meth:`RestorationVAE.fill_holes`'s fill, of any size of at least 17 x 17:
    padded to the stride by reflection and cropped back. ``noise_level`` ``(1,)``: grey levels
    (0-255 scale), NaN = read by the noise estimator.

    Args:
        net: the network; it is cast to float32 and put in eval mode (in place).
    """

    def __init__(self, net: RestorationVAE) -> None:
        super().__init__()
        self.net = net.float().eval()

    def forward(self, image: Tensor, mask: Tensor, noise_level: Tensor) -> Tensor:
        h, w = image.shape[-2:]
        s = self.net.stride
        pad = (0, (s - w % s) % s, 0, (s - h % s) % s)
        image, mask = F.pad(image, pad, mode="reflect"), F.pad(mask, pad, mode="reflect")
        encoding = self.net.encode(image, mask, noise_level, filled=True)
        return self.net.decode(encoding.mu, encoding).clamp(0.0, 1.0)[..., :h, :w]


def onnx_graph(module: nn.Module, opset: int = 17) -> bytes:
    """``module`` (taking ``image``, ``mask``, ``noise_level`` as :class:`RestorationGraph` does)
    as an fp32 ONNX graph with dynamic batch, height and width. Uses PyTorch's TorchScript-based
    exporter: the padding to the stride depends on the size, which ``torch.export`` (the dynamo
    exporter) cannot express for arbitrary sizes."""
    example = (torch.rand(1, 3, 61, 83), torch.zeros(1, 1, 61, 83), torch.tensor([float("nan")]))
    axes = {0: "batch", 2: "height", 3: "width"}
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        # the tracer warns about the size checks it freezes; the padding makes them hold
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            example,
            buffer,
            dynamo=False,
            opset_version=opset,
            input_names=list(INPUTS),
            output_names=list(OUTPUTS),
            dynamic_axes={"image": axes, "mask": axes, "restored": axes},
        )
    return buffer.getvalue()


def available(backend: str) -> bool:
    """Whether ``backend``'s Python package is installed (``torch`` always is)."""
    return backend == "torch" or importlib.util.find_spec(backend) is not None


def pick_backend(backend: str, device: torch.device, dtype: torch.dtype | None) -> str:
    """The backend to run: ``backend`` itself, or for ``auto`` the one named by the environment
    variable ``RESTORE_BACKEND`` when it is set (a machine's choice, e.g. ``torch``), else
    OpenVINO on a CPU that computes in fp32 (``dtype`` None: no native bf16) when it is
    installed, else PyTorch (GPUs, bf16 CPUs, where it was not measured slower). Raises
    ``ValueError`` for an unknown name, a runtime on another device than the CPU, or one not
    installed."""
    if backend == "auto" and os.environ.get("RESTORE_BACKEND", "auto") != "auto":
        backend = os.environ["RESTORE_BACKEND"]
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "auto":
        fp32_cpu = device.type == "cpu" and dtype is None
        return "openvino" if fp32_cpu and available("openvino") else "torch"
    if backend != "torch" and device.type != "cpu":
        raise ValueError(f"backend {backend} runs on the CPU, not on {device.type}")
    if not available(backend):
        extra = "onnx" if backend == "onnxruntime" else backend
        raise ValueError(f"backend {backend} is not installed: pip install 'restore[{extra}]'")
    return backend


def cache_dir() -> Path:
    """Where compiled graphs are kept: ``$RESTORE_CACHE_DIR``, else ``$XDG_CACHE_HOME/restore``,
    else ``~/.cache/restore``."""
    if os.environ.get("RESTORE_CACHE_DIR"):
        return Path(os.environ["RESTORE_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "restore"


def _cache_key(net: RestorationVAE, backend: str) -> str:
    """The cache name of ``net``'s graph on ``backend``: a hash of what the graph computes with
    (not the recognition network nor the decoded heads, which it does not run)."""
    unused = ("posterior", *(HEADS[key].attribute for key in DECODED_HEADS))
    digest = hashlib.sha256(f"{GRAPH_VERSION} {backend} {saved_config(net)}".encode())
    module = importlib.import_module(backend)
    digest.update(str(getattr(module, "__version__", "")).encode())
    for name, tensor in net.state_dict().items():
        if name.startswith(unused):
            continue
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return f"{backend}-{digest.hexdigest()[:24]}"


def _cached(key: str, write: Callable[[Path], object]) -> Path | None:
    """The cache folder ``key``, made by ``write(folder)`` when it is not there yet (in a
    temporary folder renamed into place, so a cut run leaves nothing half written); None when
    the cache cannot be written (the caller then compiles without it)."""
    root = cache_dir()
    folder = root / key
    if folder.is_dir():
        return folder
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=root))
    except OSError:
        return None
    try:
        write(tmp)
        tmp.rename(folder)
    except OSError:  # another process put it there first, or the disk is full
        shutil.rmtree(tmp, ignore_errors=True)
    return folder if folder.is_dir() else None


def _feeds(image: Tensor, mask: Tensor, noise_level: Tensor) -> dict:
    """The graph's inputs by name (:data:`INPUTS`), as contiguous float32 arrays."""
    tensors = (image, mask, noise_level)
    return {name: t.float().contiguous().numpy() for name, t in zip(INPUTS, tensors, strict=True)}


def compile_restoration(
    net: RestorationVAE, backend: str, threads: int, dtype: torch.dtype | None = None
) -> Runner:
    """:class:`RestorationGraph` of ``net`` compiled for ``backend`` (``openvino`` or
    ``onnxruntime``, CPU) with ``threads`` threads: a callable ``(image, mask, noise_level) ->
    restored`` on CPU tensors (float32 out). OpenVINO computes at ``dtype``'s precision (None:
    fp32); ONNX Runtime in fp32. The network is copied, not changed."""
    graph = RestorationGraph(copy.deepcopy(net).cpu())
    key = _cache_key(graph.net, backend)
    if backend == "openvino":
        import openvino as ov

        def convert():
            return ov.convert_model(io.BytesIO(onnx_graph(graph)))

        core = ov.Core()
        folder = _cached(
            key, lambda f: ov.save_model(convert(), f / "model.xml", compress_to_fp16=False)
        )
        model = convert() if folder is None else core.read_model(folder / "model.xml")
        hint = {None: "f32", torch.bfloat16: "bf16", torch.float16: "f16"}[dtype]
        config = {
            "INFERENCE_NUM_THREADS": threads,
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": hint,
        }
        compiled = core.compile_model(model, "CPU", config)

        def run(image: Tensor, mask: Tensor, noise_level: Tensor) -> Tensor:
            return torch.from_numpy(compiled(_feeds(image, mask, noise_level))[0].copy())

        return run
    if backend == "onnxruntime":
        import onnxruntime as ort

        folder = _cached(key, lambda f: (f / "model.onnx").write_bytes(onnx_graph(graph)))
        model = (folder / "model.onnx").read_bytes() if folder is not None else onnx_graph(graph)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])

        def run(image: Tensor, mask: Tensor, noise_level: Tensor) -> Tensor:
            return torch.from_numpy(session.run(None, _feeds(image, mask, noise_level))[0])

        return run
    raise ValueError(f"no graph to compile for backend {backend!r}")
