"""Start a narrower :class:`~restore.models.vae.RestorationVAE` from a wider one's weights.

A student with fewer channels per U-Net level (``widths``) learns from its teacher much faster
when it starts from the teacher's most important channels than from random weights. Which
channels: those whose weights are largest (L1 norm, as Li et al. 2017, "Pruning Filters for
Efficient ConvNets"): per level, one set for the residual stream the encoder, skips, merges and
decoder share (scored over every layer that reads or writes it); per residual block, one for its
hidden channels; in the damage head, those with the largest batch-norm scale (Liu et al. 2017,
"network slimming"). The noise estimator and every input and output channel are kept whole. The
recognition network (training only) is left to the student's own initialisation.

:func:`narrow_state` is pure: a state dict in, a state dict out.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["can_narrow", "narrow_state"]


def can_narrow(theirs: dict, ours: dict) -> bool:
    """Whether a network of config ``ours`` can start from one of config ``theirs`` by
    :func:`narrow_state`: the same settings but ``widths`` (and ``posterior_width``), with no
    level wider than theirs and at least one narrower."""
    rest = ("widths", "posterior_width")
    if {k: v for k, v in theirs.items() if k not in rest} != {
        k: v for k, v in ours.items() if k not in rest
    }:
        return False
    a, b = list(theirs.get("widths", [])), list(ours.get("widths", []))
    return len(a) == len(b) and all(y <= x for x, y in zip(a, b, strict=True)) and a != b


def _norm(t: Tensor, dim: int) -> Tensor:
    """L1 norm of ``t`` per index along ``dim``, over the mean of the tensor (so that layers of
    different scales count alike)."""
    t = t.float().abs()
    per = t.sum([d for d in range(t.dim()) if d != dim]) if t.dim() > 1 else t
    return per / per.mean().clamp_min(1e-12)


def _top(score: Tensor, k: int) -> Tensor:
    return torch.sort(torch.topk(score, k).indices).values


def _take(t: Tensor, dim: int, index: Tensor | None) -> Tensor:
    return t if index is None else t.index_select(dim, index)


def narrow_state(
    state: dict[str, Tensor],
    widths: Sequence[int],
    blocks: Sequence[int],
    new_widths: Sequence[int],
) -> dict[str, Tensor]:
    """The inference weights of a network of ``widths`` (``state``, its state dict) cut to
    ``new_widths`` (each no wider), keeping the channels the module docstring says. Keys of the
    recognition network are dropped; heads and the noise estimator are kept when present."""
    levels = len(widths)
    s = {k: v for k, v in state.items() if not k.startswith(("posterior_net.", "posterior."))}

    # The residual stream of each level: scored over every layer that writes or reads it.
    keep = []
    for i in range(levels):
        score = torch.zeros(widths[i])
        writes = [f"{stage}.{i}.{b}.conv2.weight" for stage in ("enc", "dec") for b in
                  range(blocks[i])]  # fmt: skip
        reads = [f"{stage}.{i}.{b}.conv1.weight" for stage in ("enc", "dec") for b in
                 range(blocks[i])]  # fmt: skip
        if i == 0:
            writes.append("stem.weight")
            reads.append("head.weight")
        if i < levels - 1:
            reads.append(f"down.{i}.weight")
            writes.append(f"merge.{i}.weight")
        if i > 0:
            writes.append(f"down.{i - 1}.weight")
        if i == levels - 1:
            writes.append("fuse.weight")
            reads.append("prior.conv.weight")
        for key in writes:
            score += _norm(s[key], 0)
        for key in reads:
            score += _norm(s[key], 1)
        if i > 0:
            score += _norm(s[f"up.{i - 1}.weight"], 0)  # a transposed conv: (in, out, k, k)
        if i < levels - 1:
            score += _norm(s[f"up.{i}.weight"], 1)
            score += _norm(s[f"merge.{i}.weight"][:, : widths[i]], 1)
            score += _norm(s[f"merge.{i}.weight"][:, widths[i] :], 1)
        keep.append(_top(score, new_widths[i]))

    out = dict(s)

    def conv(
        key: str, out_index: Tensor | None, in_index: Tensor | None, transposed: bool = False
    ) -> None:
        """Cut layer ``key``'s output and input channels (a transposed conv's weight is
        ``(in, out, k, k)``)."""
        out_dim, in_dim = (1, 0) if transposed else (0, 1)
        weight = _take(s[key + ".weight"], out_dim, out_index)
        out[key + ".weight"] = _take(weight, in_dim, in_index)
        if key + ".bias" in s:
            out[key + ".bias"] = _take(s[key + ".bias"], 0, out_index)

    conv("stem", keep[0], None)
    for i in range(levels):
        for stage in ("enc", "dec"):
            for b in range(blocks[i]):
                key = f"{stage}.{i}.{b}"
                hidden = _top(
                    _norm(s[key + ".conv1.weight"], 0) + _norm(s[key + ".conv2.weight"], 1),
                    new_widths[i],
                )
                conv(key + ".conv1", hidden, keep[i])
                conv(key + ".conv2", keep[i], hidden)
        if i < levels - 1:
            conv(f"down.{i}", keep[i + 1], keep[i])
            conv(f"up.{i}", keep[i], keep[i + 1], transposed=True)
            conv(f"merge.{i}", keep[i], torch.cat([keep[i], keep[i] + widths[i]]))
    latent = s["fuse.weight"].shape[1] - widths[-1]
    conv("fuse", keep[-1], torch.cat([keep[-1], torch.arange(latent) + widths[-1]]))
    conv("prior.conv", None, keep[-1])
    conv("head", None, keep[0])
    if "scale_head.0.weight" in s:
        hidden = _top(
            _norm(s["scale_head.0.weight"], 0) + _norm(s["scale_head.2.weight"], 1), new_widths[0]
        )
        conv("scale_head.0", hidden, keep[0])
        conv("scale_head.2", None, hidden)
    if "damage_head.0.weight" in s:
        # its input: the unshuffled pixels, the encoder's first level, the decoder's last
        c_in = s["damage_head.0.weight"].shape[1] - 2 * widths[0]
        read = torch.cat([torch.arange(c_in), keep[0] + c_in, keep[0] + c_in + widths[0]])
        previous = read
        for conv_i, bn_i in ((0, 1), (3, 4), (6, 7)):
            hidden = _top(s[f"damage_head.{bn_i}.weight"].float().abs(), new_widths[0])
            conv(f"damage_head.{conv_i}", hidden, previous)
            for name in ("weight", "bias", "running_mean", "running_var"):
                out[f"damage_head.{bn_i}.{name}"] = s[f"damage_head.{bn_i}.{name}"][hidden]
            previous = hidden
        conv("damage_head.9", None, previous)
    return out
