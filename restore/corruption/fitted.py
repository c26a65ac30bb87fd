"""Camera noise fitted to noisy photos: the noise a set of photos shows, measured on the residual of
a denoiser's output over flat regions, and drawn again on other images (for adapting a model to a
camera from its noisy photos alone).

The model: ``noise = std(x) * (M @ (k * w))`` with ``w`` white Gaussian noise, ``k`` a small
zero-phase kernel per channel (the spatial correlation that demosaicing, noise reduction and JPEG
leave), ``M`` the lower-triangular mixing of the channels (their correlation) and ``std(x)^2 =
gain * x + floor`` per channel (shot and read noise), with one ``(gain, floor)`` per photo, since
the photos of one camera come at many ISOs. Images are ``(B, C, H, W)`` floats in ``[0, 1]``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import kornia
import torch
import torch.nn.functional as F
from torch import Tensor

from restore.corruption import sampling
from restore.corruption.noise import DegradationOp, check_images

CELL = 32  # pixels per side of the cells whose flatness is judged and whose spectrum is averaged
KERNEL = 9  # side of the spatial kernel kept
VARIANCE_FLOOR = 1e-8


@dataclass
class NoiseFit:
    """Fitted camera noise, plain lists (JSON-able).

    Attributes:
        gain: per photo, per channel, noise variance per unit signal (``[0, 1]`` scale).
        floor: per photo, per channel, noise variance at zero signal.
        colour: ``C x C`` lower-triangular mixing of the channels (Cholesky factor of their
            correlation).
        kernel: per channel, a ``KERNEL x KERNEL`` kernel of unit energy (white noise filtered by
            it keeps unit variance).
    """

    gain: list[list[float]]
    floor: list[list[float]]
    colour: list[list[float]]
    kernel: list[list[list[float]]]

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(asdict(self)))
        return path

    @classmethod
    def load(cls, path: str | Path) -> NoiseFit:
        """From a JSON file, or a shipped fit by name (:data:`restore.shipped.SHIPPED_NOISE`)
        when no such file exists."""
        from restore.shipped import SHIPPED_NOISE, shipped_file

        if str(path) in SHIPPED_NOISE and not Path(path).exists():
            text = shipped_file(SHIPPED_NOISE[str(path)]).read_text()
        else:
            text = Path(path).read_text()
        return cls(**json.loads(text))

    def rms(self, signal: float = 0.5) -> float:
        """The mean noise RMS of the fitted photos at ``signal`` (0-1), grey levels."""
        gain, floor = torch.tensor(self.gain), torch.tensor(self.floor)
        return float((gain * signal + floor).mean(1).sqrt().mean() * 255.0)


def flat_cells(restored: Tensor, share: float = 0.15, cell: int = CELL) -> Tensor:
    """The ``share`` flattest ``cell`` x ``cell`` cells of each image of ``restored`` (``(B, C, H,
    W)``; H, W multiples of ``cell``): ``(B, H / cell, W / cell)`` bool, by how far the restored
    cell departs from its own least-squares plane (what a plane leaves of it would pass for
    noise)."""
    departure = _minus_plane(_cells(restored.float(), cell)).square().mean((3, 4, 5))
    threshold = departure.flatten(1).quantile(share, dim=1)[:, None, None]
    return departure <= threshold


def _cells(images: Tensor, cell: int = CELL) -> Tensor:
    """``(B, C, H, W)`` -> ``(B, H / cell, W / cell, C, cell, cell)``."""
    b, c, h, w = images.shape
    return images.reshape(b, c, h // cell, cell, w // cell, cell).permute(0, 2, 4, 1, 3, 5)


def _minus_plane(cells: Tensor) -> Tensor:
    """``(..., n, n)`` cells less the least-squares plane of each cell and channel."""
    n = cells.shape[-1]
    ramp = torch.linspace(-1.0, 1.0, n, dtype=cells.dtype, device=cells.device)
    basis = torch.stack(
        [torch.ones(n, n, dtype=cells.dtype), ramp[:, None].expand(n, n), ramp[None].expand(n, n)]
    ).flatten(1)  # (3, n * n), orthogonal
    basis = basis / basis.square().sum(1, keepdim=True).sqrt()
    flat = cells.flatten(-2)
    return (flat - (flat @ basis.T) @ basis).reshape(cells.shape)


def _level_curve(mean: Tensor, variance: Tensor) -> tuple[float, float]:
    """Least-squares ``variance = gain * mean + floor`` with both non-negative."""
    design = torch.stack([mean, torch.ones_like(mean)], 1).double()
    gain, floor = torch.linalg.lstsq(design, variance.double()[:, None]).solution[:, 0].tolist()
    if gain < 0:
        gain, floor = 0.0, float(variance.mean())
    if floor < VARIANCE_FLOOR:
        floor = VARIANCE_FLOOR
        gain = max(0.0, float((mean * (variance - floor)).sum() / mean.square().sum().clamp(1e-12)))
    return gain, floor


def fit_noise(
    noisy: Tensor, restored: Tensor, photo: Tensor, flat_share: float = 0.15, cell: int = CELL
) -> NoiseFit:
    """Fit :class:`NoiseFit` to ``noisy`` crops and a denoiser's ``restored`` versions of them
    (``(N, C, H, W)``, H and W multiples of ``cell``), from the residual over their flattest cells.
    ``photo``: ``(N,)`` the photo each crop comes from (0 .. P-1, each at least once); one level
    curve is fitted per photo, the colour mixing and the kernel over all.

    The noise of a cell is the noisy crop less its least-squares plane, over the ``flat_share``
    flattest cells of the restored crops (a denoiser's residual would miss the noise it keeps;
    flatter cells leave less texture in it). The restored crops give the signal level.
    """
    check_images(noisy)
    if noisy.shape != restored.shape or noisy.shape[-1] % cell or noisy.shape[-2] % cell:
        raise ValueError(
            f"need noisy and restored crops of one shape, sides multiples of {cell}; got "
            f"{tuple(noisy.shape)} and {tuple(restored.shape)}"
        )
    photos = int(photo.max()) + 1
    flat = flat_cells(restored, flat_share, cell)  # (N, h, w)
    signal = _cells(restored.float(), cell)[flat]  # (K, C, cell, cell)
    residual = _minus_plane(_cells(noisy.float(), cell)[flat])
    owner = photo[:, None, None].expand_as(flat)[flat]  # (K,)
    channels = noisy.shape[1]
    mean, variance = signal.mean((2, 3)), residual.square().mean((2, 3))  # (K, C)
    gain, floor = [], []
    for p in range(photos):
        mine = owner == p
        if not bool(mine.any()):
            raise ValueError(f"photo {p} has no flat cell to fit its noise on")
        curves = [_level_curve(mean[mine, c], variance[mine, c]) for c in range(channels)]
        gain.append([g for g, _ in curves])
        floor.append([f for _, f in curves])
    gains, floors = torch.tensor(gain)[owner], torch.tensor(floor)[owner]  # (K, C)
    std = (gains[..., None, None] * signal + floors[..., None, None]).clamp(VARIANCE_FLOOR).sqrt()
    unit = residual / std  # about unit variance per channel
    pixels = unit.permute(1, 0, 2, 3).reshape(channels, -1).double()
    covariance = pixels @ pixels.T / pixels.shape[1]
    d = covariance.diagonal().sqrt()
    correlation = covariance / (d[:, None] * d[None, :]) + 1e-6 * torch.eye(channels)
    colour = torch.linalg.cholesky(correlation)
    white = torch.linalg.solve_triangular(
        colour, unit.permute(1, 0, 2, 3).reshape(channels, -1).double(), upper=False
    ).reshape(channels, -1, cell, cell)
    power = torch.fft.fft2(white).abs().square().mean(1)  # (C, cell, cell)
    power[:, 0, 0] = (power[:, 0, 1] + power[:, 1, 0]) / 2  # each cell's mean is not noise alone
    kernel = torch.fft.fftshift(torch.fft.ifft2(power.sqrt()).real, dim=(-2, -1))
    centre, half = cell // 2, KERNEL // 2
    kernel = kernel[:, centre - half : centre + half + 1, centre - half : centre + half + 1]
    kernel = kernel / kernel.square().sum((1, 2), keepdim=True).sqrt()
    return NoiseFit(gain, floor, colour.float().tolist(), kernel.float().tolist())


def flat_residuals(noisy: Tensor, share: float = 0.1, cell: int = 2 * CELL) -> Tensor:
    """The noise of photos without a clean reference, as far as their flat parts show it: each
    image's ``share`` flattest ``cell`` x ``cell`` cells (judged on the image blurred by 2 px,
    which the noise sways less), less their least-squares planes: ``(K, C, cell, cell)``.

    ``noisy``: ``(B, C, H, W)`` in ``[0, 1]``, cropped to multiples of ``cell``. Texture that a
    plane does not explain stays in the residual, so on busy photos it reads a little high; it
    treats real and synthetic noise alike, which is what comparing them needs.
    """
    check_images(noisy)
    h, w = noisy.shape[-2] // cell * cell, noisy.shape[-1] // cell * cell
    if not h or not w:
        raise ValueError(f"images of {tuple(noisy.shape[-2:])} hold no {cell}-pixel cell")
    x = noisy[..., :h, :w].float()
    guide = kornia.filters.gaussian_blur2d(x, (9, 9), (2.0, 2.0), border_type="reflect")
    return _minus_plane(_cells(x, cell)[flat_cells(guide, share, cell)])


def noise_std(images: Tensor, gain: Tensor, floor: Tensor) -> Tensor:
    """Per-pixel noise standard deviation ``sqrt(gain * x + floor)`` of ``images`` ``(B, C, H,
    W)``; ``gain``, ``floor``: ``(B, C)``."""
    x = images.float().clamp(0.0, 1.0)
    return (gain[..., None, None] * x + floor[..., None, None]).clamp(VARIANCE_FLOOR).sqrt()


def correlated_unit_noise(
    shape: tuple[int, ...],
    colour: Tensor,
    kernel: Tensor,
    like: Tensor,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Noise of unit variance per channel with the fitted correlations: ``colour @ (kernel * w)``;
    ``shape`` ``(B, C, H, W)``, ``colour`` ``(C, C)``, ``kernel`` ``(C, K, K)``."""
    b, c, h, w = shape
    k = kernel.shape[-1]
    white = sampling.randn((b, c, h + k - 1, w + k - 1), like, generator)
    filtered = F.conv2d(white, kernel[:, None].to(white), groups=c)
    return torch.einsum("ij,bjhw->bihw", colour.to(white), filtered)


