"""Conditional VAE over a U-Net for restoration (denoising and inpainting).

Structure (in the spirit of the Probabilistic U-Net, with a spatial latent as in Pluralistic Image
Completion):

* a conditioning U-Net encoder reads the degraded image and its hole mask and gives skip features
  plus the *conditional prior* ``p(z | y) = N(mu, diag(exp(logvar)))`` over a latent map at
  1/``stride``
  resolution (``y`` = degraded image and mask);
* a recognition network ``q(z | x, y)`` also sees the clean image ``x`` (training only);
* the U-Net decoder maps a latent sample plus the skips to the restored image: a residual on top of
  the degraded input, whose holes hold 0 or a classical fill of the known pixels
  (``hole_fill``: ``"pyramid"``, push-pull, or ``"harmonic"``, membrane; see
  :mod:`restore.models.fill`).

Training maximises the ELBO ``E_q[log p(x | z, y)] - beta * KL(q(z | x, y) || p(z | y))``. Because
the recognition network sees the clean image, a decoder trained on posterior samples alone learns to
rely on ``z`` for detail that the prior cannot supply at test time (decoding the prior mean then
gives flat, grey hole fills). As in the hybrid CVAE objective of Sohn et al. (2015), the training
module therefore also decodes the prior mean and adds its reconstruction loss. At inference
``restore`` decodes the prior mean (deterministic) and ``sample`` decodes draws from ``p(z | y)``,
which gives several plausible completions and, from their spread, per-pixel uncertainty.

Images are ``(B, C, H, W)`` floats in ``[0, 1]``; masks ``(B, 1, H, W)`` with 1 = missing pixel.
The noise level (standard deviation on the 0-255 scale) is given to the network as two input maps
(level/255 and a known flag): per image ``(B,)`` or per pixel ``(B, 1, H, W)``, NaN = unknown. With
a noise estimator (``noise_estimator=True``, :mod:`restore.models.noise_level`) an unknown level is
read from the image by the estimator, so blind denoising is told the level it measured; without
one, the flag says "unknown" and the network guesses.
Any ``H, W`` work: inputs are reflect-padded to a multiple of ``stride`` and outputs cropped back.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from restore.geometry import pad_to_multiple
from restore.models.calibration import DEFAULT_DAMAGE_THRESHOLD, UncertaintyCalibration
from restore.models.fill import harmonic_fill, pyramid_fill
from restore.models.heads import HEADS, DamageHead, UncertaintyHead
from restore.models.noise_level import NoiseLevelNet, upsample_level

LOGVAR_LIMIT = 8.0
FILLS = {"harmonic": harmonic_fill, "pyramid": pyramid_fill}
HOLE_FILLS = (*FILLS, "zero")
DECODED_HEADS = tuple(key for key, part in HEADS.items() if part.decoded)


def gaussian_kl(mu_q: Tensor, logvar_q: Tensor, mu_p: Tensor, logvar_p: Tensor) -> Tensor:
    """Elementwise ``KL(N(mu_q, exp(logvar_q)) || N(mu_p, exp(logvar_p)))`` in nats (closed
    form)."""
    return 0.5 * (
        logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p) ** 2) / logvar_p.exp() - 1.0
    )


def reparameterize(
    mu: Tensor,
    logvar: Tensor,
    generator: torch.Generator | None = None,
    temperature: float = 1.0,
    eps: Tensor | None = None,
) -> Tensor:
    """``z = mu + temperature * exp(logvar / 2) * eps`` with ``eps ~ N(0, I)`` (drawn from
    ``generator`` unless given); differentiable."""
    if eps is None:
        eps = torch.randn(
            mu.shape,
            generator=generator,
            device=mu.device if generator is None else generator.device,
            dtype=mu.dtype,
        )
    return mu + temperature * (0.5 * logvar).exp() * eps.to(mu.device, mu.dtype)


class ResBlock(nn.Module):
    """Two 3x3 convolutions with a SiLU between them and an identity skip.

    Args:
        channels: channels of the input, of the hidden features and of the output.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(F.silu(self.conv1(x)))


def _stage(channels: int, blocks: int) -> nn.Sequential:
    return nn.Sequential(*[ResBlock(channels) for _ in range(blocks)])


