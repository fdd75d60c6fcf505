"""Banned words: whole words and phrases, case and spacing ignored."""

from __future__ import annotations

from bot.safety import find_banned


def test_banned_words_match_whole_words_only():
    assert find_banned("A Glass of water", ["ass"]) is None
    assert find_banned("a big  ASS hat", ["ass"]) == "ass"
    assert find_banned("red circle on blue", ["blue  square", "circle"]) == "circle"
    assert find_banned("anything", ["", "  "]) is None