class FittedNoise(DegradationOp):
    """Draw the fitted camera noise on images: each image takes the level curve of one of the
    fitted photos (at random), the shared colour mixing and kernel; the result is clipped to
    ``[0, 1]`` and rounded to 8 bits, as the photos were.

    Args:
        fit: a :class:`NoiseFit`, its dict, the path of its JSON file or a shipped fit's name.
        p: share of images that get noise.
    """

    def __init__(self, fit: NoiseFit | dict | str | Path, p: float = 1.0) -> None:
        super().__init__(p)
        if isinstance(fit, (str, Path)):
            fit = NoiseFit.load(fit)
        if isinstance(fit, dict):
            fit = NoiseFit(**fit)
        self.fit = fit
        self.register_buffer("gain", torch.tensor(fit.gain, dtype=torch.float32), persistent=False)
        self.register_buffer(
            "floor", torch.tensor(fit.floor, dtype=torch.float32), persistent=False
        )
        self.register_buffer(
            "colour", torch.tensor(fit.colour, dtype=torch.float32), persistent=False
        )
        self.register_buffer(
            "kernel", torch.tensor(fit.kernel, dtype=torch.float32), persistent=False
        )

    def noise(self, std: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Noise with the fitted correlations and the per-pixel standard deviation ``std``
        (``(B, C, H, W)``, 0-1 scale)."""
        unit = correlated_unit_noise(tuple(std.shape), self.colour, self.kernel, std, generator)
        return unit * std.float()

    def corrupt(self, images, generator):
        x = images.float()
        pick = (sampling.rand((x.shape[0],), x, generator) * len(self.gain)).long()
        pick = pick.clamp_max(len(self.gain) - 1)
        std = noise_std(x, self.gain[pick], self.floor[pick])
        noisy = (x + self.noise(std, generator)).clamp(0.0, 1.0)
        return (noisy * 255.0).round().div(255.0).to(images.dtype)
