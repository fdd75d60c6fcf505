"""Slash options' numbers, checked by the bot too: Discord's client keeps them in their declared
ranges, but a crafted client (or a proxy) can send anything JSON holds, NaN and infinity included."""

from __future__ import annotations

import math

from bot.submit import Refused
from bot.ui import text


def within(option: str, value: float | None, low: float, high: float) -> None:
    """Refuse a value outside [low, high], or one that is not a finite number, naming the option."""
    if value is None:
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise Refused(text.option_not_finite(option, value))
    if not low <= value <= high:
        raise Refused(text.option_out_of_range(option, value, low, high))