class _GaussianHead(nn.Module):
    """3x3 conv to ``2 * latent`` channels, split into mean and (bounded) log-variance."""

    def __init__(self, channels: int, latent: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, 2 * latent, 3, padding=1)

    def forward(self, h: Tensor) -> tuple[Tensor, Tensor]:
        mu, logvar = self.conv(h).float().chunk(2, dim=1)
        return mu, LOGVAR_LIMIT * torch.tanh(logvar / LOGVAR_LIMIT)


@dataclass
class Encoding:
    """Result of :meth:`RestorationVAE.encode`: the conditional prior and what the decoder needs.

    ``mu``/``logvar`` are ``(B, latent_channels, H / stride, W / stride)`` float32.

    Attributes:
        mu: the conditional prior's mean.
        logvar: its log-variance (bounded to ``+-LOGVAR_LIMIT``).
        skips: the encoder's features at each U-Net level, finest first (``widths[i]`` channels
            at ``1 / (unshuffle * 2**i)`` of the padded size); the decoder's skip connections.
        degraded: ``(B, C, H', W')``: the input padded to a multiple of the stride, holes
            pre-filled (``hole_fill``); the decoder adds its residual to it.
        condition: ``(B, 3, H', W')``: hole mask, noise level / 255, noise-level-known flag.
        size: ``(H, W)`` before padding; outputs are cropped back to it.
        level_cells: the noise estimator's reading (grey levels, ``(B, 1, ceil(H / CELL),
            ceil(W / CELL))``), when it ran (always while training, otherwise for an unknown
            level); None otherwise.
    """

    mu: Tensor
    logvar: Tensor
    skips: list[Tensor]
    degraded: Tensor
    condition: Tensor
    size: tuple[int, int]
    level_cells: Tensor | None = None


@dataclass
class VAEOutput:
    """Training pass: raw (unclamped) reconstructions and the per-element KL map (nats).

    Attributes:
        reconstruction: ``(B, C, H, W)`` decoded from a posterior sample.
        kl: ``KL(q(z | x, y) || p(z | y))`` per latent element, in the shape of
            :attr:`Encoding.mu`.
        prior_reconstruction: ``(B, C, H, W)`` decoded from the prior mean, when asked for
            (``decode_prior``); None otherwise.
        prior_log_scale: its predicted log error scale (uncertainty head): ``(B, C, H, W)`` log
            standard deviation on the [0, 1] scale, uncalibrated; None when the prior mean was
            not decoded or the head not run.
        prior_damage_logit: the damage head's logits, ``(B, 1, H, W)``; None likewise.
        level_cells: the noise estimator's cells (grey levels), with gradients; None when it did
            not run (it always runs while training).
    """

    reconstruction: Tensor
    kl: Tensor
    prior_reconstruction: Tensor | None = None
    prior_log_scale: Tensor | None = None
    prior_damage_logit: Tensor | None = None
    level_cells: Tensor | None = None


@dataclass
class Decoded:
    """A decoded image (unclamped) and what the model's extra heads say about it.

    Attributes:
        image: ``(B, C, H, W)`` the decoded image, unclamped.
        log_scale: ``(B, C, H, W)`` log error std on the [0, 1] scale (the uncertainty head,
            uncalibrated); None when that head did not run.
        damage_logit: ``(B, 1, H, W)`` logit that the input pixel is damaged (the damage head);
            None when that head did not run.
    """

    image: Tensor
    log_scale: Tensor | None = None
    damage_logit: Tensor | None = None


