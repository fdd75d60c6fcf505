"""/vary's strength option: subtle, strong or a number in (0, 1]."""

from __future__ import annotations

import pytest

from bot.strengths import STRONG, SUBTLE, parse_strength


def test_parse_strength():
    assert parse_strength("subtle", 0.6) == SUBTLE
    assert parse_strength("Strong (0.7)", 0.6) == STRONG
    assert parse_strength(None, 0.6) == 0.6
    assert parse_strength("0.5", 0.6) == 0.5
    for bad in ("2", "lots", "0"):
        with pytest.raises(ValueError):
            parse_strength(bad, 0.6)
    with pytest.raises(ValueError, match=r"subtle, strong or a number like 0\.5, not 'lots'"):
        parse_strength("lots", 0.6)
    with pytest.raises(ValueError, match="above 0 and at most 1, not 2"):
        parse_strength("2", 0.6)
