"""Texture for hole fills: the fine detail of a photo's own known pixels, copied into its holes
where a smooth fill (the VAE's) says the same kind of content belongs.

The VAE's fill of a large hole has the right colours and structure but little of the fine detail
that real content has: the best guess of texture the network cannot know is its average, a haze.
:func:`texture_fill` keeps that fill's low frequencies and takes the higher ones from the
known pixels, as PatchMatch inpainting (Barnes et al., 2009; Wexler et al., 2007) copies whole
patches, but guided by the fill:

1. Split the fill into three bands with two Gaussian blurs: the structure (blur of
   ``structure_sigma``), the middle band (down to the blur of ``detail_sigma``) and the fine
   detail. Only the holes' bounding box and its surroundings are worked on
   (:func:`restore.geometry.hole_region`).
2. At 1/``scale`` resolution ("cells"), find for every hole cell a known cell to copy from (a
   nearest-neighbour field, NNF) whose ``patch`` x ``patch`` neighbourhood has the same
   structure: the structure's patches, projected on their lowest 2-D DCT frequencies in a
   luma/chroma space, are compared. Random start, then PatchMatch's propagation (by jump
   flooding, so that all cells update at once) and random search.
3. Coherence: in ``coherence`` passes, each cell takes a neighbour's offset when that costs at
   most ``slack`` typical distances more (cells of one colour of a checkerboard at a time, so
   that neighbours do not swap), so that regions copy from one place and texture continues
   across cells.
4. Every hole pixel keeps the fill's structure and takes its source pixel's fine detail (no
   more than twice as strong as the detail around the hole, :func:`_amplitude_gain`), blended
   in over ``ramp`` pixels from ``edge`` pixels inside the hole on; nearer the edge the fill's
   own detail, read from both sides, is kept (thin holes such as scratches are left as the
   network filled them);
   from ``depth`` pixels inside, where the network's middle band is a guess too, the source's
   middle band as well (feathered, so that cells copying from apart meet without steps).

(Matching the copied detail as well, Wexler's expectation-maximisation with patch voting, was
tried: on photos the votes average unlike textures into a haze and the matches drift to flat
sources. Regular patterns finer than a few cells, such as narrow stripes, break where two
regions copy from apart; MODEL_CARD.md.)

Known pixels are never changed; the result depends only on the inputs and ``seed``. Speed and
quality are measured by ``restore-bench inpaint`` (MODEL_CARD.md).
"""

from __future__ import annotations

import math

import cv2
import kornia
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from restore.geometry import hole_region
from restore.models.fill import pyramid_fill

# Lowest DCT frequencies (u, v) of a patch that describe its structure, per colour channel: luma
# gets the mean, both gradients and the three second-order shapes; chroma the mean and both
# gradients.
_LUMA_FREQUENCIES = ((0, 0), (0, 1), (1, 0), (1, 1), (0, 2), (2, 0))
_CHROMA_FREQUENCIES = ((0, 0), (0, 1), (1, 0))
_DIRECTIONS = ((0, 1), (0, -1), (1, 0), (-1, 0))


def _dct_filters(size: int, frequencies) -> Tensor:
    """``(K, 1, size, size)`` orthonormal 2-D DCT-II basis functions for ``(u, v)`` pairs."""
    n = torch.arange(size, dtype=torch.float64)

    def basis(k: int) -> Tensor:
        b = torch.cos(math.pi * (n + 0.5) * k / size)
        return b / b.norm()

    return torch.stack([torch.outer(basis(u), basis(v)) for u, v in frequencies])[:, None].float()