class RestorationVAE(nn.Module):
    """Conditional U-Net VAE; see the module docstring.

    Args:
        image_channels: 3 for colour (gray images are replicated), 1 for a gray-only model.
        widths: channels of each U-Net level after the input pixel-unshuffle; each further level
            halves the resolution.
        blocks: residual blocks per level (encoder and decoder each).
        latent_channels: channels of the latent map at the lowest level.
        unshuffle: pixel-unshuffle factor at the input (FFDNet-style); cuts full-resolution cost.
        posterior_width: channel multiplier of the recognition network relative to ``widths``.
        hole_fill: what the holes of the input hold before the network sees it and adds its
            residual: ``zero``, ``pyramid`` (push-pull interpolation of the known pixels) or
            ``harmonic`` (membrane interpolation, closer to the truth; see
            :mod:`restore.models.fill`).
        uncertainty: add the uncertainty head (per-pixel error scale); its post-hoc
            calibration is the ``calibration`` attribute (:class:`UncertaintyCalibration`, the
            identity until one is fitted; weight files carry it).
        damage: add the damage head (probability that an input pixel is damaged); the
            ``damage_threshold`` attribute is the probability above which a repair fills a pixel
            by default (:data:`DEFAULT_DAMAGE_THRESHOLD` until one is chosen on validation photos
            by ``restore-calibrate``; weight files carry it).
        noise_estimator: add a noise-level estimator (:class:`NoiseLevelNet`) that tells the
            network the level of noise it reads whenever the caller gives none.
    """

    def __init__(
        self,
        image_channels: int = 3,
        widths: Sequence[int] = (64, 96, 128),
        blocks: Sequence[int] = (1, 1, 2),
        latent_channels: int = 16,
        unshuffle: int = 2,
        posterior_width: float = 0.5,
        hole_fill: str = "zero",
        uncertainty: bool = False,
        damage: bool = False,
        noise_estimator: bool = False,
    ) -> None:
        super().__init__()
        widths, blocks = [int(w) for w in widths], [int(b) for b in blocks]
        if image_channels not in (1, 3):
            raise ValueError(f"image_channels must be 1 or 3, got {image_channels}")
        if not widths or len(widths) != len(blocks) or min(widths) < 1 or min(blocks) < 0:
            raise ValueError(
                f"widths and blocks need the same non-zero length, got {widths}, {blocks}"
            )
        if latent_channels < 1 or unshuffle < 1 or not 0 < posterior_width <= 4:
            raise ValueError(
                "latent_channels and unshuffle must be >= 1, posterior_width in (0, 4]"
            )
        if hole_fill not in HOLE_FILLS:
            raise ValueError(f"hole_fill must be one of {HOLE_FILLS}, got {hole_fill!r}")
        self.config = dict(
            image_channels=image_channels,
            widths=widths,
            blocks=blocks,
            latent_channels=latent_channels,
            unshuffle=unshuffle,
            posterior_width=posterior_width,
            hole_fill=hole_fill,
        )
        if damage:
            self.config.update(damage=True)
        if noise_estimator:
            self.config.update(noise_estimator=True)
        self.noise_estimator = NoiseLevelNet(image_channels) if noise_estimator else None
        if uncertainty:
            self.config.update(uncertainty=True)
        self.calibration = UncertaintyCalibration()
        self.damage_threshold = DEFAULT_DAMAGE_THRESHOLD
        self.hole_fill = hole_fill
        self.image_channels = image_channels
        self.latent_channels = latent_channels
        self.unshuffle = unshuffle
        self.stride = unshuffle * 2 ** (len(widths) - 1)
        c_in = (image_channels + 3) * unshuffle**2

        # Conditioning encoder and conditional prior p(z | y).
        self.stem = nn.Conv2d(c_in, widths[0], 3, padding=1)
        self.enc = nn.ModuleList(_stage(w, b) for w, b in zip(widths, blocks, strict=False))
        self.down = nn.ModuleList(
            nn.Conv2d(a, b, 3, stride=2, padding=1)
            for a, b in zip(widths, widths[1:], strict=False)
        )
        self.prior = _GaussianHead(widths[-1], latent_channels)

        # Recognition network q(z | x, y): sees the clean image too.
        pw = [max(8, int(w * posterior_width)) for w in widths]
        post = [nn.Conv2d(c_in + image_channels * unshuffle**2, pw[0], 3, padding=1), nn.SiLU()]
        for a, b in zip(pw, pw[1:], strict=False):
            post += [ResBlock(a), nn.Conv2d(a, b, 3, stride=2, padding=1), nn.SiLU()]
        post += [ResBlock(pw[-1])]
        self.posterior_net = nn.Sequential(*post)
        self.posterior = _GaussianHead(pw[-1], latent_channels)

        # Decoder.
        self.fuse = nn.Conv2d(widths[-1] + latent_channels, widths[-1], 1)
        self.dec = nn.ModuleList(_stage(w, b) for w, b in zip(widths, blocks, strict=False))
        self.up = nn.ModuleList(
            nn.ConvTranspose2d(b, a, 2, stride=2) for a, b in zip(widths, widths[1:], strict=False)
        )
        self.merge = nn.ModuleList(nn.Conv2d(2 * w, w, 1) for w in widths[:-1])
        self.head = nn.Conv2d(widths[0], image_channels * unshuffle**2, 3, padding=1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        channels = image_channels * unshuffle**2
        self.scale_head = UncertaintyHead(widths[0], channels) if uncertainty else None
        self.damage_head = (
            DamageHead(2 * widths[0] + c_in, widths[0], unshuffle**2) if damage else None
        )

    # ----------------------------------------------------------------------------------------------
    def fill_holes(self, degraded: Tensor, mask: Tensor) -> Tensor:
        """The input the network adds its residual to: ``degraded`` with its holes (``mask == 1``)
        pre-filled as ``hole_fill`` says. Callers that cut an image into tiles fill it whole first
        and pass ``filled=True``, so a hole across tiles gets one consistent fill."""
        if self.hole_fill in FILLS and bool(mask.any()):
            return FILLS[self.hole_fill](degraded, mask)
        return degraded * (1 - mask.to(degraded.dtype))

    def estimate_noise(
        self, degraded: Tensor, mask: Tensor | None = None, filled: bool = False
    ) -> Tensor:
        """The noise level the estimator reads, per pixel: ``(B, 1, H, W)`` grey levels (0-255
        scale), smooth over ``CELL``-pixel cells. Needs ``noise_estimator=True``."""
        if self.noise_estimator is None:
            raise ValueError("this model has no noise estimator (trained without one)")
        if mask is not None and not filled:
            degraded = self.fill_holes(degraded, mask.to(degraded.dtype))
        return upsample_level(self.noise_estimator(degraded, mask), degraded.shape[-2:])

    def _level_maps(
        self,
        degraded: Tensor,
        mask: Tensor,
        noise_level: Tensor | float | None,
        level_grad: bool = False,
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        """``(level, known, cells)``: the noise level to tell the network per pixel ``(B, 1, H,
        W)`` (grey levels; unknown ones read by the estimator when there is one; ``level_grad``:
        with the gradient of what the network makes of it), the known flag, and the estimator's
        cells when it ran (always while training)."""
        b, _, h, w = degraded.shape
        level = torch.full((b,), float("nan")) if noise_level is None else noise_level
        level = torch.as_tensor(level, dtype=torch.float32, device=degraded.device)
        level = (level if level.dim() == 4 else level.reshape(-1, 1, 1, 1)).expand(b, 1, h, w)
        unknown = torch.isnan(level)
        cells = None
        if self.noise_estimator is not None and (self.training or bool(unknown.any())):
            cells = self.noise_estimator(degraded, mask)
            estimate = upsample_level(cells if level_grad else cells.detach(), (h, w))
            return torch.where(unknown, estimate, level), torch.ones_like(level), cells
        return torch.where(unknown, 0.0, level), (~unknown).float(), None

    def _prepare(
        self,
        degraded: Tensor,
        mask: Tensor | None,
        noise_level: Tensor | float | None,
        filled: bool = False,
        level_grad: bool = False,
    ) -> tuple[Tensor, Tensor, tuple[int, int], Tensor | None]:
        if degraded.dim() != 4 or degraded.shape[1] != self.image_channels:
            raise ValueError(
                f"expected (B, {self.image_channels}, H, W) images, got {tuple(degraded.shape)}"
            )
        b, _, h, w = degraded.shape
        if mask is None:
            mask = degraded.new_zeros((b, 1, h, w))
        mask = mask.to(degraded.dtype)
        if not filled:
            degraded = self.fill_holes(degraded, mask)
        level, known, cells = self._level_maps(degraded, mask, noise_level, level_grad)
        condition = torch.cat([mask, (level / 255.0).to(mask.dtype), known.to(mask.dtype)], 1)
        return (
            pad_to_multiple(degraded, self.stride),
            pad_to_multiple(condition, self.stride),
            (h, w),
            cells,
        )

    def encode(
        self,
        degraded: Tensor,
        mask: Tensor | None = None,
        noise_level: Tensor | float | None = None,
        filled: bool = False,
        level_grad: bool = False,
    ) -> Encoding:
        """Encode the degraded input (hole mask, noise level) to the conditional prior ``p(z | y)``.

        ``filled=True``: the holes of ``degraded`` already hold :meth:`fill_holes`'s fill.
        ``level_grad``: a level read by the estimator keeps its gradient (end-to-end training).
        """
        degraded, condition, size, cells = self._prepare(
            degraded, mask, noise_level, filled, level_grad
        )
        h = self.stem(F.pixel_unshuffle(torch.cat([degraded, condition], 1), self.unshuffle))
        skips = []
        for i, stage in enumerate(self.enc):
            h = stage(h)
            skips.append(h)
            if i < len(self.down):
                h = self.down[i](h)
        mu, logvar = self.prior(skips[-1])
        return Encoding(mu, logvar, skips, degraded, condition, size, cells)

    def encode_posterior(self, encoding: Encoding, clean: Tensor) -> tuple[Tensor, Tensor]:
        """Recognition network ``q(z | x, y)``: mean and log-variance given the clean image
        ``x``."""
        h, w = encoding.size
        ph, pw = encoding.degraded.shape[-2] - h, encoding.degraded.shape[-1] - w
        clean = F.pad(clean, (0, pw, 0, ph), mode="replicate") if ph or pw else clean
        inputs = torch.cat(
            [clean.to(encoding.degraded.dtype), encoding.degraded, encoding.condition], 1
        )
        return self.posterior(self.posterior_net(F.pixel_unshuffle(inputs, self.unshuffle)))

    def decode(self, z: Tensor, encoding: Encoding) -> Tensor:
        """Decode a latent map ``z`` (shape of ``encoding.mu``) to an unclamped ``(B, C, H, W)``
        image."""
        return self.decode_with_heads(z, encoding, heads=False).image

    def decode_with_heads(
        self, z: Tensor, encoding: Encoding, heads: bool | Collection[str] = True
    ) -> Decoded:
        """:meth:`decode`, and what the extra heads the model has say (``heads=False``: none;
        or the names of those to run, ``"uncertainty"``, ``"damage"``):
        the uncertainty head's per-pixel log standard deviation of the output's error, ``(B, C,
        H, W)`` on the [0, 1] scale, uncalibrated; the damage head's logit that each input pixel
        is damaged, ``(B, 1, H, W)``. The heads read the network's features without sending
        gradients back into them: learning them never changes the restoration."""
        h = self.fuse(torch.cat([encoding.skips[-1], z.to(encoding.skips[-1].dtype)], 1))
        for i in reversed(range(len(self.dec))):
            if i < len(self.up):
                h = self.merge[i](torch.cat([self.up[i](h), encoding.skips[i]], 1))
            h = self.dec[i](h)
        out = encoding.degraded + F.pixel_shuffle(self.head(h), self.unshuffle)
        height, width = encoding.size
        decoded = Decoded(out[..., :height, :width])
        run = set(DECODED_HEADS if heads is True else heads or ())
        if "uncertainty" in run and self.scale_head is not None:
            log_scale = F.pixel_shuffle(self.scale_head(h.detach()), self.unshuffle)
            decoded.log_scale = log_scale[..., :height, :width]
        if "damage" in run and self.damage_head is not None:
            pixels = F.pixel_unshuffle(
                torch.cat([encoding.degraded, encoding.condition], 1), self.unshuffle
            )
            features = torch.cat([pixels, encoding.skips[0], h], 1).detach()
            logit = F.pixel_shuffle(self.damage_head(features), self.unshuffle)
            decoded.damage_logit = logit[..., :height, :width]
        return decoded

    def forward(
        self,
        degraded: Tensor,
        mask: Tensor | None,
        clean: Tensor,
        noise_level: Tensor | None = None,
        generator: torch.Generator | None = None,
        decode_prior: bool = False,
        heads: bool | Collection[str] = True,
        level_grad: bool = False,
    ) -> VAEOutput:
        """Training pass: decode a reparameterised sample of ``q(z | x, y)``; KL against ``p(z |
        y)``.

        ``noise_level``: per image ``(B,)`` or per pixel ``(B, 1, H, W)``, NaN = unknown.
        ``decode_prior=True`` also decodes the prior mean (the deterministic restoration), with
        the extra ``heads`` (as :meth:`decode_with_heads`). ``level_grad``: as :meth:`encode`.
        """
        enc = self.encode(degraded, mask, noise_level, level_grad=level_grad)
        mu_q, logvar_q = self.encode_posterior(enc, clean)
        z = reparameterize(mu_q, logvar_q, generator)
        kl = gaussian_kl(mu_q, logvar_q, enc.mu, enc.logvar)
        prior = self.decode_with_heads(enc.mu, enc, heads) if decode_prior else Decoded(None)
        return VAEOutput(
            self.decode(z, enc),
            kl,
            prior.image,
            prior.log_scale,
            prior.damage_logit,
            enc.level_cells,
        )

    # ----------------------------------------------------------------------------------------------
    @staticmethod
    def finish(out: Tensor, degraded: Tensor, mask: Tensor | None, keep_known: bool) -> Tensor:
        """A decoded ``out`` as :meth:`restore` returns it: clamped to [0, 1], and with
        ``keep_known`` the known pixels (``mask == 0``) copied from ``degraded``."""
        out = out.clamp(0.0, 1.0)
        if keep_known and mask is not None:
            m = mask.to(out.dtype)
            out = m * out + (1 - m) * degraded.to(out.dtype)
        return out

    @torch.no_grad()
    def restore(
        self,
        degraded: Tensor,
        mask: Tensor | None = None,
        keep_known: bool = False,
        noise_level: Tensor | float | None = None,
        filled: bool = False,
    ) -> Tensor:
        """Deterministic restoration: decode the conditional prior mean. Output in ``[0, 1]``.

        ``keep_known=True`` copies the known pixels (``mask == 0``) from the input, which is right
        for clean images with holes; leave it off when the known pixels are noisy too.
        ``filled=True``: the holes of ``degraded`` already hold :meth:`fill_holes`'s fill.
        """
        enc = self.encode(degraded, mask, noise_level, filled)
        return self.finish(self.decode(enc.mu, enc), degraded, mask, keep_known)

    @torch.no_grad()
    def restore_with_uncertainty(
        self,
        degraded: Tensor,
        mask: Tensor | None = None,
        keep_known: bool = False,
        noise_level: Tensor | float | None = None,
        filled: bool = False,
    ) -> tuple[Tensor, Tensor]:
        """:meth:`restore` and the calibrated standard deviation of its error per pixel and
        channel, ``(B, C, H, W)`` on the [0, 1] scale (0 where ``keep_known`` copies a pixel;
        calibration: the ``calibration`` attribute). Needs the uncertainty head
        (``uncertainty=True``)."""
        if self.scale_head is None:
            raise ValueError("this model has no uncertainty head (trained without uncertainty)")
        enc = self.encode(degraded, mask, noise_level, filled)
        decoded = self.decode_with_heads(enc.mu, enc, heads=("uncertainty",))
        restored = self.finish(decoded.image, degraded, mask, keep_known)
        std = self.calibration.apply(decoded.log_scale.float().exp(), degraded, restored, mask)
        if keep_known and mask is not None:
            std = std * mask.to(std.dtype)
        return restored, std

    @torch.no_grad()
    def detect_damage(
        self,
        degraded: Tensor,
        mask: Tensor | None = None,
        noise_level: Tensor | float | None = None,
        filled: bool = False,
    ) -> Tensor:
        """Probability that each pixel is damaged (scratch, dust, crease, stain, writing),
        ``(B, 1, H, W)`` in [0, 1]. Needs the damage head (``damage=True``)."""
        if self.damage_head is None:
            raise ValueError("this model has no damage head (trained without damage)")
        enc = self.encode(degraded, mask, noise_level, filled)
        decoded = self.decode_with_heads(enc.mu, enc, heads=("damage",))
        return torch.sigmoid(decoded.damage_logit.float())

    @torch.no_grad()
    def sample(
        self,
        degraded: Tensor,
        mask: Tensor | None = None,
        n: int = 8,
        keep_known: bool = False,
        temperature: float = 1.0,
        noise_level: Tensor | float | None = None,
        generator: torch.Generator | None = None,
        filled: bool = False,
        eps: Tensor | None = None,
    ) -> Tensor:
        """``n`` restorations decoded from ``z ~ p(z | y)``: ``(n, B, C, H, W)`` in ``[0, 1]``.

        ``eps``: the standard-normal draws to use, ``(n, B, latent_channels, H', W')`` with ``H',
        W'``
        the latent map's size (``ceil(H / stride)``, ``ceil(W / stride)``), instead of drawing from
        ``generator``; tiled callers cut them from one map of the whole image.
        """
        enc = self.encode(degraded, mask, noise_level, filled)
        if eps is not None and (eps.shape[0] != n or eps.shape[1:] != enc.mu.shape):
            raise ValueError(
                f"eps must be (n, *latent shape) = {(n, *enc.mu.shape)}, got {tuple(eps.shape)}"
            )
        outs = [
            self.finish(
                self.decode(
                    reparameterize(
                        enc.mu, enc.logvar, generator, temperature, None if eps is None else eps[i]
                    ),
                    enc,
                ),
                degraded,
                mask,
                keep_known,
            )
            for i in range(n)
        ]
        return torch.stack(outs)
