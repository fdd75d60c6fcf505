"""How much a variation changes its image: "subtle", "strong" or a number (the /vary option and
the vary buttons under an upscale)."""

from __future__ import annotations

import math
import re

from bot.ui import text

SUBTLE, STRONG = 0.35, 0.7
STRENGTHS = {"subtle": SUBTLE, "strong": STRONG}
# A plain decimal, read only when short: "0.5", ".25", "1e-1"; never 3,000 digits through float().
NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d{1,2})?")
MAX_NUMBER_LENGTH = 24
NOT_FINITE = {"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}


def parse_strength(given: str | None, default: float) -> float:
    """`subtle`, `strong` or a number in (0, 1]; raises ValueError with a message for the user."""
    if given is None or not given.strip():
        return default
    key = given.strip().lower().split()[0]
    if key in STRENGTHS:
        return STRENGTHS[key]
    if key in NOT_FINITE:
        raise ValueError(text.strength_not_finite(key))
    if len(key) > MAX_NUMBER_LENGTH or not NUMBER.fullmatch(key):
        raise ValueError(text.strength_not_understood(given))
    value = float(key)
    if not math.isfinite(value) or not 0 < value <= 1:
        raise ValueError(text.strength_out_of_range(value))
    return value
