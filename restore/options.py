"""Options: the defaults and limits every front end shares, and the checks of numbers and ranges.

Standard library only, so ``restore-image --help`` and ``restore-ui --help`` answer at once.

* The defaults and limits: :data:`TASKS`, the tile size, the pixel limits, the noise scale, the
  damage mask settings, the sample caps. The command line, the server,
  :class:`restore.jobs.JobOptions` and :class:`restore.restorer.Restorer` build their defaults,
  checks and help from them.
* The checks: :func:`is_number`, :func:`is_integer`, :func:`check_number` (one value),
  :func:`check_range` and :func:`check_int_range` (a number or a ``[low, high]`` range from a
  config), :func:`parse_number` (a text field or flag). Each raises ``ValueError`` with one line
  that names the option: ``<name> must be <what>, got <value>``.

A bool is not a number here, nor are NaN and the infinities; where an integer is asked for, a float
is refused even when its value is whole (``2.0``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

#: What a job does to an image (:class:`restore.jobs.JobOptions`): ``auto`` (fill where there are
#: holes, denoise otherwise), ``denoise``, ``inpaint``, ``restore`` (both), ``repair`` (old photos).
TASKS = ("auto", "denoise", "inpaint", "restore", "repair")

#: Where the network runs (:class:`restore.restorer.Restorer`'s ``backend``): ``auto`` (OpenVINO
#: on a CPU without native bf16 when it is installed, else PyTorch: :mod:`restore.runtime`),
#: ``torch``, ``onnxruntime``, ``openvino``.
BACKENDS = ("auto", "torch", "onnxruntime", "openvino")
BACKEND_HELP = (
    "where the network runs: auto (the default: OpenVINO on a CPU without native bf16 when it is "
    "installed, else PyTorch; the environment variable RESTORE_BACKEND overrides it), torch, "
    "openvino, onnxruntime (CPU runtimes: the graph is compiled at the first image and cached)"
)

#: The default tiles' budget in pixels (:func:`restore.tiling.tile_shape`): a 1 MP photo runs whole.
MAX_TILE_PIXELS = 1_250_000
#: Pixels shared by neighbouring tiles (the outer half is context only): by default
#: ``TILE_OVERLAP`` on an image without holes and ``HOLE_TILE_OVERLAP`` on one with holes, whose
#: fill reads farther than denoising does (MODEL_CARD.md, "Tile overlap").
TILE_OVERLAP = 64
HOLE_TILE_OVERLAP = 128
MIN_TILE = 320  # restore-image's smallest --tile: well above twice the largest overlap

#: Image and mask files above this many pixels are refused from their header (decompression
#: bombs) unless a caller allows more: the API's and ``restore-image``'s limit.
MAX_PIXELS = 200_000_000
# A server takes work from whoever reaches it: ``restore-ui``'s limits are lower than the command
# line's (MAX_PIXELS, MAX_SAMPLES); the first two are flags of restore-ui.
SERVER_MAX_PIXELS = 50_000_000
SERVER_MAX_BYTES = 50 * 2**20  # per uploaded file
SERVER_MAX_SAMPLES = 16

MAX_SIGMA = 255  # noise levels are grey levels on the 0-255 scale, in [0, MAX_SIGMA]
MAX_SAMPLES = 1000  # samples one job may draw
MAX_SEED = 2**63 - 1

# ``repair``: pixels the damage found is grown by, and the widest region filled (0: no limit).
DEFAULT_MASK_GROW = 1
DEFAULT_MASK_MAX_WIDTH = 12
MAX_MASK_GROW = 1000
MAX_MASK_WIDTH = 100_000

Range = float | Sequence[float]  # a number, or a [low, high] range drawn uniformly
IntRange = int | Sequence[int]


def is_number(value: Any) -> bool:
    """A finite real number: int, float or a NumPy scalar; not a bool, NaN, inf or a string."""
    return not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)


def is_integer(value: Any) -> bool:
    """An integer (int or a NumPy integer); not a bool, nor a float of whole value."""
    return not isinstance(value, bool) and isinstance(value, numbers.Integral)


def _bounds(low: Any, high: Any, low_open: bool = False, high_open: bool = False) -> str:
    """`` in [low, high]``, `` >= low``, `` < high``..., or empty without bounds."""
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '>='} {low}"
    if high is not None:
        return f" {'<' if high_open else '<='} {high}"
    return ""


def _within(value: Any, low: Any, high: Any, low_open: bool, high_open: bool) -> bool:
    above = low is None or (value > low if low_open else value >= low)
    below = high is None or (value < high if high_open else value <= high)
    return above and below


def check_number(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    integer: bool = False,
    optional: bool = False,
    low_open: bool = False,
    high_open: bool = False,
) -> Any:
    """``value`` checked: a number (:func:`is_number`; an integer when ``integer``) in ``[low,
    high]`` (a bound None: none on that side; ``low_open``/``high_open``: that bound excluded);
    None passes when ``optional``.

    Returns:
        the value as a float (an int when ``integer``), or None.

    Raises:
        ValueError: ``<name> must be [None or ]<a number|an integer|a positive integer><bounds>,
            got <value>``.
    """
    if value is None and optional:
        return None
    ok = is_integer(value) if integer else is_number(value)
    if ok and _within(value, low, high, low_open, high_open):
        return int(value) if integer else float(value)
    if integer and low == 1 and high is None and not low_open:
        what = "a positive integer"
    else:
        what = ("an integer" if integer else "a number") + _bounds(low, high, low_open, high_open)
    raise ValueError(f"{name} must be {'None or ' if optional else ''}{what}, got {value!r}")


def check_range(name: str, value: Range, low: float, high: float | None = None) -> Range:
    """A config value that is a number or a ``[low, high]`` range (``low <= high``), each number
    in ``[low, high]`` (``high`` None: ``>= low``).

    Returns:
        a float, or a ``(low, high)`` tuple of floats for a range (a one-number list: a float).

    Raises:
        ValueError: naming ``name`` and the value.
    """
    values = list(value) if isinstance(value, Sequence) else [value]
    if (
        not all(is_number(v) for v in values)
        or len(values) not in (1, 2)
        or (len(values) == 2 and values[0] > values[1])
    ):
        raise ValueError(f"{name} must be a number or a [low, high] range, got {value!r}")
    if not all(_within(v, low, high, False, False) for v in values):
        raise ValueError(f"{name} must be{_bounds(low, high)}, got {value!r}")
    values = [float(v) for v in values]
    return tuple(values) if len(values) == 2 else values[0]


def check_int_range(name: str, value: IntRange, low: int = 0) -> tuple[int, int]:
    """A config value that is an integer or a ``[low, high]`` range of them (``low <= high``),
    each ``>= low``.

    Returns:
        ``(low, high)`` (an integer ``n``: ``(n, n)``).

    Raises:
        ValueError: naming ``name`` and the value.
    """
    values = list(value) if isinstance(value, Sequence) else [value, value]
    if not (len(values) == 2 and all(is_integer(v) for v in values) and values[0] <= values[1]):
        raise ValueError(f"{name} must be an integer or a [low, high] range, got {value!r}")
    if values[0] < low:
        raise ValueError(f"{name} must be{_bounds(low, None)}, got {value!r}")
    return int(values[0]), int(values[1])


def parse_number(name: str, text: str, integer: bool = False) -> int | float:
    """A flag's or a form field's text as an int (``integer``) or a float, unchecked otherwise
    (``nan`` and ``inf`` parse: :func:`check_number` refuses them).

    Raises:
        ValueError: ``<name> must be an integer|a number, got '<text>'`` (the text shortened to
            40 characters, control characters escaped).
    """
    try:
        return int(text) if integer else float(text)
    except ValueError:
        what = "an integer" if integer else "a number"
        raise ValueError(f"{name} must be {what}, got {text[:40]!r}") from None
