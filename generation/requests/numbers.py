"""Numbers written for people and for flags: `7.0` as `7`, `6.5` as `6.5`.

One spelling everywhere a number is written back (prompt flags, A1111 metadata, messages), so a
value read back from any of them is the value that was written.
"""

from __future__ import annotations


def format_number(x: float) -> str:
    """A whole number without its `.0`, any other number as Python's shortest exact form."""
    x = float(x)
    return str(int(x)) if x.is_integer() else repr(x)
