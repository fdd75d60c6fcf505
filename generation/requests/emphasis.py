"""The AUTOMATIC1111 web UI's emphasis syntax, parsed into (text, weight) pieces. Torch-free.

    a (red hair:1.2), ((masterpiece)), [blurry], \\(literal\\) BREAK second chunk

- `(text)` multiplies the weight of `text` by 1.1, `[text]` divides it by 1.1; brackets nest, so
  `((text))` is 1.21 and `(((text:1.3)))` is 1.3 x 1.1 x 1.1.
- `(text:1.3)` sets the factor of that round bracket to 1.3 (spaces are allowed around the
  number); several words may share one bracket, `(two words:0.8)`.
- `\\(`, `\\)`, `\\[`, `\\]` and `\\\\` are literal characters; a lone backslash is dropped.
- `BREAK` (upper case, a word on its own, outside brackets) ends the current 75-token chunk: it
  comes back as the piece `("BREAK", -1.0)`, which `is_break` recognises. Inside brackets its
  weight is scaled like any text, so it is no longer a break and is encoded as the word, as in
  the web UI.
- Unbalanced brackets are read the way the web UI reads them: a closing bracket with nothing open
  is literal text; a bracket still open at the end weights everything after it. A weight that is
  not a number (`(a:1.2.3)`, which the web UI fails on) is kept as literal text and its bracket
  closes as a plain `)`.
- Neighbouring pieces of equal weight are merged; an empty prompt is `[("", 1.0)]`.

The result is the web UI's `parse_prompt_attention` list, float for float (weights are multiplied
in the same order). `generation.pipelines.conditioning` turns the pieces into token weights; the
`<lora:...>` tags are taken out before (`generation.requests.addons`).
"""

from __future__ import annotations

import math
import re

__all__ = ["BREAK", "Piece", "is_break", "parse_attention"]

Piece = tuple[str, float]

ROUND_FACTOR = 1.1
SQUARE_FACTOR = 1 / 1.1
BREAK: Piece = ("BREAK", -1.0)

# One token of the syntax, tried in this order. Group 1 is the number of a `:N)` closing.
_TOKEN = re.compile(
    r"""
      \\[()\[\]\\]            # an escaped bracket or backslash
    | \\                      # a lone backslash
    | [(\[]                   # an opening bracket
    | :\s*([+-]?[.\d]+)\s*\)  # a weight that closes a round bracket
    | [)\]]                   # a closing bracket
    | [^\\()\[\]:]+           # plain text
    | :                       # a colon that closes nothing
    """,
    re.VERBOSE,
)
_BREAK = re.compile(r"\s*\bBREAK\b\s*", re.DOTALL)


def is_break(piece: Piece) -> bool:
    """Whether a piece is the chunk break (a bare `BREAK`, not one inside brackets)."""
    return piece[0] == BREAK[0] and piece[1] == BREAK[1]


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_attention(text: str) -> list[Piece]:
    """The prompt as (text, weight) pieces, with `BREAK` as `("BREAK", -1.0)` (see the module doc)."""
    pieces: list[list] = []  # [text, weight], mutable while brackets close
    open_round: list[int] = []  # index of the first piece inside each open bracket
    open_square: list[int] = []

    def scale(start: int, factor: float) -> None:
        for piece in pieces[start:]:
            piece[1] *= factor

    def add_text(chunk: str) -> None:
        for k, part in enumerate(_BREAK.split(chunk)):
            if k:
                pieces.append(list(BREAK))
            pieces.append([part, 1.0])

    for match in _TOKEN.finditer(text):
        token, number = match.group(0), match.group(1)
        if token.startswith("\\"):
            pieces.append([token[1:], 1.0])
        elif token in "([":
            (open_round if token == "(" else open_square).append(len(pieces))
        elif number is not None and open_round:
            weight = _number(number)
            if weight is None:  # `:1.2.3)`: the text stays, the bracket closes plainly
                add_text(token[:-1])
                weight = ROUND_FACTOR
            scale(open_round.pop(), weight)
        elif token == ")" and open_round:
            scale(open_round.pop(), ROUND_FACTOR)
        elif token == "]" and open_square:
            scale(open_square.pop(), SQUARE_FACTOR)
        else:
            add_text(token)
    for start in open_round:
        scale(start, ROUND_FACTOR)
    for start in open_square:
        scale(start, SQUARE_FACTOR)

    merged: list[list] = []
    for piece in pieces:
        if merged and merged[-1][1] == piece[1]:
            merged[-1][0] += piece[0]
        else:
            merged.append(piece)
    return [(text, weight) for text, weight in merged] or [("", 1.0)]
