"""How much a variation changes its image: "subtle", "strong" or a number (the /vary option and
the vary buttons under an upscale)."""

from __future__ import annotations

from bot.ui import text

SUBTLE, STRONG = 0.35, 0.7
STRENGTHS = {"subtle": SUBTLE, "strong": STRONG}


def parse_strength(given: str | None, default: float) -> float:
    """`subtle`, `strong` or a number in (0, 1]; raises ValueError with a message for the user."""
    if given is None or not given.strip():
        return default
    key = given.strip().lower().split()[0]
    if key in STRENGTHS:
        return STRENGTHS[key]
    try:
        value = float(key)
    except ValueError:
        raise ValueError(text.strength_not_understood(given)) from None
    if not 0 < value <= 1:
        raise ValueError(text.strength_out_of_range(value))
    return value
