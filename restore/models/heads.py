"""The restoration network's extra heads. Each reads the network's features (detached: learning a
head never changes the restoration) at the resolution after the input's pixel-unshuffle, and is an
``nn.Sequential`` so that its weights keep their names in the weight files.

* :class:`UncertaintyHead`: the per-pixel log standard deviation of the restoration's error
  (aleatoric, heteroscedastic; trained with a Gaussian NLL), uncalibrated;
* :class:`DamageHead`: the per-pixel logit that an input pixel is damaged (scratch, dust, crease,
  writing; trained with binary cross-entropy against the damage mask).

Both return ``(B, unshuffle**2 * C, h, w)`` maps that the network pixel-shuffles to full size.

:data:`HEADS` is the one table of a network's optional parts (these two heads and the noise
estimator): what each is called, where it lives and how a model gets one; :func:`require_head`
says, in one line, that a model lacks one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import nn


class UncertaintyHead(nn.Sequential):
    """3x3 conv, SiLU, 3x3 conv from the decoder's last features (``width`` channels) to
    ``channels`` log standard deviations per unshuffled pixel; starts at 5 grey levels
    everywhere."""

    def __init__(self, width: int, channels: int) -> None:
        super().__init__(
            nn.Conv2d(width, width, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(width, channels, 3, padding=1),
        )
        nn.init.zeros_(self[-1].weight)
        nn.init.constant_(self[-1].bias, math.log(5 / 255))


class DamageHead(nn.Sequential):
    """The logit that each input pixel is damaged, from the input pixels themselves (unshuffled:
    full resolution), what the encoder saw there (its first level) and what the decoder would put
    there (``in_channels`` in all), with dilated convolutions for the context that tells a scratch
    from an edge of the picture. Batch norm (a per-channel affine map at inference, so tiles
    agree) puts inputs of very different scales on one footing: without it the head learned
    several times more slowly. ``width``: channels of its three hidden layers (3x3 convolutions
    dilated 1, 2 and 4, each with batch norm and SiLU). ``outputs``: one logit per unshuffled
    pixel; starts at about 2 % damaged."""

    def __init__(self, in_channels: int, width: int, outputs: int) -> None:
        layers: list[nn.Module] = []
        for dilation, c_in in ((1, in_channels), (2, width), (4, width)):
            layers += [
                nn.Conv2d(c_in, width, 3, padding=dilation, dilation=dilation),
                nn.BatchNorm2d(width),
                nn.SiLU(),
            ]
        super().__init__(*layers, nn.Conv2d(width, outputs, 3, padding=1))
        nn.init.zeros_(self[-1].weight)
        nn.init.constant_(self[-1].bias, -4.0)


@dataclass(frozen=True)
class OptionalPart:
    """One optional part of :class:`restore.models.vae.RestorationVAE`.

    Attributes:
        name: what messages call it (``"uncertainty head"``).
        attribute: the network's attribute that holds it (None when the network has none).
        flag: the network's argument (and weight file's config key) that adds it.
        decoded: whether :meth:`~restore.models.vae.RestorationVAE.decode_with_heads` runs it.
        calibrated: whether ``restore-calibrate --fit`` fits something for it.
    """

    name: str
    attribute: str
    flag: str
    decoded: bool
    calibrated: bool

    @property
    def setting(self) -> str:
        """The ``restore-train`` override that trains a model with it."""
        return f"model.net.{self.flag}=true"


# The optional parts of a network, by the key the API names them with.
HEADS = {
    "uncertainty": OptionalPart("uncertainty head", "scale_head", "uncertainty", True, True),
    "damage": OptionalPart("damage head", "damage_head", "damage", True, True),
    "noise": OptionalPart("noise estimator", "noise_estimator", "noise_estimator", False, False),
}


def has_head(net: nn.Module, head: str) -> bool:
    """Whether ``net`` has the optional part ``head`` (a key of :data:`HEADS`)."""
    return getattr(net, HEADS[head].attribute) is not None


def require_head(
    net: nn.Module, head: str, source: str | None = None, needed_by: str | None = None
) -> None:
    """Raise a one-line ``ValueError`` unless ``net`` has ``head`` (a key of :data:`HEADS`),
    naming the weights (``source``; None: "this model"), what needs the head (``needed_by``, e.g.
    an option) and how to get a model with one."""
    if has_head(net, head):
        return
    part = HEADS[head]
    needs = f", which {needed_by} needs" if needed_by else ""
    raise ValueError(
        f"{source or 'this model'} has no {part.name} (it was trained without one){needs}: use the "
        f"shipped photo model, train a model with one (restore-train {part.setting}), or "
        "fine-tune the shipped photo model, which has one, on your photos (restore-train "
        "experiment=finetune data.root=<folder>)"
    )
