"""Short, escaped excerpts of what users typed, for problems worded back to them.

A message that quotes a 2,500-character flag or a 4,400-digit seed in full is one Discord refuses
(2,000 characters) and one a terminal wraps over a screen. Every front end quotes user input
through `excerpt`: whitespace runs become one space, characters that would change how the rest of
the line reads (control characters, bidirectional overrides, zero-width marks) are written as
`\\u....` escapes, and long text is cut to `limit` characters with `…` in the middle, keeping its
start and end (`1000000000…0000000000`, a flag's name and its tail). Front ends add their own
escaping on top (the bot escapes Discord markdown and mentions). Torch-free.
"""

from __future__ import annotations

import unicodedata

from generation.requests.numbers import number_text

__all__ = ["EXCERPT_LIMIT", "excerpt"]

EXCERPT_LIMIT = 40  # characters of user input a message quotes, escapes included
_HIDDEN = ("Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp")  # control, format, private, surrogate, unassigned
_ELLIPSIS = "…"


def _escaped(ch: str) -> str:
    if unicodedata.category(ch) not in _HIDDEN:
        return ch
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def excerpt(text: object, limit: int = EXCERPT_LIMIT) -> str:
    """`text` (any value, as `str()`) made safe to quote on one line: at most `limit` characters."""
    raw = text if isinstance(text, str) else _plain(text)
    # Look at no more than is needed: the start and end of a huge input make the excerpt.
    if len(raw) > 4 * limit:
        raw = raw[: 2 * limit] + _ELLIPSIS + raw[-2 * limit :]
    pieces = [_escaped(ch) for ch in " ".join(raw.split())]
    if sum(map(len, pieces)) <= limit:
        return "".join(pieces)
    # Two thirds of the room for the start, the rest for the end; an escape is never split.
    head = _fill(pieces, (limit - 1) * 2 // 3)
    tail = _fill(pieces[len(head) :][::-1], limit - 1 - sum(map(len, head)))[::-1]
    return "".join(head).rstrip() + _ELLIPSIS + "".join(tail).lstrip()


def _fill(pieces: list[str], budget: int) -> list[str]:
    """The leading pieces that fit in `budget` characters."""
    taken: list[str] = []
    for piece in pieces:
        if len(piece) > budget:
            break
        taken.append(piece)
        budget -= len(piece)
    return taken


def _plain(value: object) -> str:
    """`str(value)`, safe for ints past Python's 4,300-digit string limit."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return number_text(value)
    return str(value)
