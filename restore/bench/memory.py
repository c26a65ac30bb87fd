"""Memory of a call: peak resident memory minus the memory before it, right on Linux and macOS."""

from __future__ import annotations

import gc
import os
import resource
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def _maxrss_mib() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024  # bytes on macOS, KiB on Linux


def proc_status_mib(key: str) -> float | None:
    """A memory field of this process's ``/proc/self/status`` (Linux) in MiB: ``key``
    ``VmRSS`` (resident now) or ``VmHWM`` (peak resident); None where it cannot be read."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    return None


def _reset_peak() -> bool:
    """Reset this process's peak RSS (``VmHWM``; Linux >= 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return proc_status_mib("VmHWM") is not None


@dataclass
class Memory:
    """Extra resident memory of a call: its peak RSS minus the RSS just before it, in MiB.

    Exact where the peak can be reset (Linux ``/proc/self/clear_refs``); otherwise from the
    process-lifetime ``ru_maxrss``: exact when the call raised it, else only an upper bound; with
    no way to read the current RSS either, the rise of the lifetime peak, a lower bound.

    Attributes:
        mib: the extra resident memory in MiB; None: not measured (:meth:`text` says ``n/a``).
        upper_bound: ``mib`` is only an upper bound (the call did not raise the lifetime peak);
            :meth:`text` writes ``<= mib``.
        lower_bound: ``mib`` is only a lower bound (the rise of the lifetime peak);
            :meth:`text` writes ``>= mib``.
    """

    mib: float | None
    upper_bound: bool
    lower_bound: bool = False

    def text(self) -> str:
        if self.mib is None:
            return "n/a"
        bound = "<= " if self.upper_bound else ">= " if self.lower_bound else ""
        return f"{bound}{self.mib:.0f}"


def _current_rss_mib() -> float | None:
    """This process's resident memory now: ``/proc`` on Linux, ``ps`` elsewhere (macOS), or None."""
    now = proc_status_mib("VmRSS")
    if now is not None:
        return now
    try:
        out = subprocess.run(
            ["ps", "-o", "rss=", "-p", str(os.getpid())],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
        return int(out.split()[0]) / 1024  # kB
    except (OSError, ValueError, IndexError, subprocess.SubprocessError):
        return None


def measure_memory(call: Callable[..., Any], *args: Any) -> Memory:
    """The extra resident memory of ``call(*args)`` (see :class:`Memory`)."""
    gc.collect()
    now = _current_rss_mib()
    if now is not None and _reset_peak():
        call(*args)
        return Memory(max(0.0, proc_status_mib("VmHWM") - now), False)
    peak_before = _maxrss_mib()
    call(*args)
    peak_after = _maxrss_mib()
    if now is None:  # no current RSS either: the rise of the lifetime peak (a lower bound)
        return Memory(peak_after - peak_before, False, lower_bound=True)
    if peak_after > peak_before:
        return Memory(max(0.0, peak_after - now), False)
    return Memory(max(0.0, peak_before - now), True)


def memory_method() -> str:
    """How :func:`measure_memory` works on this machine (for the report)."""
    if proc_status_mib("VmRSS") is not None and _reset_peak():
        return (
            "peak RSS of the call (`VmHWM`, reset through `/proc/self/clear_refs` just before it) "
            "minus the RSS before it: exact, page granularity"
        )
    return (
        "`ru_maxrss` after the call minus the current RSS before it; `ru_maxrss` never goes down, "
        "so methods run cheapest first, and a call that stays under an earlier peak only gets an "
        "upper bound (`<=`)"
    )
