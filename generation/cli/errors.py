"""What the command line prints when a request cannot run: one line, never a traceback.

A `Problem` is written as its code's words and then its fields, e.g.

    bad value: flag=--ar, kind='ratio', value='wide' (prompt.bad_value)

The Discord bot words the same problems as sentences (`bot/ui/text.py`); the terminal gets the
values themselves, which is what someone scripting the command line needs. Text a user gave is
quoted as a short excerpt (`generation.requests.excerpts`) and long lists are cut, so the line
stays one line of at most `MAX_LINE` characters whatever was typed.
"""

from __future__ import annotations

from typing import Any

from generation.problems import Problem
from generation.requests.excerpts import excerpt
from generation.requests.numbers import format_number

MAX_LINE = 300  # a problem's line, "error: " aside


class CommandError(Exception):
    """A mistake in the command's arguments (a missing file); its message is the line to print."""


def model_error_line(error: Exception) -> str:
    """A model error (`generation.models.errors`: not found, unsafe, unknown architecture, failed
    load) as one line: its message, which is meant for people, flattened and cut to `MAX_LINE`."""
    return excerpt(str(error) or type(error).__name__, MAX_LINE)


def problem_line(problem: Problem) -> str:
    """The problem in one line: what went wrong, the values that explain it, and its code."""
    what = problem.code.rpartition(".")[2].replace("_", " ")
    fields = {key: value for key, value in problem.fields.items() if value is not None}
    shown = {key: _value(key, value) for key, value in fields.items() if not isinstance(value, list | tuple)}
    lists = [key for key, value in fields.items() if isinstance(value, list | tuple)]
    if lists:  # the lists share what is left of the line after everything else
        rest = len(what) + len(problem.code) + sum(len(k) + len(v) + 3 for k, v in shown.items())
        room = max(40, (MAX_LINE - rest - 10) // len(lists) - 20)
        shown |= {key: _listed(fields[key], room) for key in lists}
    values = ", ".join(f"{key}={shown[key]}" for key in fields)
    return f"{what}: {values} ({problem.code})" if values else f"{what} ({problem.code})"


def _listed(value: list | tuple, room: int) -> str:
    """`[a, b/c, ... 9 more]` in about `room` characters; inner lists are spellings (`ar/aspect`)."""
    items = ["/".join(map(excerpt, v)) if isinstance(v, list | tuple) else excerpt(v) for v in value]
    shown: list[str] = []
    for item in items:
        if shown and len(", ".join([*shown, item])) > room:
            return "[" + ", ".join(shown) + f", ... {len(items) - len(shown)} more]"
        shown.append(item)
    return "[" + ", ".join(shown) + "]"


def _value(key: str, value: Any) -> str:
    if key == "flag":
        return f"--{value}"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return format_number(value)  # ints of any size: past 4,300 digits, their first digits and count
    if isinstance(value, str):
        return f"'{excerpt(value)}'"
    return excerpt(value)
