"""Slash options' numbers, checked by the bot too: Discord's client keeps them in their declared
ranges, but a crafted client (or a proxy) can send anything JSON holds, NaN and infinity included.
They go through the one bounded-number check (`generation.requests.numbers.check_number`)."""

from __future__ import annotations

from bot.submit import Refused
from bot.ui import text
from generation.requests.numbers import Bounds, NumberError, check_number


def within(option: str, value: float | None, low: float, high: float) -> None:
    """Refuse a value outside [low, high], or one that is not a finite number, naming the option."""
    if value is None:
        return
    try:
        check_number(value, Bounds(low, high, whole=isinstance(value, int)))
    except NumberError as exc:
        raise Refused(text.bad_option(option, exc)) from None
