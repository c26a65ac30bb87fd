"""Noise models on ``(B, C, H, W)`` float images in ``[0, 1]``.

Each op is a pure function plus a thin ``nn.Module`` that draws its parameters per image. All of
them keep the input's shape, dtype and device (work is done in float32 and cast back), are
reproducible from a ``torch.Generator``, and return values in ``[0, 1]`` when ``clip`` is true (the
default).

Scales: Gaussian and read-noise ``sigma`` are on the 0-255 scale (``sigma=25`` adds noise of
standard deviation 25/255). Speckle ``sigma`` is relative to the signal; salt-and-pepper ``amount``
is a fraction of pixels; JPEG ``quality`` is 1-100; blur ``sigma`` is in pixels.
"""

from __future__ import annotations

import kornia
import torch
from torch import Tensor, nn

from restore.corruption import sampling
from restore.options import Range, check_range


def check_images(images: Tensor) -> None:
    """Raise ``ValueError`` unless ``images`` is a floating ``(B, C, H, W)`` tensor."""
    if not isinstance(images, Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(images).__name__}")
    if images.dim() != 4:
        raise ValueError(f"expected a (B, C, H, W) tensor, got shape {tuple(images.shape)}")
    if not images.is_floating_point():
        raise ValueError(f"expected float values in [0, 1], got dtype {images.dtype}")


def _per_image(value: float | Tensor, images: Tensor) -> Tensor:
    """``value`` as a float32 ``(B, 1, 1, 1)`` tensor on the images' device."""
    b = images.shape[0]
    return sampling.per_image_param(value, b, images).view(b, 1, 1, 1)


def as_output(out: Tensor, images: Tensor, clip: bool) -> Tensor:
    """``out`` as a noise op returns it: clamped to [0, 1] when ``clip``, in ``images``' dtype."""
    return (out.clamp(0.0, 1.0) if clip else out).to(images.dtype)


def gaussian_noise(
    images: Tensor,
    sigma: float | Tensor,
    generator: torch.Generator | None = None,
    clip: bool = True,
) -> Tensor:
    """Add white Gaussian noise of standard deviation ``sigma`` (0-255 scale, scalar or
    ``(B,)``)."""
    check_images(images)
    x = images.float()
    noise = sampling.randn(tuple(x.shape), x, generator)
    return as_output(x + noise * _per_image(sigma, x) / 255.0, images, clip)


def poisson_gaussian_noise(
    images: Tensor,
    gain: float | Tensor,
    read_sigma: float | Tensor,
    generator: torch.Generator | None = None,
    clip: bool = True,
) -> Tensor:
    """Camera-sensor noise: ``y = gain * Poisson(x / gain) + N(0, read_sigma^2)``.

    The variance at signal ``x`` is ``gain * x + (read_sigma / 255)^2``: ``gain`` (intensity units
    per photon, e.g. 0.01 = 100 photons at full scale) sets the signal-dependent shot noise,
    ``read_sigma`` (0-255 scale) the signal-independent read noise. ``gain=0`` gives no shot noise.
    """
    check_images(images)
    x = images.float()
    a = _per_image(gain, x)
    if (a < 0).any():
        raise ValueError("gain must be >= 0")
    safe_a = torch.where(a > 0, a, torch.ones_like(a))
    rates = (x.clamp_min(0.0) / safe_a).to(sampling.source_device(x, generator))
    photons = torch.poisson(rates, generator=generator).to(x.device)
    shot = torch.where(a > 0, photons * safe_a, x)
    read = sampling.randn(tuple(x.shape), x, generator) * _per_image(read_sigma, x) / 255.0
    return as_output(shot + read, images, clip)


