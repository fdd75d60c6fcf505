"""How much a variation changes its image: "subtle", "strong" or a number (the /vary option and
the vary buttons under an upscale)."""

from __future__ import annotations

from bot.ui import text
from generation.requests.numbers import NumberError, parse_number

SUBTLE, STRONG = 0.35, 0.7
STRENGTHS = {"subtle": SUBTLE, "strong": STRONG}


def parse_strength(given: str | None, default: float) -> float:
    """`subtle`, `strong` or a number in (0, 1]; raises ValueError with a message for the user.
    The number goes through the bounded parser: NaN, infinity and 3,000 digits are named."""
    if given is None or not given.strip():
        return default
    key = given.strip().lower().split()[0]
    if key in STRENGTHS:
        return STRENGTHS[key]
    try:
        value = parse_number(key)
    except NumberError as exc:
        if exc.code == "number.not_a_number":
            raise ValueError(text.strength_not_understood(given)) from None
        raise ValueError(text.strength_bad_number(exc)) from None
    if not 0 < value <= 1:
        raise ValueError(text.strength_out_of_range(value))
    return value
