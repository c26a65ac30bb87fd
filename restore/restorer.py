"""``Restorer``: denoise and inpaint NumPy arrays, PIL images, torch tensors and image files.

>>> from restore import Restorer
>>> r = Restorer.from_pretrained()            # weights shipped in the package, no network
>>> clean = r.denoise(noisy_uint8_array)      # blind; or r.denoise(x, sigma=25) (0-255 scale)
>>> filled = r.inpaint(photo, mask)           # mask: True (or white, above 127) = missing
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from restore.convert import as_floats, from_batch, to_batch
from restore.geometry import DIHEDRAL, dihedral, hole_region, pad_border, undo_dihedral
from restore.io.images import check_max_pixels
from restore.io.masks import holes_in_mask, holes_in_mask_tensor
from restore.models import RestorationVAE
from restore.models.heads import require_head
from restore.models.texture import texture_fill
from restore.models.weights import load_model
from restore.options import (
    DEFAULT_MASK_GROW,
    DEFAULT_MASK_MAX_WIDTH,
    HOLE_TILE_OVERLAP,
    MAX_PIXELS,
    MAX_SIGMA,
    TILE_OVERLAP,
    check_number,
)
from restore.precision import autocast_dtype
from restore.runtime import compile_restoration, pick_backend
from restore.shipped import DEFAULT_MODEL
from restore.tiling import hole_windows, tiled

# Pixels of mirrored image added on every side before the network and cut off after: at the edge
# of its input the network sees zero padding and left a frame of noise 2 px wide (issue #21).
BORDER = 16
# Pixels of image around each hole that a fill which keeps the known pixels is given, the rest of
# the image left out of the network (:func:`restore.tiling.hole_windows`; MODEL_CARD.md, "Where
# the time goes").
HOLE_CONTEXT = 64


def pick_device(device: str | torch.device | None = "auto") -> torch.device:
    """``auto``/None: CUDA, then MPS, then CPU; otherwise the named device."""
    if device in (None, "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(device)


class Restorer:
    """Restore images with a trained :class:`RestorationVAE`.

    Args:
        net: the network.
        device: ``auto`` (CUDA, then MPS, then CPU) or a torch device.
        tile: tile side in pixels for large images (memory stays bounded); None (the default):
            the fewest tiles of at most :data:`restore.options.MAX_TILE_PIXELS` pixels (all the
            batch's images together), so a photo of about a megapixel runs whole
            (:func:`restore.tiling.tile_shape`). Inputs are padded to the network's stride
            internally.
        tile_overlap: overlap of neighbouring tiles in pixels: the outer half is context only, the
            inner half is blended smoothly. None (the default): :data:`restore.options.TILE_OVERLAP`
            for an image without holes, :data:`restore.options.HOLE_TILE_OVERLAP` for one with
            holes (a fill reads farther than denoising).
        precision: ``auto`` (fp16 on CUDA; bf16 on a CPU that computes in bf16 natively, fp32
            on other CPUs; fp32 on MPS: :mod:`restore.precision`), ``fp32``, ``fp16`` or
            ``bf16``.
            Any output with NaNs from reduced precision is recomputed in fp32.
        self_ensemble: restore the 8 flips and rotations of the image and average them (8x the
            time, a little better; see MODEL_CARD.md). ``sample`` ignores it: averaging draws
            would blur them.
        max_pixels: image and mask files above this many pixels are refused from their header,
            before decoding (decompression bombs); None: no limit. Arrays are taken as they are.
        progress: None, or a callable ``progress(done, total)`` called after each tile of each
            pass over the image, ``total`` being the pass's number of tiles (1 for an image that
            runs whole); a pass ends with ``(total, total)`` and the next starts again at
            ``done`` = 1. A call may make several passes (:meth:`sample` one per draw,
            ``self_ensemble`` 8, :meth:`repair` the detection and then the fill) or none (an
            output that is the input). It is the attribute ``progress``, which may be set later;
            outputs do not depend on it.
        source: where the weights came from (a path, ``the shipped photo model``), named when a
            method needs a part the network lacks
            (:func:`restore.models.heads.require_head`);
            :meth:`from_pretrained` and :meth:`from_checkpoint` set it.
        texture: give filled holes the fine detail of the image's own known pixels
            (:func:`restore.models.texture.texture_fill`, guided by the network's fill; the
            default); False: the network's fill alone, smoother and closer in PSNR
            (MODEL_CARD.md). The attribute ``texture``. Outputs without holes do not depend on
            it.
        backend: where the deterministic restoration runs (:data:`restore.options.BACKENDS`):
            ``auto`` (the default: OpenVINO on a CPU without native bf16 when it is installed,
            ``pip install 'restore[openvino]'``; PyTorch otherwise), ``torch``, ``openvino`` or
            ``onnxruntime`` (CPU only). A runtime compiles the network once, at the first image
            (:func:`restore.runtime.compile_restoration`, cached on disk), and serves
            :meth:`denoise`, :meth:`inpaint`, :meth:`restore` and :meth:`repair`'s fill, at the
            ``precision`` it resolves to; sampling, the heads and the noise map run in PyTorch.
            The attribute ``backend`` is the one chosen.

    Every method checks its arguments and raises ``ValueError`` (``TypeError`` for a wrong
    type) with a one-line message: noise levels are numbers in [0, 255] grey levels.
    """

    def __init__(
        self,
        net: RestorationVAE,
        device: str | torch.device | None = "auto",
        tile: int | None = None,
        tile_overlap: int | None = None,
        precision: str = "auto",
        self_ensemble: bool = False,
        max_pixels: int | None = MAX_PIXELS,
        progress: Callable[[int, int], None] | None = None,
        source: str | None = None,
        texture: bool = True,
        backend: str = "auto",
    ) -> None:
        if precision not in ("auto", "fp32", "fp16", "bf16"):
            raise ValueError(f"precision must be auto, fp32, fp16 or bf16, got {precision!r}")
        check_number("tile", tile, 1, integer=True, optional=True)
        check_number("tile_overlap", tile_overlap, 0, integer=True, optional=True)
        overlap = HOLE_TILE_OVERLAP if tile_overlap is None else tile_overlap
        if tile is not None and not overlap < tile / 2:
            raise ValueError(f"tile_overlap must be below tile / 2, got {overlap}, {tile}")
        self.max_pixels = check_max_pixels(max_pixels)
        self.self_ensemble = self_ensemble
        self.device = pick_device(device)
        self.net = net.eval().to(self.device).to(memory_format=torch.channels_last)
        self.tile, self.tile_overlap = tile, tile_overlap
        self.autocast_dtype = autocast_dtype(self.device.type, precision)
        self.progress = progress
        self.source = source
        self.texture = bool(texture)
        self.backend = pick_backend(backend, self.device, self.autocast_dtype)
        self._backend_asked = backend
        self._compiled = None  # the runtime's graph, compiled at the first image

    @classmethod
    def from_pretrained(cls, model: str = DEFAULT_MODEL, **kwargs: Any) -> Restorer:
        """A model shipped inside the package, by name (no network access): ``photo`` (the
        default: real camera noise, white noise and holes) or ``gaussian`` (white Gaussian noise;
        see MODEL_CARD.md)."""
        net, source = load_model(model=model)
        return cls(net, **{"source": source, **kwargs})

    @classmethod
    def from_checkpoint(cls, path: str | Path, **kwargs: Any) -> Restorer:
        """A ``restore-train`` run folder, Lightning checkpoint or exported weights file."""
        net, source = load_model(path)
        return cls(net, **{"source": source, **kwargs})

    # ----------------------------------------------------------------------------------------------
    def denoise(self, image: Any, sigma: float | None = None, strength: float = 1.0) -> Any:
        """Remove noise; ``sigma`` is the noise standard deviation on the 0-255 scale (None:
        blind). ``strength`` (0-1) is how much of what the model takes away goes: the output is
        the input plus ``strength`` times the model's change (a linear blend), so 0 gives the
        input as it is, 1 the full restoration, and 0.5 keeps half of the noise's amplitude,
        with the grain and fine texture that go with it, spread as it was. (Telling the model a
        lower noise level instead scored worse on real camera noise for the same detail kept,
        and on white noise took most of the noise away even at low strengths.)"""
        return self._run(image, None, sigma, keep_known=False, strength=strength)

    def inpaint(self, image: Any, mask: Any) -> Any:
        """Fill the pixels where ``mask`` says a hole (True, 1 in a 0/1 array, or above half the
        range: :mod:`restore.io.masks`); known pixels are kept exactly."""
        return self._run(image, mask, 0.0, keep_known=True)

    def restore(
        self, image: Any, mask: Any = None, sigma: float | None = None, strength: float = 1.0
    ) -> Any:
        """Denoise everywhere and fill the holes in ``mask`` (if given) at once. ``strength``
        (0-1) blends the known pixels as :meth:`denoise` does; the holes are always filled in
        full (0: the known pixels are kept exactly, as :meth:`inpaint` keeps them)."""
        return self._run(image, mask, sigma, keep_known=False, strength=strength)

    def sample(
        self,
        image: Any,
        mask: Any = None,
        n: int = 8,
        sigma: float | None = None,
        seed: int | None = None,
        temperature: float = 1.0,
    ) -> list[Any]:
        """``n`` plausible restorations drawn from the model (different fills of the holes, other
        readings of the noise), each in the input's layout. ``mask`` and ``sigma`` mean what they
        mean to :meth:`restore`: the known pixels are denoised, blind (None) or at ``sigma``
        (0-255 scale); ``sigma=0`` says they are clean: they are kept exactly, as
        :meth:`inpaint` keeps them. ``temperature`` scales the latent draws' spread (0: every
        draw is :meth:`restore`'s output, or :meth:`inpaint`'s with ``sigma=0``; MODEL_CARD.md
        measures what it changes). ``seed`` makes the draws reproducible: draw ``k`` (from 0) has
        seed ``seed + k``, so ``sample(..., n=1, seed=seed + k)`` gives it again alone. Holes get
        texture from the image's known pixels (``texture``), other texture in each draw."""
        check_number("n", n, 1, integer=True)
        check_number("temperature", temperature, 0, 10)
        check_number("seed", seed, integer=True, optional=True)
        sigma = check_number("sigma", sigma, 0, MAX_SIGMA, optional=True)
        # Always sample (a None generator would decode the prior mean: n identical outputs); without
        # a seed, draw one from torch's global generator so torch.manual_seed still reproduces.
        first = seed if seed is not None else int(torch.randint(2**62, ()).item())
        keep_known = mask is not None and sigma == 0  # as inpaint: the known pixels are clean
        draws = []
        for k in range(n):
            g = torch.Generator(device=self.device)
            g.manual_seed(first + k)
            draws.append(
                self._run(image, mask, sigma, keep_known, generator=g, temperature=temperature)
            )
        return draws

    def uncertainty(self, image: Any, mask: Any = None, sigma: float | None = None) -> Any:
        """How sure the model is of :meth:`restore`'s output: the predicted standard deviation of
        its error per pixel, in grey levels (0-255 scale; RMS over the colour channels),
        calibrated on held-out images (MODEL_CARD.md) to follow the noise level the image shows
        (measured per tile on large images). Returned as :meth:`detect_damage` does.
        Needs a model with an uncertainty head; raises ``ValueError`` otherwise."""
        require_head(self.net, "uncertainty", self.source)
        sigma = check_number("sigma", sigma, 0, MAX_SIGMA, optional=True)

        def std(tile: Tensor, tile_mask: Tensor) -> Tensor:
            net = self.net
            spread = net.restore_with_uncertainty(tile, tile_mask, noise_level=sigma, filled=True)
            return spread[1].square().mean(1, keepdim=True).sqrt().mul(255.0)

        return self._pixel_map(image, mask, std)

    def estimate_noise(self, image: Any, mask: Any = None) -> Any:
        """The noise level the model reads in each region of the image, as it is told when
        denoising blind: the standard deviation of the noise in grey levels (0-255 scale), smooth
        over 16-pixel cells. Returned as :meth:`detect_damage` does. ``mask``: holes, whose
        pixels say nothing about the noise. Needs a model with a noise estimator (``photo``);
        raises ``ValueError`` otherwise."""
        require_head(self.net, "noise", self.source)

        def level(tile: Tensor, tile_mask: Tensor) -> Tensor:
            return self.net.estimate_noise(tile, tile_mask, filled=True)

        return self._pixel_map(image, mask, level)

    def detect_damage(self, image: Any, mask: Any = None) -> Any:
        """Probability that each pixel is damaged (scratches, dust, creases, stains, writing on
        an old photo), in [0, 1]: an ``(H, W)`` float32 array for arrays, PIL images and paths; a
        float32 tensor ``(B, 1, H, W)`` (or ``(1, H, W)``) for tensors. ``mask``: known holes,
        left out of the search. Needs a model with a damage head; raises ``ValueError``
        otherwise."""
        require_head(self.net, "damage", self.source)

        def probability(tile: Tensor, tile_mask: Tensor) -> Tensor:
            return self.net.detect_damage(tile, tile_mask, filled=True)

        return self._pixel_map(image, mask, probability)

    def repair(
        self,
        image: Any,
        sigma: float | None = 0.0,
        threshold: float | None = None,
        grow: int = DEFAULT_MASK_GROW,
        probability: Any = None,
        max_width: int | None = DEFAULT_MASK_MAX_WIDTH,
    ) -> tuple[Any, Any]:
        """Find the damage on an old photo and fill it: :meth:`detect_damage`, pixels above
        ``threshold`` (0-1; None: the model's ``damage_threshold``, chosen on validation photos
        by ``restore-calibrate``; 0.5 for a model without one), regions wider than ``max_width``
        pixels left alone (damage is thin or small: scratches, dust, hairs, cracks, writing; a
        wide region is more likely a part of the picture; None: no limit), grown by ``grow``
        pixels (an elliptic dilation), then :meth:`inpaint` them (``sigma`` 0: the other pixels
        are kept exactly) or :meth:`restore` (``sigma`` None or > 0, 0-255 scale: denoised too).
        Returns ``(repaired, found)``: the repaired image in the input's layout and the damage
        filled, as ``detect_damage`` lays out its maps (bool). ``probability``:
        ``detect_damage(image)`` when it is already at hand."""
        if threshold is None:
            threshold = self.net.damage_threshold
        check_number("threshold", threshold, 0, 1, high_open=True)
        check_number("grow", grow, 0, integer=True)
        check_number("max_width", max_width, integer=True, optional=True)
        sigma = check_number("sigma", sigma, 0, MAX_SIGMA, optional=True)
        if isinstance(image, (str, os.PathLike)):
            image = self._read_path(image)
        if probability is None:
            probability = self.detect_damage(image)
        found = probability > threshold
        if max_width:
            found = _thin_regions(found, max_width)
        found = _grow(found, grow)
        if sigma == 0 and not found.any():
            repaired = _copy(image)
        elif sigma == 0:
            repaired = self.inpaint(image, found)
        else:
            repaired = self.restore(image, found if found.any() else None, sigma)
        return repaired, found

    def _pixel_map(self, image: Any, mask: Any, fn) -> Any:
        """``fn(tile, tile_mask) -> (B, 1, h, w)`` over the image's tiles, blended, in the
        layout :meth:`detect_damage` describes."""
        if isinstance(image, (str, os.PathLike)):
            image = self._read_path(image)
        batch, layout = to_batch(image)
        x, m = self.network_inputs(batch, self._mask_batch(mask, tuple(batch.shape)))

        def map_tile(tile, tile_mask, window):
            dtype = self.autocast_dtype
            ctx = torch.autocast(self.device.type, dtype=dtype) if dtype else nullcontext()
            with torch.no_grad(), ctx:
                return fn(tile.contiguous(memory_format=torch.channels_last), tile_mask).float()

        out = cut_border(self._tiled(map_tile, x, m))
        if layout.kind == "torch":
            out = out.to(layout.device)
            return out if len(layout.shape) == 4 else out[0]
        return out[0, 0].cpu().numpy()

    def _tiled(self, fn, x: Tensor, holes: Tensor) -> Tensor:
        """One pass of ``fn`` over ``x``'s tiles (:func:`restore.tiling.tiled`), reporting to
        :attr:`progress`."""
        overlap = self.tile_overlap
        if overlap is None:
            overlap = HOLE_TILE_OVERLAP if bool(holes.any()) else TILE_OVERLAP
        return tiled(fn, x, holes, self.tile, overlap, self.net.stride, self.progress)

    def _fill_windows(self, fn, x: Tensor, holes: Tensor, windows) -> Tensor:
        """:meth:`_tiled` on each of ``windows`` (:func:`restore.tiling.hole_windows`) only, its
        holes pasted into ``x`` (the known pixels are the input's): a fill that keeps the known
        pixels, at the cost of the windows. ``x`` (float32, made for this call) takes the fills:
        the windows do not overlap, so none reads another's."""
        out = x.float()
        for y0, y1, x0, x1 in windows:

            def shifted(tile, tile_mask, window, y0=y0, x0=x0):
                return fn(tile, tile_mask, (window[0] + y0, window[1] + x0))

            part = self._tiled(shifted, x[..., y0:y1, x0:x1], holes[..., y0:y1, x0:x1])
            inside = holes[..., y0:y1, x0:x1] != 0
            out[..., y0:y1, x0:x1] = torch.where(inside, part, out[..., y0:y1, x0:x1])
        return out

    # ----------------------------------------------------------------------------------------------
    def _read_path(self, path: str | os.PathLike) -> np.ndarray:
        """Pixels of an image file (EXIF orientation applied, at most ``max_pixels``); raises
        ``ImageFileError`` naming it."""
        from restore.io.images import read_image_file

        return read_image_file(path, self.max_pixels).pixels

    def _mask_batch(self, mask: Any, shape: tuple[int, ...]) -> Tensor | None:
        """``(B, 1, H, W)`` float 0/1 holes of ``mask``, read by :mod:`restore.io.masks`'s rule."""
        if mask is None:
            return None
        if isinstance(mask, (str, os.PathLike)):
            mask = self._read_path(mask)
        if isinstance(mask, Tensor):
            m = holes_in_mask_tensor(mask).cpu()
        else:
            m = torch.from_numpy(holes_in_mask(mask))[None, None]
        b, _, h, w = shape
        if m.shape[-2:] != (h, w):
            raise ValueError(f"mask is {m.shape[-1]}x{m.shape[-2]} but the image is {w}x{h}")
        if m.shape[0] not in (1, b):
            raise ValueError(f"{m.shape[0]} masks for {b} images")
        if bool(m.flatten(1).all(1).any()):
            raise ValueError("the mask covers the whole image: no known pixel to fill it from")
        return m.float().expand(b, 1, h, w)

    def _net_tile(
        self,
        degraded: Tensor,
        mask: Tensor,
        window: tuple[int, int],
        sigma: float | None,
        keep_known: bool,
        eps: Tensor | None,
        dtype: torch.dtype | None,
    ) -> Tensor:
        """One tile at ``window`` = (y, x); ``eps``: the whole image's latent draws (sampling)."""
        # the runtime's graph, at its precision (a redo in fp32 after NaNs runs in PyTorch)
        runtime = self._runtime() if eps is None and dtype == self.autocast_dtype else None
        if runtime is not None:
            level = torch.tensor([float("nan") if sigma is None else sigma])
            return self.net.finish(runtime(degraded, mask, level), degraded, mask, keep_known)
        ctx = torch.autocast(self.device.type, dtype=dtype) if dtype else nullcontext()
        x = degraded.contiguous(memory_format=torch.channels_last)
        with torch.no_grad(), ctx:
            if eps is None:
                return self.net.restore(x, mask, keep_known, noise_level=sigma, filled=True)
            s = self.net.stride
            (y0, x0), (h, w) = window, x.shape[-2:]
            tile_eps = eps[..., y0 // s : (y0 + h) // s, x0 // s : (x0 + w) // s][None]
            return self.net.sample(
                x, mask, 1, keep_known, noise_level=sigma, filled=True, eps=tile_eps
            )[0]

    def _runtime(self):
        """The runtime's compiled graph (compiled at the first call), or None where the network
        runs in PyTorch. A runtime that fails to compile gives way to PyTorch with a warning
        under ``auto``; a named one raises a one-line ``RuntimeError``."""
        if self.backend != "torch" and self._compiled is None:
            try:
                threads = torch.get_num_threads()
                self._compiled = compile_restoration(
                    self.net, self.backend, threads, self.autocast_dtype
                )
            except Exception as err:  # a runtime's own errors have no common base class
                message = f"{self.backend} could not compile the network: {err}".splitlines()[0]
                if self._backend_asked != "auto":
                    raise RuntimeError(message) from err
                warnings.warn(f"{message}; running in PyTorch", stacklevel=3)
                self.backend = "torch"
        return None if self.backend == "torch" else self._compiled

    def network_inputs(self, batch: Tensor, holes: Tensor | None) -> tuple[Tensor, Tensor]:
        """What the network is given for ``batch`` ``(B, C, H, W)`` (0-1; or, with no hole, the
        uint8 values of :func:`restore.convert.to_batch` ``integers=True``, left so until
        :func:`restore.convert.as_floats` reads each tile) with ``holes`` ``(B, 1, H, W)`` (1:
        missing; None: no hole): the image (gray repeated to RGB, holes pre-filled) and the hole
        map on the device, both mirrored :data:`BORDER` pixels beyond every edge
        (:func:`cut_border` takes them off the network's output)."""
        if batch.shape[1] == 1 and self.net.image_channels == 3:
            batch = batch.expand(-1, 3, -1, -1)
        x = pad_border(batch.to(self.device), BORDER)
        if holes is None:  # one zero broadcast, not an image-sized mask
            zero = torch.zeros((1, 1, 1, 1), device=x.device)
            return x, zero.expand(x.shape[0], 1, *x.shape[-2:])
        x = as_floats(x)
        m = pad_border(holes.to(self.device), BORDER)
        hole = (m != 0).any(0)[0]
        if bool(hole.any()):  # pre-filled once, so tiles share one fill; only around the holes
            top, bottom, left, right = hole_region(hole)
            region = (..., slice(top, bottom), slice(left, right))
            x[region] = self.net.fill_holes(x[region], m[region])
        return x, m

    def _run(
        self,
        image: Any,
        mask: Any,
        sigma: float | None,
        keep_known: bool,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
        strength: float = 1.0,
    ) -> Any:
        sigma = check_number("sigma", sigma, 0, MAX_SIGMA, optional=True)
        check_number("strength", strength, 0, 1)
        if isinstance(image, (str, os.PathLike)):
            image = self._read_path(image)  # a file path gives a NumPy array back
        # an 8-bit photo stays 8-bit up to each tile where nothing else needs it as floats
        batch, layout = to_batch(image, integers=mask is None and strength == 1)
        holes = self._mask_batch(mask, tuple(batch.shape))
        if strength == 0 and holes is None:
            return _copy(image)
        keep_known = keep_known or strength == 0
        gray = batch.shape[1] == 1 and self.net.image_channels == 3
        x, m = self.network_inputs(batch, holes)
        # the input as floats is needed again only to blend; else it is freed before the network
        blend_from = batch if strength < 1 else None
        del batch
        eps = None
        if (
            generator is not None
        ):  # one latent draw for the whole image: tiles agree where they overlap
            s = self.net.stride
            shape = (
                x.shape[0],
                self.net.latent_channels,
                -(-x.shape[-2] // s),
                -(-x.shape[-1] // s),
            )
            eps = torch.randn(shape, generator=generator, device=generator.device)
            eps = eps.mul_(temperature).to(self.device)

        def net_tile(tile, tile_mask, window):
            """One tile; an output with NaNs from reduced precision is redone in fp32."""
            dtype, tile = self.autocast_dtype, as_floats(tile)
            out = self._net_tile(tile, tile_mask, window, sigma, keep_known, eps, dtype)
            if dtype is not None and torch.isnan(out).any():
                out = self._net_tile(tile, tile_mask, window, sigma, keep_known, eps, None)
            return out

        one_pass = not self.self_ensemble or generator is not None
        windows = None
        if keep_known and holes is not None and one_pass:
            windows = hole_windows(m, HOLE_CONTEXT, self.net.stride)
        if windows is not None:
            out = self._fill_windows(net_tile, x, m, windows)
        elif one_pass:
            out = self._tiled(net_tile, x, m)
        else:
            out = None
            for k, flip in DIHEDRAL:
                turned = self._tiled(net_tile, dihedral(x, k, flip), dihedral(m, k, flip))
                turned = undo_dihedral(turned, k, flip)
                out = turned if out is None else out.add_(turned)
            out = out.div_(len(DIHEDRAL))
        out = cut_border(out)
        if holes is not None and self.texture:  # a seed per draw: samples differ in texture
            seed = 0
            if generator is not None and temperature > 0:
                seed = int(
                    torch.randint(2**31 - 1, (1,), generator=generator, device=generator.device)
                )
            out = texture_fill(out, holes.to(out.device), seed=seed, inplace=True)
        out = out.mean(1, keepdim=True) if gray else out
        if strength < 1:  # input + strength * (restored - input) on the known pixels
            blend = torch.lerp(blend_from.to(out), out, strength)
            out = blend if holes is None else torch.where(holes.to(out.device) > 0, out, blend)
        result = from_batch(out.clamp_(0, 1), layout, inplace=True)
        return _copy_known(result, image, holes) if keep_known and holes is not None else result


def _copy(image: Any) -> Any:
    """A copy of an array, tensor or PIL image, for outputs that are the input unchanged."""
    return image.clone() if isinstance(image, Tensor) else image.copy()


def cut_border(out: Tensor) -> Tensor:
    """``out`` ``(..., H, W)`` without :data:`BORDER` pixels on every side (undoes the padding of
    :meth:`Restorer.network_inputs`)."""
    return out[..., BORDER:-BORDER, BORDER:-BORDER] if BORDER else out


def _thin_regions(found: Any, max_width: int) -> Any:
    """``found`` (a bool ``(H, W)`` array or ``(..., H, W)`` tensor) without its connected regions
    that are wider than ``max_width`` pixels at their widest (twice the largest distance from a
    region pixel to the region's edge)."""
    import cv2

    maps = found if isinstance(found, np.ndarray) else found.detach().cpu().numpy()
    flat = maps.reshape(-1, *maps.shape[-2:]).astype(np.uint8)
    kept = np.zeros_like(flat, dtype=bool)
    for i, plane in enumerate(flat):
        count, labels = cv2.connectedComponents(plane, connectivity=8)
        if count <= 1:
            continue
        depth = cv2.distanceTransform(plane, cv2.DIST_L2, 3)
        widest = np.zeros(count, np.float32)
        np.maximum.at(widest, labels.ravel(), depth.ravel())
        keep = 2 * widest <= max_width
        keep[0] = False
        kept[i] = keep[labels]
    kept = kept.reshape(maps.shape)
    return kept if isinstance(found, np.ndarray) else torch.from_numpy(kept).to(found.device)


def _grow(found: Any, pixels: int) -> Any:
    """A bool ``(H, W)`` array or ``(..., H, W)`` tensor dilated by an ellipse of radius
    ``pixels``."""
    if pixels == 0:
        return found
    import cv2
    import kornia

    size = 2 * pixels + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    if isinstance(found, np.ndarray):
        return cv2.dilate(found.astype(np.uint8), kernel) > 0
    maps = found.reshape(-1, 1, *found.shape[-2:]).float()
    grown = kornia.morphology.dilation(maps, torch.from_numpy(kernel).to(maps))
    return (grown > 0.5).reshape(found.shape)


def _copy_known(result: Any, image: Any, holes: Tensor) -> Any:
    """Copy the known pixels of a float ``image`` into ``result`` bit for bit.

    Blending overlapping tiles can move them by an ulp, and float64 inputs pass through float32;
    integer outputs are already exact after rounding.
    """
    if isinstance(result, np.ndarray) and result.dtype.kind == "f":
        keep = holes[0, 0].cpu().numpy() == 0
        result[keep] = image[keep]
    elif isinstance(result, Tensor) and result.is_floating_point():
        m = holes.to(result.device) != 0
        result = torch.where(m if result.dim() == 4 else m[0], result, image.to(result))
    return result
