"""Convert user images (NumPy, PIL, torch) to float batches and back, keeping type and layout.

NumPy: ``(H, W)`` gray, ``(H, W, C)`` with C = 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA);
uint8, uint16 or float32/float64 in ``[0, 1]``. PIL: modes L, LA, RGB, RGBA, I;16 and P (palette,
returned as RGB or RGBA). torch: ``(C, H, W)`` or ``(B, C, H, W)`` floats in ``[0, 1]`` with C = 1,
3 or 4. Alpha is set aside and reattached unchanged.

Float inputs may stray outside ``[0, 1]`` by as much as unclipped synthetic noise puts them (values
in ``FLOAT_RANGE``, e.g. ``GaussianNoise(clip=False)``, the protocol of published denoising tables);
they are passed on as they are, not clipped, since clipping loses information. Restored pixels are
in ``[0, 1]``; inpainting copies the known pixels through as given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

_INT_MAX = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}
FLOAT_RANGE = (-2.0, 3.0)  # [0, 1] plus unclipped Gaussian noise up to sigma ~75 (0-255 scale)


def _check_float_range(low: float, high: float) -> None:
    """Reject NaN/inf and floats far outside [0, 1] (0-255 data, say), which noise cannot
    explain."""
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError("float image has NaN or infinite values")
    if low < FLOAT_RANGE[0] or high > FLOAT_RANGE[1]:
        raise ValueError(
            f"float images must be in [0, 1] (or near it, with unclipped noise); this "
            f"one spans [{low:.4g}, {high:.4g}] (0-255 data? divide by 255)"
        )


@dataclass
class Layout:
    """What :func:`from_batch` needs to give an output the input's type, dtype and shape.

    Attributes:
        kind: the input's type: ``"numpy"``, ``"pil"`` or ``"torch"``.
        dtype: the input's dtype (a NumPy dtype; for tensors, a torch dtype); the output is cast
            back to it.
        shape: the input's shape, alpha channel included (for PIL images, that of its pixel
            array, palette images expanded to RGB or RGBA).
        alpha: the input's alpha channel, in its own type, or None: an ``(H, W)`` array as
            stored (unscaled), or for tensors the ``(B, 1, H, W)`` slice.
        pil_mode: the PIL image's mode (after palette expansion); None for other inputs.
        device: the input tensor's device; None for other inputs.
    """

    kind: str
    dtype: Any
    shape: tuple[int, ...]
    alpha: Any = None
    pil_mode: str | None = None
    device: torch.device | None = None


def _from_numpy(
    array: np.ndarray, kind: str = "numpy", pil_mode: str | None = None, integers: bool = False
) -> tuple[Tensor, Layout]:
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 2, 3, 4)):
        raise ValueError(
            f"expected an (H, W) or (H, W, C) image with C in 1-4, got shape {array.shape}"
        )
    if array.dtype in _INT_MAX:
        scale = _INT_MAX[array.dtype]
    elif array.dtype in (np.float32, np.float64):
        scale = 1.0
    else:
        raise ValueError(f"unsupported image dtype {array.dtype} (use uint8, uint16 or float32)")
    hwc = array[:, :, None] if array.ndim == 2 else array
    alpha = None
    if hwc.shape[2] in (2, 4):
        alpha, hwc = hwc[:, :, -1].copy(), hwc[:, :, :-1]
    if scale == 1.0 and hwc.size:
        _check_float_range(float(hwc.min()), float(hwc.max()))
    layout = Layout(kind, array.dtype, array.shape, alpha, pil_mode)
    if integers and array.dtype == np.uint8:  # a view where it can be, never written to
        plain = hwc.flags.c_contiguous and hwc.flags.writeable
        return torch.from_numpy(hwc if plain else np.array(hwc)).permute(2, 0, 1)[None], layout
    pixels = np.array(hwc, dtype=np.float32)  # one full-size copy, scaled in place
    pixels /= scale
    return torch.from_numpy(pixels).permute(2, 0, 1)[None], layout


def to_batch(image: Any, integers: bool = False) -> tuple[Tensor, Layout]:
    """``image`` as a float32 ``(B, C, H, W)`` batch (C = 1 or 3) and its layout.

    Values are in ``[0, 1]``, or near it for float inputs with unclipped noise (see the module
    docstring); raises ``ValueError`` for empty images, NaN, infinities or floats far outside.
    ``integers=True``: an 8-bit image (NumPy uint8, PIL) comes back as its uint8 values instead,
    a quarter of the memory, for the caller to divide by 255 where it reads them
    (:func:`as_floats`).
    """
    batch, layout = _to_batch(image, integers)
    if 0 in batch.shape:
        raise ValueError(f"empty image: shape {tuple(layout.shape)} has no pixels")
    return batch, layout


def as_floats(batch: Tensor) -> Tensor:
    """A batch of :func:`to_batch` in [0, 1] as float32: uint8 values divided by 255 (the same
    floats :func:`to_batch` gives), float batches as they are."""
    return batch.float().div_(255.0) if batch.dtype == torch.uint8 else batch


def _to_batch(image: Any, integers: bool) -> tuple[Tensor, Layout]:
    if isinstance(image, np.ndarray):
        return _from_numpy(image, integers=integers)
    if isinstance(image, Tensor):
        if (
            image.dim() not in (3, 4)
            or image.shape[-3] not in (1, 3, 4)
            or not image.is_floating_point()
        ):
            raise ValueError(
                f"expected a float (C, H, W) or (B, C, H, W) tensor with C in 1, 3, 4; got "
                f"{tuple(image.shape)} {image.dtype}"
            )
        batch = image if image.dim() == 4 else image[None]
        alpha = None
        if batch.shape[1] == 4:
            alpha, batch = batch[:, 3:], batch[:, :3]
        layout = Layout("torch", image.dtype, tuple(image.shape), alpha, device=image.device)
        if batch.numel():
            low, high = torch.aminmax(batch.detach())
            _check_float_range(float(low), float(high))
        return batch.float(), layout
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a dependency
        Image = None
    if Image is not None and isinstance(image, Image.Image):
        mode = image.mode
        if mode == "P":
            image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        elif mode not in ("L", "LA", "RGB", "RGBA", "I;16"):
            raise ValueError(f"unsupported PIL image mode {mode}")
        return _from_numpy(np.asarray(image), "pil", image.mode, integers)
    raise TypeError(
        f"unsupported image type {type(image).__name__}: use a NumPy array, a PIL image "
        "or a torch tensor"
    )


def from_batch(batch: Tensor, layout: Layout, inplace: bool = False) -> Any:
    """Turn a float ``(B, C, H, W)`` batch in ``[0, 1]`` back into the type and layout of the
    input; ``inplace``: ``batch`` may be overwritten (one image-sized copy less)."""
    if layout.kind == "torch":
        out = batch.to(device=layout.device, dtype=layout.dtype)
        if layout.alpha is not None:  # reattached unchanged (no float32 round trip for float64)
            out = torch.cat([out, layout.alpha.to(device=out.device, dtype=out.dtype)], 1)
        return out if len(layout.shape) == 4 else out[0]
    hwc = batch[0].permute(1, 2, 0).float().cpu().numpy()
    if np.dtype(layout.dtype) in _INT_MAX:
        scale = _INT_MAX[np.dtype(layout.dtype)]
        scaled = np.multiply(hwc, scale, out=hwc if inplace else None)  # then all in place
        out = np.clip(np.round(scaled, out=scaled), 0, scale, out=scaled).astype(layout.dtype)
    else:
        out = np.clip(hwc, 0, 1).astype(layout.dtype)
    if layout.alpha is not None:
        out = np.concatenate([out, layout.alpha[:, :, None].astype(out.dtype)], axis=2)
    out = out.reshape(layout.shape) if len(layout.shape) == 2 or layout.shape[-1] == 1 else out
    if layout.kind == "pil":
        from PIL import Image

        return Image.fromarray(out)
    return out
