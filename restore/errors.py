"""How the failure of one image is told, in every front end: one line that names the item (its
file) and the cause; running out of memory says so and what to change."""

from __future__ import annotations

from typing import Any

_MEMORY_WORDS = ("out of memory", "can't allocate memory", "cannot allocate memory")


def is_out_of_memory(err: BaseException) -> bool:
    """Python's ``MemoryError``, or what torch raises when an allocation fails (CPU or CUDA)."""
    if isinstance(err, MemoryError):
        return True
    return isinstance(err, RuntimeError) and any(w in str(err).lower() for w in _MEMORY_WORDS)


def failure_message(item: Any, err: BaseException) -> str:
    """One line: ``<item>: <cause>`` (the cause alone when it names the item already)."""
    if is_out_of_memory(err):
        cause = "out of memory (try a smaller --tile, or a smaller image)"
    else:
        text = str(err).strip()
        cause = text.splitlines()[0] if text else type(err).__name__
    cause = cause.replace("\r", " ")
    return cause if str(item) in cause else f"{item}: {cause}"
