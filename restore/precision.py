"""The ``auto`` precision of training and inference, one table: fp16 autocast on CUDA, bf16 on a
CPU that computes in bf16 natively (faster than fp32 there, with channels-last), fp32 on
other CPUs (bf16 is emulated there, slower than fp32: MODEL_CARD.md) and on MPS."""

from __future__ import annotations

import functools
import platform
from pathlib import Path

import torch

AUTO_DTYPE: dict[str, torch.dtype | None] = {
    "cuda": torch.float16,
    "cpu": torch.bfloat16,
    "mps": None,
}
_NAMED = {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}
_LIGHTNING = {torch.float16: "16-mixed", torch.bfloat16: "bf16-mixed", None: "32-true"}


@functools.cache
def cpu_has_native_bf16() -> bool:
    """Whether this CPU has bf16 arithmetic instructions (x86 AVX512-BF16 or AMX-BF16, Arm BF16),
    read from ``/proc/cpuinfo`` on Linux; False where it cannot tell."""
    try:
        info = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    flags = set()
    for line in info.splitlines():
        if line.split(":")[0].strip().lower() in ("flags", "features"):
            flags.update(line.split(":", 1)[1].split())
    wanted = {"bf16"} if platform.machine().lower() in ("aarch64", "arm64") else set()
    return bool(flags & ({"avx512_bf16", "amx_bf16"} | wanted))


def _auto(device_type: str) -> torch.dtype | None:
    if device_type == "cpu" and not cpu_has_native_bf16():
        return None
    return AUTO_DTYPE.get(device_type)


def autocast_dtype(device_type: str, precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype for ``precision`` (``auto``, ``fp32``, ``fp16``, ``bf16``) on a device
    type; None = no autocast (fp32)."""
    if precision == "auto":
        return _auto(device_type)
    if precision not in _NAMED:
        raise ValueError(f"precision must be auto, fp32, fp16 or bf16, got {precision!r}")
    return _NAMED[precision]


def lightning_precision(precision, accelerator: str):
    """A Lightning ``precision`` for a trainer: ``auto`` becomes the table's entry for the device
    that ``accelerator`` (``auto``, ``cpu``, ``gpu``/``cuda``, ``mps``) will use."""
    if precision != "auto":
        return precision
    if accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available()):
        device = "cuda"
    elif accelerator == "mps" or (accelerator == "auto" and torch.backends.mps.is_available()):
        device = "mps"
    else:
        device = "cpu"
    return _LIGHTNING[_auto(device)]