def salt_and_pepper_noise(
    images: Tensor,
    amount: float | Tensor,
    salt_ratio: float = 0.5,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Set a fraction ``amount`` (0-1) of pixel locations to white (salt) or black (pepper).

    All channels of a hit pixel are set together; ``salt_ratio`` is the share of white hits.
    """
    check_images(images)
    x = images.float()
    b, _, h, w = x.shape
    u = sampling.rand((b, 1, h, w), x, generator)
    hit = u < _per_image(amount, x)
    salt = sampling.rand((b, 1, h, w), x, generator) < salt_ratio
    out = torch.where(hit, salt.float().expand_as(x), x)
    return out.to(images.dtype)


def speckle_noise(
    images: Tensor,
    sigma: float | Tensor,
    generator: torch.Generator | None = None,
    clip: bool = True,
) -> Tensor:
    """Multiplicative noise ``y = x * (1 + sigma * n)``, ``n ~ N(0, 1)``; ``sigma`` is relative."""
    check_images(images)
    x = images.float()
    noise = sampling.randn(tuple(x.shape), x, generator)
    return as_output(x * (1.0 + _per_image(sigma, x) * noise), images, clip)


def jpeg_compression(images: Tensor, quality: float | Tensor) -> Tensor:
    """JPEG-compress each image at ``quality`` (1-100, scalar or ``(B,)``) with kornia's codec.

    Uses ``kornia.enhance.jpeg_codec_differentiable`` (a batched, on-device JPEG model: colour
    conversion, 4:2:0 chroma subsampling, 8x8 DCT and quantisation). Gray images are compressed as
    luma only. Deterministic, so it takes no generator.
    """
    check_images(images)
    x = images.float()
    b, c, h, w = x.shape
    q = sampling.per_image_param(quality, b, x).clamp(1.0, 100.0)
    rgb = x.expand(b, 3, h, w) if c == 1 else x
    # The codec works on 16x16 blocks: replicate-pad to a multiple of 16 and crop back.
    ph, pw = (-h) % 16, (-w) % 16
    padded = torch.nn.functional.pad(rgb, (0, pw, 0, ph), mode="replicate") if ph or pw else rgb
    out = kornia.enhance.jpeg_codec_differentiable(padded, q)[..., :h, :w]
    if c == 1:
        out = kornia.color.rgb_to_grayscale(out)
    return as_output(out, images, clip=True)


def gaussian_blur(images: Tensor, sigma: float | Tensor, kernel_size: int | None = None) -> Tensor:
    """Blur with an isotropic Gaussian of standard deviation ``sigma`` pixels (scalar or ``(B,)``).

    ``kernel_size`` defaults to the odd size covering +-3 sigma of the largest sigma in the batch.
    """
    check_images(images)
    x = images.float()
    s = sampling.per_image_param(sigma, x.shape[0], x).clamp_min(1e-3)
    if kernel_size is None:
        kernel_size = 2 * int(torch.ceil(3 * s.max()).item()) + 1
    out = kornia.filters.gaussian_blur2d(
        x, (kernel_size, kernel_size), torch.stack([s, s], dim=1), border_type="reflect"
    )
    return as_output(out, images, clip=True)


class DegradationOp(nn.Module):
    """Base of the noise modules: draws per-image parameters and applies the op with probability
    ``p``.

    Call as ``op(images, generator=None) -> Tensor``. Subclasses implement ``corrupt``.
    """

    def __init__(self, p: float = 1.0) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {p}")
        self.p = p

    def corrupt(self, images: Tensor, generator: torch.Generator | None) -> Tensor:
        raise NotImplementedError

    def forward(self, images: Tensor, generator: torch.Generator | None = None) -> Tensor:
        check_images(images)
        out = self.corrupt(images, generator)
        return sampling.apply_with_probability(self.p, out, images, generator)

    def draw(self, value: Range, images: Tensor, generator: torch.Generator | None) -> Tensor:
        """Per-image value: fixed, or uniform in ``(low, high)``."""
        return sampling.per_image_param(value, images.shape[0], images, generator)


class GaussianNoise(DegradationOp):
    """Additive Gaussian noise; ``sigma`` on the 0-255 scale, fixed or a ``[low, high]`` range.

    Args:
        sigma: standard deviation in grey levels (0-255 scale), >= 0: a number, or a
            ``[low, high]`` range drawn uniformly per image.
        clip: clip the result to ``[0, 1]``.
        p: share of images that get noise at all (each image with probability ``p``).
    """

    def __init__(self, sigma: Range = 25.0, clip: bool = True, p: float = 1.0) -> None:
        super().__init__(p)
        self.sigma = check_range("sigma", sigma, 0.0)
        self.clip = clip

    def corrupt(self, images, generator):
        sigma = self.draw(self.sigma, images, generator)
        return gaussian_noise(images, sigma, generator, self.clip)


class PoissonGaussianNoise(DegradationOp):
    """Signal-dependent sensor noise; see :func:`poisson_gaussian_noise` for the units.

    Args:
        gain: intensity units per photon, in ``[0, 1]`` (0.01 = 100 photons at full scale; 0: no
            shot noise): a number, or a ``[low, high]`` range drawn uniformly per image.
        read_sigma: standard deviation of the signal-independent read noise in grey levels
            (0-255 scale), >= 0: a number or a ``[low, high]`` range.
        clip: clip the result to ``[0, 1]``.
        p: share of images that get noise at all (each image with probability ``p``).
    """

    def __init__(
        self, gain: Range = 0.01, read_sigma: Range = 5.0, clip: bool = True, p: float = 1.0
    ) -> None:
        super().__init__(p)
        self.gain = check_range("gain", gain, 0.0, 1.0)
        self.read_sigma = check_range("read_sigma", read_sigma, 0.0)
        self.clip = clip

    def corrupt(self, images, generator):
        gain = self.draw(self.gain, images, generator)
        read_sigma = self.draw(self.read_sigma, images, generator)
        return poisson_gaussian_noise(images, gain, read_sigma, generator, self.clip)


class SaltAndPepperNoise(DegradationOp):
    """Impulse noise on a fraction ``amount`` (0-1) of pixels.

    Args:
        amount: share of pixel locations hit (all channels together), in ``[0, 1]``: a number,
            or a ``[low, high]`` range drawn uniformly per image.
        salt_ratio: share of the hits set to white (salt, 1.0); the rest are black (pepper, 0.0).
        p: share of images that get noise at all (each image with probability ``p``).
    """

    def __init__(self, amount: Range = 0.05, salt_ratio: float = 0.5, p: float = 1.0) -> None:
        super().__init__(p)
        self.amount = check_range("amount", amount, 0.0, 1.0)
        self.salt_ratio = float(check_range("salt_ratio", salt_ratio, 0.0, 1.0))

    def corrupt(self, images, generator):
        amount = self.draw(self.amount, images, generator)
        return salt_and_pepper_noise(images, amount, self.salt_ratio, generator)


class SpeckleNoise(DegradationOp):
    """Multiplicative noise with relative standard deviation ``sigma``.

    Args:
        sigma: standard deviation of ``n`` in ``y = x * (1 + sigma * n)``, relative to the signal
            (0.1 = 10 %), >= 0: a number, or a ``[low, high]`` range drawn uniformly per image.
        clip: clip the result to ``[0, 1]``.
        p: share of images that get noise at all (each image with probability ``p``).
    """

    def __init__(self, sigma: Range = 0.1, clip: bool = True, p: float = 1.0) -> None:
        super().__init__(p)
        self.sigma = check_range("sigma", sigma, 0.0)
        self.clip = clip

    def corrupt(self, images, generator):
        return speckle_noise(images, self.draw(self.sigma, images, generator), generator, self.clip)


class JPEGCompression(DegradationOp):
    """JPEG artefacts at ``quality`` 1-100, fixed or a ``[low, high]`` range.

    Args:
        quality: JPEG quality, 1-100 (see :func:`jpeg_compression`); a range is drawn uniformly
            per image.
        p: share of images compressed at all (each image with probability ``p``).
    """

    def __init__(self, quality: Range = (30.0, 90.0), p: float = 1.0) -> None:
        super().__init__(p)
        self.quality = check_range("quality", quality, 1.0, 100.0)

    def corrupt(self, images, generator):
        return jpeg_compression(images, self.draw(self.quality, images, generator))


class GaussianBlur(DegradationOp):
    """Gaussian blur with ``sigma`` in pixels, fixed or a ``[low, high]`` range.

    Args:
        sigma: standard deviation of the blur kernel in pixels, >= 0 (see
            :func:`gaussian_blur`); a range is drawn uniformly per image.
        p: share of images blurred at all (each image with probability ``p``).
    """

    def __init__(self, sigma: Range = (0.5, 1.5), p: float = 1.0) -> None:
        super().__init__(p)
        self.sigma = check_range("sigma", sigma, 0.0)

    def corrupt(self, images, generator):
        return gaussian_blur(images, self.draw(self.sigma, images, generator))