def patch_features(guide: Tensor, patch: int) -> Tensor:
    """Describe every pixel of ``guide`` ``(1, C, h, w)`` (C = 1 or 3, 0-1 scale) by its ``patch``
    x ``patch`` neighbourhood: ``(K, h, w)``, K = 6 (gray) or 12 (RGB: luma 6, each chroma 3),
    the projections on the lowest DCT frequencies (L2 distances between them approximate the
    distances between the smooth patches). Borders are replicated."""
    if guide.shape[1] == 3:
        guide = kornia.color.rgb_to_ycbcr(guide)
    planes = []
    for c in range(guide.shape[1]):
        frequencies = _LUMA_FREQUENCIES if c == 0 else _CHROMA_FREQUENCIES
        weights = _dct_filters(patch, frequencies).to(guide)
        padded = F.pad(guide[:, c : c + 1], [patch // 2] * 4, mode="replicate")
        planes.append(F.conv2d(padded, weights)[0])
    return torch.cat(planes)


class _Field:
    """A nearest-neighbour field over the hole cells of a ``(h, w)`` grid: for hole cell ``i``
    at ``(ys[i], xs[i])``, the source cell ``(sy[i], sx[i])``, one of the ``valid`` cells.
    Candidates are scored in whole batches, one per cell; they count only where they are valid
    cells."""

    def __init__(self, features: Tensor, holes: Tensor, valid: Tensor, rng: torch.Generator):
        self.h, self.w = holes.shape
        self.features = features.flatten(1).t().contiguous()  # (h * w, K): rows gathered
        self.valid = valid.flatten()
        self.rng = rng
        self.ys, self.xs = torch.nonzero(holes, as_tuple=True)
        index = self.ys * self.w + self.xs
        self.target = self.features[index]
        # the cells of each colour of the checkerboard of the coherence passes
        odd = (self.ys + self.xs) % 2 == 1
        self.colours = tuple(torch.nonzero(c, as_tuple=True)[0] for c in (odd, ~odd))
        self.colour_targets = tuple(self.target[cells] for cells in self.colours)
        # where each hole cell sits in the list, -1 for other cells: neighbours' offsets
        self.slot = torch.full((self.h * self.w,), -1, dtype=torch.long, device=holes.device)
        self.slot[index] = torch.arange(index.numel(), device=holes.device)
        self.neighbours: dict[tuple, Tensor] = {}
        sources = torch.nonzero(self.valid, as_tuple=True)[0]
        pick = torch.randint(sources.numel(), (index.numel(),), generator=rng)
        start = sources[pick.to(sources.device)]
        self.sy, self.sx = start // self.w, start % self.w
        self.cost = (self.features[start] - self.target).square().sum(1)

    def _neighbour(self, dy: int, dx: int, colour: int | None = None) -> Tensor:
        """Slot of each hole cell's (of ``colour``'s cells') neighbour ``(dy, dx)`` away, -1
        where it is no hole cell (made once per step: propagation and the coherence passes ask
        for the same ones)."""
        if (dy, dx, colour) not in self.neighbours:
            if colour is None:
                ny, nx = self.ys + dy, self.xs + dx
                inside = (ny >= 0) & (ny < self.h) & (nx >= 0) & (nx < self.w)
                slot = self.slot[(ny * self.w + nx).clamp(0, self.h * self.w - 1)]
                self.neighbours[dy, dx, colour] = torch.where(inside, slot, -1)
            else:
                every = self._neighbour(dy, dx)
                self.neighbours[dy, dx, colour] = every[self.colours[colour]]
        return self.neighbours[dy, dx, colour]

    def _try(
        self, sy: Tensor, sx: Tensor, slack: Tensor | float = 0.0, colour: int | None = None
    ) -> None:
        """Take candidate sources where they are valid cells and cost less (at most ``slack``
        more): one per hole cell, or with ``colour`` (0 or 1, :attr:`colours`) one per cell of
        that checkerboard colour, the only cells that change then. Each of those cells is
        scored, whether its candidate counts or not: dense operations cost less than picking out
        the cells that count (and ``index_select`` / ``index_copy_`` less than indexing with a
        tensor)."""
        inside = (sy >= 0) & (sy < self.h) & (sx >= 0) & (sx < self.w)
        flat = (sy * self.w + sx).clamp(0, self.h * self.w - 1)
        take = inside & self.valid.index_select(0, flat)  # its own source again changes nothing
        target = self.target if colour is None else self.colour_targets[colour]
        cost = (self.features.index_select(0, flat) - target).square().sum(1)
        if colour is None:
            take &= cost < self.cost + slack
            self.sy = torch.where(take, sy, self.sy)
            self.sx = torch.where(take, sx, self.sx)
            self.cost = torch.where(take, cost, self.cost)
            return
        cells = self.colours[colour]
        take &= cost < self.cost.index_select(0, cells) + slack
        for field, new in ((self.sy, sy), (self.sx, sx), (self.cost, cost)):
            field.index_copy_(0, cells, torch.where(take, new, field.index_select(0, cells)))

    def _from_neighbours(
        self, step: int, slack: Tensor | float = 0.0, colour: int | None = None
    ) -> None:
        """Each cell (of ``colour``, :meth:`_try`) tries the offsets of the hole cells ``step``
        away in 4 directions."""
        for dy, dx in _DIRECTIONS:
            slot = self._neighbour(dy * step, dx * step, colour)
            has = slot >= 0
            slot = slot.clamp_min(0)
            sy = torch.where(has, self.sy.index_select(0, slot) - dy * step, -1)
            sx = torch.where(has, self.sx.index_select(0, slot) - dx * step, -1)
            self._try(sy, sx, slack, colour)

    def propagate(self, far: bool) -> None:
        """PatchMatch's propagation: each cell tries its 4 neighbours' offsets; ``far``: first
        those of the cells 2^k away (jump flooding), so that a good offset crosses the whole
        hole in one round."""
        step = 1 << max(0, int(math.log2(max(self.h, self.w))) - 1) if far else 1
        while step >= 1:
            self._from_neighbours(step)
            step //= 2

    def search(self) -> None:
        """PatchMatch's random search: around the current source in windows halving in size."""
        radius = max(self.h, self.w)
        while radius >= 1:
            jump = torch.randint(-radius, radius + 1, (2, self.sy.numel()), generator=self.rng)
            jump = jump.to(self.sy.device)
            self._try(self.sy + jump[0], self.sx + jump[1])
            radius //= 2

    def cohere(self, passes: int, slack: float) -> None:
        """Cells take a neighbour's offset when it costs at most ``slack`` typical (median)
        distances more: one checkerboard colour at a time, so that neighbours do not swap."""
        unit = self.cost.median().clamp_min(1e-12) * slack
        for _ in range(passes):
            for step in (8, 4, 2, 1):
                for colour in (0, 1):
                    self._from_neighbours(step, unit, colour)

    def sources(self, hole: Tensor, scale: int) -> tuple[Tensor, Tensor]:
        """The source pixel ``(y, x)`` of every pixel of ``hole`` (row-major order): the pixel
        at the same place in its cell's source cell."""
        oy = torch.zeros((self.h, self.w), dtype=torch.long, device=self.sy.device)
        ox = torch.zeros_like(oy)
        oy[self.ys, self.xs] = self.sy - self.ys
        ox[self.ys, self.xs] = self.sx - self.xs
        ys, xs = torch.nonzero(hole, as_tuple=True)
        return ys + scale * oy[ys // scale, xs // scale], xs + scale * ox[ys // scale, xs // scale]


def texture_fill(
    image: Tensor,
    holes: Tensor,
    seed: int = 0,
    detail_sigma: float = 1.5,
    scale: int = 3,
    patch: int = 5,
    iterations: int = 2,
    coherence: int = 2,
    slack: float = 0.5,
    edge: float = 2.0,
    ramp: float = 2.0,
    structure_sigma: float = 3.0,
    depth: float = 4.0,
    inplace: bool = False,
) -> Tensor:
    """Give the holes of a filled image the fine detail of its known pixels (module docstring).

    Args:
        image: ``(B, C, H, W)`` float image in [0, 1] (C = 1 or 3), its holes already filled
            (the VAE's restoration).
        holes: ``(B, 1, H, W)`` hole mask, nonzero = filled by the network.
        seed: the random start and search of the NNF; the same seed gives the same output.
        detail_sigma: the Gaussian blur (pixels) whose residual is the fine detail, copied from
            ``edge`` pixels inside the hole on.
        scale: the NNF is found at 1/``scale`` resolution, each cell copying ``scale`` x
            ``scale`` pixels.
        patch: side of the patches compared, in cells.
        iterations: rounds of propagation and random search.
        coherence: passes in which cells may take their neighbours' offsets.
        slack: how much worse (in typical patch distances) a neighbour's offset may be and
            still be taken in those passes.
        edge: pixels from the hole's edge (distance to the nearest known pixel) up to which the
            fill is kept as it is: holes up to twice as wide (scratches) keep the network's
            fill.
        ramp: pixels beyond ``edge`` over which the copied detail replaces the fill's.
        structure_sigma: a coarser blur (pixels); the band between it and ``detail_sigma`` is
            copied too, from ``depth`` pixels beyond ``edge`` on (over ``depth`` more pixels),
            where the network's fill of that band is a guess; the patches are matched on what
            is left after it. At or below ``detail_sigma``: one band.
        depth: see ``structure_sigma``.
        inplace: write the holes' new values into ``image`` itself (a float tensor the caller
            owns) rather than a copy: one image less in memory. Each image's values are read
            before its holes are written, so the result is the same.

    Returns:
        ``(B, C, H, W)``: ``image`` with new values in the holes only. An image without holes,
        or without a known region large enough to copy from, comes back unchanged.
    """
    if image.dim() != 4 or holes.dim() != 4 or holes.shape[-2:] != image.shape[-2:]:
        raise ValueError(
            f"expected (B, C, H, W) image and (B, 1, H, W) holes, got {tuple(image.shape)} and "
            f"{tuple(holes.shape)}"
        )
    out = image if inplace else image.clone()
    for b in range(image.shape[0]):
        hole = holes[b, 0] != 0
        if not bool(hole.any()):
            continue
        top, bottom, left, right = hole_region(hole)
        hole = hole[top:bottom, left:right]
        # contiguous: kornia blurs a contiguous float image several times faster on the CPU
        x = image[b : b + 1, :, top:bottom, left:right].float().contiguous()
        fine = _blur(x, detail_sigma)  # x - fine: the fine detail
        coarse = _blur(x, structure_sigma) if structure_sigma > detail_sigma else fine
        field = _match(coarse, hole, seed + b, scale, patch, iterations, coherence, slack)
        if field is None:
            continue
        sy, sx = field.sources(hole, scale)
        ys, xs = torch.nonzero(hole, as_tuple=True)
        inside = torch.from_numpy(
            cv2.distanceTransform(hole.cpu().numpy().astype(np.uint8), cv2.DIST_L2, 3)
        ).to(x.device)[ys, xs]
        value = x[0, :, ys, xs].clone()  # the fill, plus each band's change
        for band, weight, feather in (
            (x - fine, (inside - edge) / max(ramp, 1e-6), 0.0),
            (fine - coarse, (inside - edge - depth) / max(depth, 1e-6), detail_sigma / 2),
        ):
            own, copied = band[0, :, ys, xs], band[0, :, sy, sx]
            copied = copied * _amplitude_gain(band, hole, ys, xs, sy, sx)
            if feather > 0:  # smooth the steps where neighbouring cells copy from apart
                band = band.clone()
                band[0, :, ys, xs] = copied
                copied = _blur(band, feather)[0, :, ys, xs]
            value += weight.clamp(0, 1) * (copied - own)
        out[b, :, top + ys, left + xs] = value.clamp(0, 1).to(out.dtype)
    return out


def _amplitude_gain(
    band: Tensor, hole: Tensor, ys: Tensor, xs: Tensor, sy: Tensor, sx: Tensor
) -> Tensor:
    """At most 1: how much of a source's ``band`` ``(1, C, H, W)`` a hole pixel may take: twice
    the band's local amplitude expected there (pulled in from the known pixels around the hole
    by :func:`restore.models.fill.pyramid_fill`) over the source's, so that the strong detail
    of a look-alike source (a face's stripes) does not land in a smooth context (a blurred
    background) while detail of about the expected strength is copied whole."""
    local = _blur(band.abs().mean(1, keepdim=True), 4.0)  # (1, 1, H, W)
    expected = pyramid_fill(local, hole[None, None].to(local.dtype))[0, 0]
    return (2 * expected[ys, xs] / local[0, 0, sy, sx].clamp_min(1e-6)).clamp(max=1.0)


def _blur(x: Tensor, sigma: float) -> Tensor:
    """Gaussian blur of ``sigma`` pixels; borders reflected (replicated on images too small to
    reflect the kernel's reach)."""
    size = 2 * math.ceil(3 * sigma) + 1
    border = "reflect" if min(x.shape[-2:]) > size // 2 else "replicate"
    return kornia.filters.gaussian_blur2d(x, (size, size), (sigma, sigma), border_type=border)


def _match(
    low: Tensor,
    hole: Tensor,
    seed: int,
    scale: int,
    patch: int,
    iterations: int,
    coherence: int,
    slack: float,
) -> _Field | None:
    """The NNF of the hole cells of ``hole`` at 1/``scale`` resolution, or None when no known
    cell lies far enough from the holes to copy from."""
    h, w = hole.shape
    cells = F.max_pool2d(hole[None, None].float(), scale, ceil_mode=True)[0, 0] > 0
    reach = 2 * (patch // 2) + 1  # a source's whole patch lies outside the holes
    near = F.max_pool2d(cells[None, None].float(), reach, stride=1, padding=patch // 2)[0, 0] > 0
    # the source cell's pixels all exist (the last row/column of cells may be partial)
    full = torch.zeros_like(cells)
    full[: h // scale, : w // scale] = True
    valid = ~near & full
    if not bool(valid.any()):
        return None
    guide = F.avg_pool2d(low, scale, ceil_mode=True)
    field = _Field(patch_features(guide, patch), cells, valid, torch.Generator().manual_seed(seed))
    for i in range(iterations):
        field.propagate(far=i == 0)
        field.search()
    field.cohere(coherence, slack)
    return field
