"""Numbers from users: parsed and bounded before any arithmetic; written back one way.

Every number a user can give (prompt flags, slash options, the command line's options, values
read back from an image's metadata) goes through `parse_number` (text) or `check_number` (a value
that is already a number, e.g. from JSON or Discord) with explicit `Bounds`. Nothing else converts
user text with `int()` or `float()`: a 4,400-digit seed passes Python's 4,300-digit conversion
limit, `1e999` is infinity, `nan` compares false with everything, and each of those ends in a raw
`ValueError` or `OverflowError` once arithmetic starts. Here each is a `NumberError`, a `Problem`
whose code names it (`number.nan`, `number.infinite`, `number.too_large`...) and whose fields hold
the text given (`value`), the bounds and, for long numbers, how many digits they have. Callers
turn it into their own problem with the flag or key that was given (`prompt.bad_value`...).

Bounds here are sanity bounds, not a server's limits: wide enough that validation can still say
"between 64 and 2048" for any value a person would type, narrow enough that no arithmetic on a
value inside them overflows (`SANE`: 10**15, exact as a float).

`format_number` writes numbers for people and for flags: `7.0` as `7`, `6.5` as `6.5`; one
spelling everywhere a number is written back (prompt flags, A1111 metadata, messages), so a value
read back from any of them is the value that was written.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from generation.problems import Problem

__all__ = [
    "SANE",
    "SANE_NUMBER",
    "SANE_WHOLE",
    "Bounds",
    "NumberError",
    "check_number",
    "digit_count",
    "format_number",
    "number_text",
    "parse_number",
]

SANE = 10**15  # |x| a user number may reach before validation's own limits apply


@dataclass(frozen=True)
class Bounds:
    """The inclusive range a number must be in (finite ends), and whether it must be whole."""

    low: float = -SANE
    high: float = SANE
    whole: bool = False


SANE_WHOLE = Bounds(-SANE, SANE, whole=True)
SANE_NUMBER = Bounds(-SANE, SANE)


class NumberError(Problem, ValueError):
    """A number that cannot be used. Codes: `number.not_a_number`, `number.not_whole`,
    `number.nan`, `number.infinite`, `number.too_large`, `number.too_small`; fields `value` (the
    text given, or the value's text), `low`, `high` and `digits` (for long numbers, else None)."""


_WORDS_INFINITE = {"inf", "infinity", "∞"}
_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_DIGIT = re.compile(r"\d")
LONG = 15  # digits from which a problem says how many a number has


def parse_number(text: str, bounds: Bounds = SANE_NUMBER) -> int | float:
    """The number written in `text` (an int when `bounds.whole`), within `bounds`."""
    word = text.strip()
    lowered = word.lower().lstrip("+-")
    if lowered == "nan":
        raise _error("number.nan", word, bounds)
    if lowered in _WORDS_INFINITE:
        raise _error("number.infinite", word, bounds)
    if _INT.fullmatch(word):
        return _bounded(_int(word, bounds), word, bounds)
    if not _FLOAT.fullmatch(word):
        raise _error("number.not_a_number", word, bounds)
    value = float(word)  # no length limit for floats: a huge literal is infinity, a tiny one 0.0
    if math.isinf(value):
        raise _error("number.too_small" if value < 0 else "number.too_large", word, bounds)
    if bounds.whole and not value.is_integer():
        raise _error("number.not_whole", word, bounds)
    return _bounded(int(value) if bounds.whole else value, word, bounds)


def check_number(value: object, bounds: Bounds = SANE_NUMBER) -> int | float:
    """`value` (an int, a float or a number's text) within `bounds`: an int when `bounds.whole`."""
    if isinstance(value, str):
        return parse_number(value, bounds)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _error("number.not_a_number", type(value).__name__, bounds)
    if isinstance(value, float):
        if math.isnan(value):
            raise _error("number.nan", "nan", bounds)
        if math.isinf(value):
            raise _error("number.infinite", repr(value), bounds)
        if bounds.whole:
            if not value.is_integer():
                raise _error("number.not_whole", repr(value), bounds)
            value = int(value)
    digits = digit_count(value) if isinstance(value, int) else None
    return _bounded(value, number_text(value, count=False), bounds, digits)


def _int(word: str, bounds: Bounds) -> int:
    """int(word), refusing before conversion anything with more digits than the bounds allow."""
    digits = word.lstrip("+-").lstrip("0") or "0"
    most = len(str(int(max(abs(bounds.low), abs(bounds.high))))) + 1
    if len(digits) > most:
        raise _error("number.too_small" if word.startswith("-") else "number.too_large", word, bounds)
    return int(word)


def _bounded(value: int | float, text: str, bounds: Bounds, digits: int | None = None) -> int | float:
    if value < bounds.low:
        raise _error("number.too_small", text, bounds, digits)
    if value > bounds.high:
        raise _error("number.too_large", text, bounds, digits)
    return value


def _error(code: str, text: str, bounds: Bounds, digits: int | None = None) -> NumberError:
    if digits is None:
        digits = len(_DIGIT.findall(text[:100_000]))
    return NumberError(
        code, value=text, low=bounds.low, high=bounds.high, digits=digits if digits > LONG else None
    )


def digit_count(value: int) -> int:
    """The number of decimal digits of `value`, for ints of any size (no str() involved)."""
    value = abs(value)
    if value < 10:
        return 1
    digits = int(math.log10(value)) + 1
    # log10 rounds for huge values: correct by one either way with exact integer comparisons.
    if 10 ** (digits - 1) > value:
        digits -= 1
    elif 10**digits <= value:
        digits += 1
    return digits


def number_text(value: int | float, *, count: bool = True) -> str:
    """`str(value)`; an int past Python's 4,300-digit printing limit as its first and last ten
    digits, and (with `count`) how many there are: `1000000000…0000000000 (5,001 digits)`."""
    try:
        return str(value)
    except ValueError:  # only ints fail, past sys.get_int_max_str_digits()
        size = abs(int(value))
        digits = digit_count(size)
        lead, tail = size // 10 ** (digits - 10), size % 10**10
        text = f"{'-' if value < 0 else ''}{lead}…{tail:010d}"
        return f"{text} ({digits:,} digits)" if count else text


def format_number(x: float) -> str:
    """A whole number without its `.0`, any other number as Python's shortest exact form."""
    if isinstance(x, int) and not isinstance(x, bool):
        return number_text(x)  # exact at any size (float() of a huge int overflows)
    x = float(x)
    return str(int(x)) if x.is_integer() else repr(x)
