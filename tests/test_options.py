"""restore.options: the checks of numbers and ranges every front end and config shares."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from restore.options import (
    HOLE_TILE_OVERLAP,
    MAX_PIXELS,
    MAX_SAMPLES,
    MAX_TILE_PIXELS,
    MIN_TILE,
    SERVER_MAX_PIXELS,
    SERVER_MAX_SAMPLES,
    check_int_range,
    check_number,
    check_range,
    is_integer,
    is_number,
    parse_number,
)

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("value", [0, -3, 2.5, 1e300, np.float32(0.5), np.int64(7), np.uint8(3)])
def test_finite_reals_are_numbers(value):
    assert is_number(value)


@pytest.mark.parametrize("value", [True, False, NAN, INF, -INF, "1", None, [1], 1j, np.nan])
def test_bools_non_finite_values_and_other_types_are_not_numbers(value):
    assert not is_number(value)


def test_integers_are_ints_not_bools_nor_whole_floats():
    assert is_integer(3) and is_integer(-3) and is_integer(np.int32(3))
    for value in (True, 3.0, np.float64(3.0), "3", None, NAN):
        assert not is_integer(value), value


def test_check_number_returns_the_value_as_a_float_or_an_int():
    assert check_number("x", 3, 0, 10) == 3.0 and isinstance(check_number("x", 3, 0, 10), float)
    got = check_number("n", np.int64(4), 1, integer=True)
    assert got == 4 and type(got) is int
    assert check_number("x", 0, 0, 1) == 0.0 and check_number("x", 1, 0, 1) == 1.0  # closed
    assert check_number("x", None, 0, 1, optional=True) is None
    assert check_number("x", -1e9) == -1e9  # no bounds: any finite number


@pytest.mark.parametrize(
    "value, kwargs, message",
    [
        (True, {"low": 0, "high": 1}, "x must be a number in [0, 1], got True"),
        (NAN, {"low": 0, "high": 1}, "x must be a number in [0, 1], got nan"),
        (INF, {"low": 0}, "x must be a number >= 0, got inf"),
        ("0.5", {"low": 0, "high": 1}, "x must be a number in [0, 1], got '0.5'"),
        (1.5, {"low": 0, "high": 1}, "x must be a number in [0, 1], got 1.5"),
        (-1, {"low": 0}, "x must be a number >= 0, got -1"),
        (11, {"high": 10}, "x must be a number <= 10, got 11"),
        (None, {"low": 0, "high": 1}, "x must be a number in [0, 1], got None"),
        (None, {"optional": True, "integer": True}, None),
        (1, {"low": 0, "high": 1, "high_open": True}, "x must be a number in [0, 1), got 1"),
        (0, {"low": 0, "high": 1, "low_open": True}, "x must be a number in (0, 1], got 0"),
        (0, {"low": 0, "low_open": True}, "x must be a number > 0, got 0"),
        (2.0, {"low": 0, "integer": True}, "x must be an integer >= 0, got 2.0"),
        (0, {"low": 1, "integer": True}, "x must be a positive integer, got 0"),
        (2.5, {"low": 1, "integer": True}, "x must be a positive integer, got 2.5"),
        (True, {"low": 1, "integer": True}, "x must be a positive integer, got True"),
        (17, {"low": 0, "high": 16, "integer": True}, "x must be an integer in [0, 16], got 17"),
        ("x", {"integer": True, "optional": True}, "x must be None or an integer, got 'x'"),
        (NAN, {"low": 0, "high": 255, "optional": True}, "must be None or a number in [0, 255]"),
    ],
)
def test_check_number_refuses_with_one_line_naming_the_option(value, kwargs, message):
    if message is None:  # accepted
        assert check_number("x", value, **kwargs) is None
        return
    with pytest.raises(ValueError) as info:
        check_number("x", value, **kwargs)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_check_range_takes_a_number_or_a_range():
    assert check_range("s", 5, 0.0) == 5.0 and isinstance(check_range("s", 5, 0.0), float)
    assert check_range("s", [1, 15], 0.0) == (1.0, 15.0)
    assert check_range("s", (2, 2), 0.0, 10.0) == (2.0, 2.0)  # a range stays a range (drawn)
    assert check_range("s", [3], 0.0) == 3.0  # a one-number list is that number
    assert check_range("q", (30, 90), 1.0, 100.0) == (30.0, 90.0)
    assert check_range("p", 1.0, 0.0, 1.0) == 1.0 and check_range("p", 0, 0.0, 1.0) == 0.0


@pytest.mark.parametrize(
    "value, high, message",
    [
        ((30, 10), None, "s must be a number or a [low, high] range, got (30, 10)"),
        ((1, 2, 3), None, "s must be a number or a [low, high] range"),
        ((), None, "s must be a number or a [low, high] range"),
        (NAN, None, "s must be a number or a [low, high] range, got nan"),
        ((1, INF), None, "s must be a number or a [low, high] range"),
        (True, None, "s must be a number or a [low, high] range, got True"),
        ("5", None, "s must be a number or a [low, high] range, got '5'"),
        (-1, None, "s must be >= 0.0, got -1"),
        ((-1, 5), None, "s must be >= 0.0, got (-1, 5)"),
        ((0.5, 1.5), 1.0, "s must be in [0.0, 1.0], got (0.5, 1.5)"),
    ],
)
def test_check_range_refuses(value, high, message):
    with pytest.raises(ValueError) as info:
        check_range("s", value, 0.0, high)
    assert message in str(info.value)


def test_check_int_range_takes_an_integer_or_a_range_of_them():
    assert check_int_range("count", 3, 1) == (3, 3)
    assert check_int_range("count", [1, 4], 1) == (1, 4)
    assert check_int_range("hairs", (0, 0)) == (0, 0)
    got = check_int_range("n", (np.int64(2), np.int64(5)))
    assert got == (2, 5) and all(type(v) is int for v in got)


@pytest.mark.parametrize(
    "value, message",
    [
        (0, "count must be >= 1, got 0"),
        ((0, 3), "count must be >= 1, got (0, 3)"),
        ((5, 2), "count must be an integer or a [low, high] range, got (5, 2)"),
        (2.0, "count must be an integer or a [low, high] range, got 2.0"),  # whole floats too
        ((1, 2.5), "count must be an integer or a [low, high] range"),
        (True, "count must be an integer or a [low, high] range, got True"),
        ((1, 2, 3), "count must be an integer or a [low, high] range"),
        ("12", "count must be an integer or a [low, high] range, got '12'"),
        (NAN, "count must be an integer or a [low, high] range, got nan"),
    ],
)
def test_check_int_range_refuses(value, message):
    with pytest.raises(ValueError) as info:
        check_int_range("count", value, 1)
    assert message in str(info.value)


def test_parse_number_reads_text_and_names_the_option_when_it_cannot():
    assert parse_number("--noise-level", "25") == 25.0
    assert parse_number("strength", " 0.5 ") == 0.5
    assert parse_number("seed", "7", integer=True) == 7
    assert parse_number("x", "nan") != parse_number("x", "nan")  # parses; check_number refuses
    for text, integer, message in [
        ("lots", False, "strength must be a number, got 'lots'"),
        ("1.0", True, "strength must be an integer, got '1.0'"),
        ("", False, "strength must be a number, got ''"),
        ("a\nb", False, "strength must be a number, got 'a\\nb'"),  # one line
        ("x" * 100, False, f"got '{'x' * 40}'"),  # shortened
    ]:
        with pytest.raises(ValueError) as info:
            parse_number("strength", text, integer)
        assert message in str(info.value) and "\n" not in str(info.value)


def test_the_limits_agree_with_each_other():
    assert SERVER_MAX_PIXELS < MAX_PIXELS and SERVER_MAX_SAMPLES < MAX_SAMPLES
    assert 2 * HOLE_TILE_OVERLAP < MIN_TILE  # Restorer: overlap < tile / 2
    assert MIN_TILE**2 < MAX_TILE_PIXELS


def test_the_module_imports_the_standard_library_only():
    code = (
        "import sys; import restore.options; "
        "print(sorted(m for m in ('numpy', 'torch', 'cv2', 'PIL') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
