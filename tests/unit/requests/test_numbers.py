"""The one bounded-number parser, and excerpts of user input."""

import math

import pytest

from generation.requests.excerpts import EXCERPT_LIMIT, excerpt
from generation.requests.numbers import (
    SANE,
    SANE_WHOLE,
    Bounds,
    NumberError,
    check_number,
    digit_count,
    format_number,
    number_text,
    parse_number,
)


@pytest.mark.parametrize(
    ("text", "bounds", "expected"),
    [
        ("42", SANE_WHOLE, 42),
        (" -1 ", SANE_WHOLE, -1),
        ("+3", SANE_WHOLE, 3),
        ("007", SANE_WHOLE, 7),
        ("30.0", SANE_WHOLE, 30),  # a whole number written with a decimal point
        ("6.5", Bounds(), 6.5),
        (".5", Bounds(), 0.5),
        ("1e-3", Bounds(), 0.001),
        ("١٢", SANE_WHOLE, 12),  # Arabic-Indic digits are digits
        (str(SANE), SANE_WHOLE, SANE),
    ],
)
def test_numbers_within_bounds(text, bounds, expected):
    value = parse_number(text, bounds)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    ("text", "bounds", "code", "digits"),
    [
        ("nan", Bounds(), "number.nan", None),
        ("NaN", SANE_WHOLE, "number.nan", None),
        ("inf", Bounds(), "number.infinite", None),
        ("-Infinity", Bounds(), "number.infinite", None),
        ("∞", Bounds(), "number.infinite", None),
        ("1e999", Bounds(), "number.too_large", None),  # a finite literal that is infinity as a float
        ("-1e999", Bounds(), "number.too_small", None),
        ("9" * 400, Bounds(), "number.too_large", 400),
        ("1" * 4400, SANE_WHOLE, "number.too_large", 4400),  # past Python's 4,300-digit int() limit
        ("-" + "1" * 4400, SANE_WHOLE, "number.too_small", 4400),
        (str(SANE + 1), SANE_WHOLE, "number.too_large", 16),
        ("7.5", SANE_WHOLE, "number.not_whole", None),
        ("1.5", Bounds(0, 1), "number.too_large", None),
        ("-0.5", Bounds(0, 1), "number.too_small", None),
        ("abc", Bounds(), "number.not_a_number", None),
        ("", Bounds(), "number.not_a_number", None),
        ("1_000", SANE_WHOLE, "number.not_a_number", None),  # int() would take it; people do not write it
        ("0x10", SANE_WHOLE, "number.not_a_number", None),
    ],
)
def test_refusals_name_what_is_wrong(text, bounds, code, digits):
    with pytest.raises(NumberError) as info:
        parse_number(text, bounds)
    assert info.value.code == code
    assert info.value.fields["value"] == text.strip()
    assert info.value.fields["digits"] == digits
    assert (info.value.fields["low"], info.value.fields["high"]) == (bounds.low, bounds.high)


def test_values_that_are_numbers_already():
    assert check_number(20.0, SANE_WHOLE) == 20 and type(check_number(20.0, SANE_WHOLE)) is int
    assert check_number("5", SANE_WHOLE) == 5
    cases = [
        (math.nan, "number.nan"),
        (math.inf, "number.infinite"),
        (-math.inf, "number.infinite"),
        (10**5000, "number.too_large"),
        (-(10**20), "number.too_small"),
        (True, "number.not_a_number"),
        (None, "number.not_a_number"),
        (2.5, "number.not_whole"),
    ]
    for value, code in cases:
        with pytest.raises(NumberError) as info:
            check_number(value, SANE_WHOLE)
        assert info.value.code == code, value
    with pytest.raises(NumberError) as info:
        check_number(10**5000, SANE_WHOLE)
    assert info.value.fields["digits"] == 5001
    assert info.value.fields["value"] == "1000000000…0000000000"


def test_digit_counts_and_texts_of_huge_ints():
    for digits in (1, 2, 15, 16, 300, 4299, 4301, 9000):
        assert digit_count(10 ** (digits - 1)) == digits
        assert digit_count(10**digits - 1) == digits
        assert digit_count(-(10**digits - 1)) == digits
    assert number_text(-(10**4999) * 7 - 12) == "-7000000000…0000000012 (5,000 digits)"
    assert number_text(10**5000, count=False) == "1000000000…0000000000"
    assert format_number(10**5000) == "1000000000…0000000000 (5,001 digits)"
    assert (format_number(7.0), format_number(6.5), format_number(12)) == ("7", "6.5", "12")


def test_excerpts_are_short_one_line_and_escaped():
    assert excerpt("wide") == "wide"
    assert excerpt("  a \n\t b ") == "a b"
    assert excerpt("a\x00b\u202ec\u200bd") == "a\\x00b\\u202ec\\u200bd"
    long = excerpt("--" + "x" * 2500 + "END")
    assert len(long) == EXCERPT_LIMIT and long.startswith("--xxx") and long.endswith("xEND")
    assert "…" in long
    assert excerpt("9" * 4400, 20) == "9" * 12 + "…" + "9" * 7  # two thirds of the room for the start
    assert excerpt(10**5000) == "1000000000…0000000000 (5,001 digits)"
    hidden = excerpt("\x00" * 100)
    assert len(hidden) <= EXCERPT_LIMIT and "\\x0" not in hidden.replace("\\x00", "")  # no escape cut


def test_a_number_parsed_on_its_own_is_worded():
    from bot.ui.text import describe

    words = {}
    for text in ("nan", "inf", "7" * 3000, "abc", "2"):
        with pytest.raises(NumberError) as info:
            parse_number(text, Bounds(0, 1))
        words[text] = describe(info.value)
    assert words["nan"] == "'nan' cannot be used (NaN is not a number); give a number from 0 to 1."
    assert words["inf"].startswith("'inf' cannot be used (infinity is not a number you can use)")
    assert words[
        "7" * 3000
    ] == "'777777777777777…77777777' cannot be used (3,000 digits: far too large); " + (
        "give a number from 0 to 1."
    )
    assert words["2"] == "'2' cannot be used (too large); give a number from 0 to 1."
