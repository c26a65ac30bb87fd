"""Camera-pipeline noise: real sensor noise as it looks after a camera has processed the photo.

Real sRGB noise is not white: it is signal dependent, correlated between colour channels and
between neighbouring pixels (demosaicing, in-camera noise reduction and sharpening), bent by the
tone curve and quantised by JPEG. :func:`camera_noise` synthesises it from a clean sRGB image,
after Brooks et al. 2019 ("Unprocessing Images for Learned Raw Denoising") and CBDNet (Guo et al.
2019), in three stages:

1. **unprocess** (:func:`unprocess`): sRGB -> linear camera RGB: inverse tone curve (smoothstep),
   inverse gamma (2.2), inverse colour-correction matrix, inverse white-balance and brightness
   gains;
2. **sensor** (:func:`sensor_noise`): a Bayer mosaic of it gets heteroscedastic noise of variance
   ``shot * x + read`` per site; the noise is demosaicked (bilinear or Malvar-He-Cutler), which
   correlates it between neighbours and channels;
3. **process** (:func:`process`): gains, colour matrix, gamma and tone curve back; then the
   camera's noise reduction (luma and chroma smoothing of the noise), sharpening and JPEG
   (kornia's codec, 4:2:0 chroma).

The clean image itself goes through unprocess and process unchanged (within 1/255), so the op
adds noise and nothing else: ``camera_noise(x) - x`` is the camera's noise, as ``noisy - clean``
is for a real pair whose clean image is the mean of many shots. Only the noise is demosaicked,
smoothed and sharpened; JPEG quantises the noisy image, and the part of its error that the clean
image would get too is not counted as noise.

Images are ``(B, 3, H, W)`` float sRGB in ``[0, 1]`` (gray ``(B, 1, H, W)`` images are processed as
three equal channels and returned as luma); any device; the dtype is kept. The per-image
parameters live in :class:`CameraParams`; :meth:`CameraParams.draw` samples them (from a
``torch.Generator``) over the range of phones and DSLRs from ISO 100 to about 12800.
:func:`correlated_noise` is a cheaper stand-in: Gaussian noise blurred separately in luma and
chroma.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

import kornia
import torch
import torch.nn.functional as F
from torch import Tensor

from restore.corruption import sampling
from restore.corruption.noise import DegradationOp, as_output, check_images
from restore.options import Range, check_range

# XYZ -> camera matrices of four real cameras (Brooks et al. 2019, from Adobe DNG metadata).
XYZ_TO_CAMERA = torch.tensor(
    [
        [[1.0234, -0.2969, -0.2266], [-0.5625, 1.6328, -0.0469], [-0.0703, 0.2188, 0.6406]],
        [[0.4913, -0.0541, -0.0202], [-0.6130, 1.3513, 0.2906], [-0.1564, 0.2151, 0.7183]],
        [[0.8380, -0.2630, -0.0639], [-0.2887, 1.0725, 0.2496], [-0.0627, 0.1427, 0.5438]],
        [[0.6596, -0.2079, -0.0562], [-0.4782, 1.3016, 0.1933], [-0.0970, 0.1581, 0.5181]],
    ]
)
SRGB_TO_XYZ = torch.tensor(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
# Bayer layouts by the colour of the top-left 2x2 cell, as (row, column) of its red site.
BAYER_LAYOUTS = {"RGGB": (0, 0), "GRBG": (0, 1), "GBRG": (1, 0), "BGGR": (1, 1)}
DEMOSAIC = ("bilinear", "malvar")
GAMMA = 2.2
# Full-range BT.601 luma / chroma (JPEG's YCbCr) as a matrix on RGB.
_YCBCR = torch.tensor(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]]
)


# --------------------------------------------------------------------------------------------------
# parameters


def _bounds(value: Range) -> tuple[float, float]:
    """``(low, high)`` of a number or a ``[low, high]`` range."""
    low, high = (value, value) if not isinstance(value, Sequence) else value
    return float(low), float(high)


@dataclass
class CameraParams:
    """Per-image camera parameters; every field has the batch as its first dimension.

    Attributes:
        rgb_to_camera: ``(B, 3, 3)`` linear sRGB -> camera RGB, rows summing to 1.
        gains: ``(B, 3)`` white-balance times brightness gains applied by the camera (red, green,
            blue); unprocessing divides by them.
        bayer: ``(B,)`` index into :data:`BAYER_LAYOUTS` (0 RGGB, 1 GRBG, 2 GBRG, 3 BGGR).
        shot: ``(B,)`` shot-noise variance per unit of linear signal (raw scale 0-1).
        read: ``(B,)`` read-noise variance (raw scale 0-1). Variance at signal ``x``: ``shot * x +
            read``.
        malvar: ``(B,)`` bool: demosaic with Malvar-He-Cutler (else bilinear).
        luma_smoothing: ``(B,)`` in-camera noise reduction: Gaussian sigma in pixels on the
            noise's luma (0 = none).
        chroma_smoothing: ``(B,)`` the same on its chroma (Cb, Cr).
        sharpening: ``(B,)`` unsharp-mask amount on the noise (0 = none; radius 1 px).
        jpeg_quality: ``(B,)`` JPEG quality 1-100 of the camera's file; 0 = no JPEG.
        banding: ``(B,)`` row and column banding of small sensors read at high gain: each row
            and each column of the mosaic gets an offset with this standard deviation relative
            to the read noise's (0 = none).
        black_level: ``(B, 3)`` error of the black level the camera subtracts, per colour,
            relative to the read noise's standard deviation: a colour cast in the shadows that
            differs from shot to shot (0 = none).
        blotches: ``(B,)`` low-frequency noise, relative to the local noise's standard
            deviation: what strong in-camera noise reduction of a small sensor leaves (coloured
            blotches tens of pixels wide; 0 = none).
        blotch_scale: ``(B,)`` the blotches' size: the grid spacing in pixels of the smooth
            random field they are interpolated from.
    """

    rgb_to_camera: Tensor
    gains: Tensor
    bayer: Tensor
    shot: Tensor
    read: Tensor
    malvar: Tensor
    luma_smoothing: Tensor
    chroma_smoothing: Tensor
    sharpening: Tensor
    jpeg_quality: Tensor
    banding: Tensor
    black_level: Tensor
    blotches: Tensor
    blotch_scale: Tensor

    def to(self, device: torch.device | str) -> CameraParams:
        return replace(self, **{f.name: getattr(self, f.name).to(device) for f in fields(self)})

    def select(self, keep: Tensor) -> CameraParams:
        """The parameters of the images where ``keep`` (``(B,)`` bool) is true."""
        return replace(self, **{f.name: getattr(self, f.name)[keep] for f in fields(self)})

    @staticmethod
    def draw(
        n: int,
        generator: torch.Generator | None = None,
        shot: Range = (1e-4, 1.2e-2),
        read_scatter: float = 0.26,
        malvar_p: float = 0.5,
        luma_smoothing: Range = (0.0, 1.5),
        chroma_smoothing: Range = (0.3, 3.0),
        sharpening: Range = (0.0, 1.0),
        jpeg_quality: Range = (60.0, 100.0),
        jpeg_p: float = 0.8,
        read_gain: Range = 1.0,
        banding: Range = 0.0,
        black_level: float = 0.0,
        blotches: Range = 0.0,
        blotch_scale: Range = (8.0, 32.0),
        device: torch.device | str = "cpu",
    ) -> CameraParams:
        """Draw ``n`` cameras (on the generator's device, then moved to ``device``).

        ``shot`` is drawn log-uniformly; ``log(read) = 2.18 log(shot) + 1.2 + N(0, read_scatter^2)``
        (Brooks et al.'s fit over phones and DSLRs, ISO 100 to about 12800). Colour matrices are
        random convex mixtures of :data:`XYZ_TO_CAMERA`; red gain 1.9-2.4, blue 1.5-1.9, brightness
        1 / N(0.8, 0.1). Smoothing, sharpening and JPEG quality are uniform in their ranges; JPEG
        is applied with probability ``jpeg_p`` and the Malvar demosaic with ``malvar_p``. The
        small-sensor and night artefacts (``read_gain``, a factor on the read noise's variance
        over that line for dark scenes pushed up by a high ISO, log-uniform; ``banding``,
        ``blotches`` and ``blotch_scale`` uniform;
        ``black_level`` the standard deviation of a normal draw per colour) are off by default;
        they are drawn after everything else, so turning them on leaves the other draws as they
        were.
        """
        like = torch.empty(0, device=generator.device if generator is not None else "cpu")

        def uniform(value: Range) -> Tensor:
            return sampling.per_image_param(value, n, like, generator)

        weights = sampling.rand((n, len(XYZ_TO_CAMERA)), like, generator) + 1e-6
        weights = weights / weights.sum(1, keepdim=True)
        xyz_to_camera = torch.einsum("bk,kij->bij", weights, XYZ_TO_CAMERA.to(like.device))
        rgb_to_camera = xyz_to_camera @ SRGB_TO_XYZ.to(like.device)
        rgb_to_camera = rgb_to_camera / rgb_to_camera.sum(-1, keepdim=True)
        brightness = 1.0 / (0.8 + 0.1 * sampling.randn((n,), like, generator)).clamp(0.5, 1.1)
        red, blue = uniform((1.9, 2.4)), uniform((1.5, 1.9))
        gains = torch.stack([red, torch.ones_like(red), blue], 1) * brightness[:, None]
        bayer = (sampling.rand((n,), like, generator) * 4).long().clamp_max(3)
        low, high = _bounds(shot)
        log_shot = uniform((math.log(low), math.log(high)))
        log_read = 2.18 * log_shot + 1.20 + read_scatter * sampling.randn((n,), like, generator)
        quality = uniform(jpeg_quality)
        use_jpeg = sampling.rand((n,), like, generator) < jpeg_p
        malvar = sampling.rand((n,), like, generator) < malvar_p
        smoothing = uniform(luma_smoothing), uniform(chroma_smoothing), uniform(sharpening)

        def optional(value: Range) -> Tensor:
            return uniform(value) if _bounds(value)[1] > 0 else torch.zeros(n, device=like.device)

        if _bounds(read_gain) != (1.0, 1.0):
            log_read = log_read + uniform(tuple(math.log(g) for g in _bounds(read_gain)))
        banding_, blotches_ = optional(banding), optional(blotches)
        scale = optional(blotch_scale) if bool((blotches_ > 0).any()) else torch.ones_like(red)
        black = (
            black_level * sampling.randn((n, 3), like, generator)
            if black_level > 0
            else torch.zeros(n, 3, device=like.device)
        )
        params = CameraParams(
            rgb_to_camera=rgb_to_camera,
            gains=gains,
            bayer=bayer,
            shot=log_shot.exp(),
            read=log_read.exp(),
            malvar=malvar,
            luma_smoothing=smoothing[0],
            chroma_smoothing=smoothing[1],
            sharpening=smoothing[2],
            jpeg_quality=torch.where(use_jpeg, quality, 0.0),
            banding=banding_,
            black_level=black,
            blotches=blotches_,
            blotch_scale=scale,
        )
        return params.to(device)


# --------------------------------------------------------------------------------------------------
# tone and colour


def smoothstep(x: Tensor) -> Tensor:
    """The global tone curve ``3x^2 - 2x^3`` on ``[0, 1]``."""
    x = x.clamp(0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def inverse_smoothstep(y: Tensor) -> Tensor:
    """Inverse of :func:`smoothstep` on ``[0, 1]``."""
    y = y.clamp(0.0, 1.0)
    return 0.5 - torch.sin(torch.asin(1.0 - 2.0 * y) / 3.0)


def _apply_matrix(images: Tensor, matrix: Tensor) -> Tensor:
    """``(B, 3, H, W)`` colours times a per-image ``(B, 3, 3)`` matrix."""
    return torch.einsum("bij,bjhw->bihw", matrix, images)


def unprocess(images: Tensor, params: CameraParams) -> Tensor:
    """sRGB ``(B, 3, H, W)`` in ``[0, 1]`` -> linear camera RGB (the sensor's signal, about 0-1).

    Nothing is clipped, so :func:`process` inverts it exactly: saturated colours may give
    slightly negative camera values, which the sensor noise model treats as 0.
    """
    linear = inverse_smoothstep(images).clamp_min(1e-8) ** GAMMA
    return _apply_matrix(linear, params.rgb_to_camera) / params.gains[:, :, None, None]


def process(camera: Tensor, params: CameraParams) -> Tensor:
    """Linear camera RGB -> sRGB in ``[0, 1]``: gains, colour matrix, gamma, tone curve (values
    outside the gamut are clipped before the gamma)."""
    balanced = camera * params.gains[:, :, None, None]
    linear = _apply_matrix(balanced, torch.linalg.inv(params.rgb_to_camera))
    return smoothstep(linear.clamp(1e-8, 1.0) ** (1.0 / GAMMA))


# --------------------------------------------------------------------------------------------------
# Bayer mosaic


def bayer_masks(bayer: Tensor, height: int, width: int) -> Tensor:
    """``(B, 3, H, W)`` 0/1 masks of the red, green and blue sites of each image's layout."""
    red_row, red_col = torch.tensor(list(BAYER_LAYOUTS.values()), device=bayer.device)[bayer].T
    rows = torch.arange(height, device=bayer.device) % 2
    cols = torch.arange(width, device=bayer.device) % 2
    on_red_row = rows[None, :, None] == red_row[:, None, None]
    on_red_col = cols[None, None, :] == red_col[:, None, None]
    red = on_red_row & on_red_col
    blue = ~on_red_row & ~on_red_col
    return torch.stack([red, ~(red | blue), blue], 1).float()


def mosaic(images: Tensor, bayer: Tensor) -> Tensor:
    """Sample ``(B, 3, H, W)`` RGB at each image's Bayer sites: ``(B, 1, H, W)``."""
    return (images * bayer_masks(bayer, *images.shape[-2:]).to(images.dtype)).sum(1, keepdim=True)


def _conv(images: Tensor, kernel: Tensor) -> Tensor:
    """Convolve every channel with one odd 2-D ``kernel``, reflect padding."""
    k = kernel.to(images)
    pad = k.shape[-1] // 2
    c = images.shape[1]
    padded = F.pad(images, (pad, pad, pad, pad), mode="reflect")
    return F.conv2d(padded, k.expand(c, 1, *k.shape), groups=c)


_BILINEAR_RB = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 4
_BILINEAR_G = torch.tensor([[0.0, 1.0, 0.0], [1.0, 4.0, 1.0], [0.0, 1.0, 0.0]]) / 4
# Malvar, He and Cutler (2004): gradient-corrected linear interpolation, 5x5 kernels (/8).
_MALVAR_G_AT_RB = (
    torch.tensor(
        [[0, 0, -1, 0, 0], [0, 0, 2, 0, 0], [-1, 2, 4, 2, -1], [0, 0, 2, 0, 0], [0, 0, -1, 0, 0]]
    )
    / 8
)
_MALVAR_ROW = (
    torch.tensor(
        [
            [0, 0, 0.5, 0, 0],
            [0, -1, 0, -1, 0],
            [-1, 4, 5, 4, -1],
            [0, -1, 0, -1, 0],
            [0, 0, 0.5, 0, 0],
        ]
    )
    / 8
)  # R at G on a red row
_MALVAR_DIAGONAL = (
    torch.tensor(
        [
            [0, 0, -1.5, 0, 0],
            [0, 2, 0, 2, 0],
            [-1.5, 0, 6, 0, -1.5],
            [0, 2, 0, 2, 0],
            [0, 0, -1.5, 0, 0],
        ]
    )
    / 8
)  # R at B


def demosaic_bilinear(raw: Tensor, bayer: Tensor) -> Tensor:
    """Bilinear demosaicing of a ``(B, 1, H, W)`` mosaic to ``(B, 3, H, W)`` (known sites kept)."""
    masks = bayer_masks(bayer, *raw.shape[-2:]).to(raw.dtype)
    sparse = raw * masks
    red_blue = _conv(sparse[:, 0::2], _BILINEAR_RB)
    green = _conv(sparse[:, 1:2], _BILINEAR_G)
    return torch.cat([red_blue[:, :1], green, red_blue[:, 1:]], 1)


def demosaic_malvar(raw: Tensor, bayer: Tensor) -> Tensor:
    """Malvar-He-Cutler demosaicing of a ``(B, 1, H, W)`` mosaic to ``(B, 3, H, W)``."""
    masks = bayer_masks(bayer, *raw.shape[-2:]).to(raw.dtype)
    red, green, blue = masks[:, 0:1], masks[:, 1:2], masks[:, 2:3]
    kernels = torch.stack([_MALVAR_G_AT_RB, _MALVAR_ROW, _MALVAR_ROW.T, _MALVAR_DIAGONAL])
    k = kernels.to(raw)[:, None]
    g_at_rb, on_row, on_col, diagonal = F.conv2d(F.pad(raw, (2, 2, 2, 2), mode="reflect"), k).split(
        1, 1
    )
    # A green site on a red row has red to its left and right (``on_row``) and blue above and
    # below (``on_col``); on a blue row it is the other way round.
    red_row = (red.sum(-1, keepdim=True) > 0).to(raw.dtype)
    green_red_row, green_blue_row = green * red_row, green * (1 - red_row)
    out_red = red * raw + green_red_row * on_row + green_blue_row * on_col + blue * diagonal
    out_blue = blue * raw + green_blue_row * on_row + green_red_row * on_col + red * diagonal
    out_green = green * raw + (red + blue) * g_at_rb
    return torch.cat([out_red, out_green, out_blue], 1)


# --------------------------------------------------------------------------------------------------
# the pipeline


def sensor_noise(
    camera: Tensor, params: CameraParams, generator: torch.Generator | None = None
) -> Tensor:
    """Demosaicked sensor noise for linear camera RGB ``camera``: ``(B, 3, H, W)``.

    Each Bayer site gets Gaussian noise of variance ``shot * x + read`` at its own colour's signal
    ``x``, plus, where ``params`` asks for them, row and column offsets (``banding``), an offset
    per colour (``black_level``), both on the read noise's scale, and a smooth random field of
    ``blotch_scale``-pixel cells times the local noise's standard deviation (``blotches``, drawn
    per colour site); the noise mosaic is then demosaicked like the image would be.
    """
    b, _, h, w = camera.shape
    site_signal = mosaic(camera, params.bayer).clamp_min(0.0)
    variance = params.shot.view(b, 1, 1, 1) * site_signal + params.read.view(b, 1, 1, 1)
    noise = sampling.randn(tuple(site_signal.shape), camera, generator) * variance.sqrt()
    read_std = params.read.sqrt().view(b, 1, 1, 1)
    if bool((params.banding > 0).any()):
        rows = sampling.randn((b, 1, h, 1), camera, generator)
        columns = sampling.randn((b, 1, 1, w), camera, generator)
        noise = noise + params.banding.view(b, 1, 1, 1) * read_std * (rows + columns) / math.sqrt(2)
    if bool((params.black_level != 0).any()):
        sites = bayer_masks(params.bayer, h, w).to(noise.dtype)
        noise = noise + read_std * (params.black_level[:, :, None, None] * sites).sum(1, True)
    if bool((params.blotches > 0).any()):
        noise = noise + params.blotches.view(b, 1, 1, 1) * variance.sqrt() * mosaic(
            _smooth_field(b, h, w, params.blotch_scale, camera, generator), params.bayer
        )
    bilinear = demosaic_bilinear(noise, params.bayer)
    if not bool(params.malvar.any()):
        return bilinear
    return torch.where(
        params.malvar.view(b, 1, 1, 1), demosaic_malvar(noise, params.bayer), bilinear
    )


def _smooth_field(
    n: int, height: int, width: int, scale: Tensor, like: Tensor, generator: torch.Generator | None
) -> Tensor:
    """``(n, 3, H, W)`` smooth Gaussian random fields of unit variance: white noise on a grid of
    ``scale`` ``(n,)``-pixel cells, interpolated bicubically (one draw per image and colour)."""
    fields_ = []
    for i in range(n):
        cell = max(1.0, float(scale[i]))
        grid = (math.ceil(height / cell) + 3, math.ceil(width / cell) + 3)
        coarse = sampling.randn((1, 3, *grid), like, generator)
        size = (round(grid[0] * cell), round(grid[1] * cell))
        fine = F.interpolate(coarse, size=size, mode="bicubic", align_corners=False)
        fine = fine[..., round(cell) : round(cell) + height, round(cell) : round(cell) + width]
        fields_.append(fine / fine.std().clamp_min(1e-6))
    return torch.cat(fields_)


def _blur(images: Tensor, sigma: Tensor) -> Tensor:
    """Per-image Gaussian blur, ``sigma`` ``(B,)`` in pixels; 0 leaves an image as it is."""
    s = sigma.clamp_min(1e-3)
    size = 2 * int(math.ceil(3 * float(s.max()))) + 1
    out = kornia.filters.gaussian_blur2d(
        images, (size, size), torch.stack([s, s], 1), border_type="reflect"
    )
    return torch.where((sigma > 0).view(-1, 1, 1, 1), out, images)


def camera_processing(noise: Tensor, params: CameraParams) -> Tensor:
    """The camera's noise reduction and sharpening, applied to sRGB noise ``(B, 3, H, W)``."""
    b = noise.shape[0]
    ycbcr = _YCBCR.to(noise)
    yuv = _apply_matrix(noise, ycbcr.expand(b, 3, 3))
    luma = _blur(yuv[:, :1], params.luma_smoothing)
    chroma = _blur(yuv[:, 1:], params.chroma_smoothing)
    out = _apply_matrix(torch.cat([luma, chroma], 1), torch.linalg.inv(ycbcr).expand(b, 3, 3))
    amount = params.sharpening.view(b, 1, 1, 1)
    if bool((amount > 0).any()):
        out = out + amount * (out - _blur(out, torch.ones_like(params.sharpening)))
    return out


def _jpeg_error(noisy: Tensor, clean: Tensor, quality: Tensor) -> Tensor:
    """``JPEG(noisy) - JPEG(clean)`` per image at ``quality`` (0 = no JPEG: ``noisy - clean``)."""
    use = quality > 0
    out = noisy - clean
    if not bool(use.any()):
        return out
    b, _, h, w = noisy.shape
    ph, pw = (-h) % 16, (-w) % 16  # the codec works on 16x16 blocks
    both = torch.cat([noisy[use], clean[use]]).clamp(0.0, 1.0)
    both = F.pad(both, (0, pw, 0, ph), mode="replicate") if ph or pw else both
    q = quality[use].repeat(2)
    coded = kornia.enhance.jpeg_codec_differentiable(both, q)[..., :h, :w]
    n = int(use.sum())
    out[use] = coded[:n] - coded[n:]
    return out


def camera_noise(
    images: Tensor,
    params: CameraParams,
    generator: torch.Generator | None = None,
    clip: bool = True,
) -> Tensor:
    """Add camera-pipeline noise to clean sRGB ``images`` (see the module docstring).

    Args:
        images: ``(B, 3, H, W)`` or ``(B, 1, H, W)`` float sRGB in ``[0, 1]``, any device.
        params: one camera per image (:meth:`CameraParams.draw`).
        generator: source of the noise draws.
        clip: clip the result to ``[0, 1]``.
    """
    check_images(images)
    x = images.float()
    gray = x.shape[1] == 1
    rgb = x.expand(-1, 3, -1, -1) if gray else x
    p = params.to(x.device)
    camera = unprocess(rgb, p)
    reference = process(camera, p)
    # Antithetic difference: the tone curve bends the noise's amplitude but adds no bias, as the
    # real pairs' clean image is the mean of many noisy shots.
    raw_noise = sensor_noise(camera, p, generator)
    noise = 0.5 * (process(camera + raw_noise, p) - process(camera - raw_noise, p))
    noise = camera_processing(noise, p)
    noisy = rgb + _jpeg_error(reference + noise, reference, p.jpeg_quality)
    if gray:
        noisy = kornia.color.rgb_to_grayscale(noisy)
    return as_output(noisy, images, clip)


def correlated_noise(
    images: Tensor,
    sigma: float | Tensor,
    luma_blur: float | Tensor,
    chroma_blur: float | Tensor,
    chroma_ratio: float | Tensor = 0.7,
    generator: torch.Generator | None = None,
    clip: bool = True,
) -> Tensor:
    """Add spatially correlated Gaussian noise, blurred separately in luma and chroma.

    White Gaussian noise in YCbCr is blurred by a Gaussian of ``luma_blur`` pixels (luma) and
    ``chroma_blur`` pixels (chroma), the chroma scaled to ``chroma_ratio`` times the luma's RMS,
    and the whole scaled so that its RMS per RGB value is ``sigma`` (0-255 scale). Each parameter
    is a scalar or ``(B,)``. Not signal dependent: a cheap stand-in for :func:`camera_noise`.
    """
    check_images(images)
    x = images.float()
    b, c, h, w = x.shape
    like = x.new_empty(0)
    luma = _blur(
        sampling.randn((b, 1, h, w), x, generator), sampling.per_image_param(luma_blur, b, like)
    )
    chroma = _blur(
        sampling.randn((b, 2, h, w), x, generator), sampling.per_image_param(chroma_blur, b, like)
    )

    def unit_rms(t: Tensor) -> Tensor:
        return t / t.square().mean(dim=(1, 2, 3), keepdim=True).sqrt().clamp_min(1e-12)

    ratio = sampling.per_image_param(chroma_ratio, b, like).view(b, 1, 1, 1)
    yuv = torch.cat([unit_rms(luma), ratio * unit_rms(chroma)], 1)
    noise = luma if c == 1 else _apply_matrix(yuv, torch.linalg.inv(_YCBCR.to(x)).expand(b, 3, 3))
    noise = unit_rms(noise) * sampling.per_image_param(sigma, b, like).view(b, 1, 1, 1) / 255.0
    return as_output(x + noise, images, clip)


# --------------------------------------------------------------------------------------------------
# modules


class CameraNoise(DegradationOp):
    """Camera-pipeline noise with a new camera drawn per image (see :meth:`CameraParams.draw`).

    Args:
        shot: shot-noise variance range (raw scale), drawn log-uniformly; read noise follows it.
        read_scatter: standard deviation of log read noise around Brooks et al.'s line.
        malvar_p: share of images demosaicked with Malvar-He-Cutler (the rest bilinear).
        luma_smoothing, chroma_smoothing: in-camera noise reduction ranges, Gaussian sigma in px.
        sharpening: unsharp-mask amount range.
        jpeg_quality: JPEG quality range (1-100); ``jpeg_p``: share of images saved as JPEG.
        read_gain: factor (range, drawn log-uniformly) on the read noise's variance over Brooks
            et al.'s line: dark scenes pushed up by a high ISO.
        banding: range of the row and column banding (relative to the read noise).
        black_level: standard deviation of the black-level error per colour (relative to the
            read noise).
        blotches: range of the low-frequency noise (relative to the local noise);
            ``blotch_scale``: range of its cell size in pixels.
        clip: clip to ``[0, 1]``.
        p: share of images that get noise at all.
    """

    def __init__(
        self,
        shot: Range = (1e-4, 1.2e-2),
        read_scatter: float = 0.26,
        malvar_p: float = 0.5,
        luma_smoothing: Range = (0.0, 1.5),
        chroma_smoothing: Range = (0.3, 3.0),
        sharpening: Range = (0.0, 1.0),
        jpeg_quality: Range = (60.0, 100.0),
        jpeg_p: float = 0.8,
        read_gain: Range = 1.0,
        banding: Range = 0.0,
        black_level: float = 0.0,
        blotches: Range = 0.0,
        blotch_scale: Range = (8.0, 32.0),
        clip: bool = True,
        p: float = 1.0,
    ) -> None:
        super().__init__(p)
        shot = check_range("shot", shot, 1e-8, 1.0)
        for name, value in (("malvar_p", malvar_p), ("jpeg_p", jpeg_p)):
            check_range(name, value, 0.0, 1.0)
        self.settings = dict(
            shot=shot,
            read_scatter=float(check_range("read_scatter", read_scatter, 0.0)),
            malvar_p=malvar_p,
            jpeg_p=jpeg_p,
            luma_smoothing=check_range("luma_smoothing", luma_smoothing, 0.0, 5.0),
            chroma_smoothing=check_range("chroma_smoothing", chroma_smoothing, 0.0, 5.0),
            sharpening=check_range("sharpening", sharpening, 0.0, 3.0),
            jpeg_quality=check_range("jpeg_quality", jpeg_quality, 1.0, 100.0),
            read_gain=check_range("read_gain", read_gain, 1.0, 1000.0),
            banding=check_range("banding", banding, 0.0, 5.0),
            black_level=float(check_range("black_level", black_level, 0.0, 20.0)),
            blotches=check_range("blotches", blotches, 0.0, 3.0),
            blotch_scale=check_range("blotch_scale", blotch_scale, 1.0, 256.0),
        )
        self.clip = clip

    def draw_params(self, n: int, generator: torch.Generator | None = None) -> CameraParams:
        """``n`` cameras drawn from this op's ranges."""
        return CameraParams.draw(n, generator, **self.settings)

    def corrupt(self, images, generator):
        return camera_noise(
            images, self.draw_params(images.shape[0], generator), generator, self.clip
        )


class CorrelatedNoise(DegradationOp):
    """Gaussian noise blurred in luma and chroma (see :func:`correlated_noise`); ranges per
    image.

    Each parameter is a number or a ``[low, high]`` range drawn uniformly per image.

    Args:
        sigma: RMS of the noise per RGB value in grey levels (0-255 scale), >= 0.
        luma_blur: standard deviation of the Gaussian that blurs the luma noise, in pixels, 0-5.
        chroma_blur: the same for the chroma noise, in pixels, 0-5.
        chroma_ratio: RMS of the chroma noise relative to the luma's, 0-3 (gray images get luma
            noise only).
        clip: clip the result to ``[0, 1]``.
        p: share of images that get noise at all (each image with probability ``p``).
    """

    def __init__(
        self,
        sigma: Range = (1.0, 15.0),
        luma_blur: Range = (0.0, 1.0),
        chroma_blur: Range = (0.5, 2.5),
        chroma_ratio: Range = (0.4, 1.0),
        clip: bool = True,
        p: float = 1.0,
    ) -> None:
        super().__init__(p)
        self.sigma = check_range("sigma", sigma, 0.0)
        self.luma_blur = check_range("luma_blur", luma_blur, 0.0, 5.0)
        self.chroma_blur = check_range("chroma_blur", chroma_blur, 0.0, 5.0)
        self.chroma_ratio = check_range("chroma_ratio", chroma_ratio, 0.0, 3.0)
        self.clip = clip

    def corrupt(self, images, generator):
        return correlated_noise(
            images,
            self.draw(self.sigma, images, generator),
            self.draw(self.luma_blur, images, generator),
            self.draw(self.chroma_blur, images, generator),
            self.draw(self.chroma_ratio, images, generator),
            generator,
            self.clip,
        )
