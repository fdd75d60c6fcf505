"""What the command line prints when a request cannot run: one line, never a traceback.

A `Problem` is written as its code's words and then its fields, e.g.

    bad value: flag=--ar, kind='ratio', value='wide' (prompt.bad_value)

The Discord bot words the same problems as sentences (`bot/ui/text.py`); the terminal gets the
values themselves, which is what someone scripting the command line needs.
"""

from __future__ import annotations

from typing import Any

from generation.problems import Problem
from generation.requests.numbers import format_number


class CommandError(Exception):
    """A mistake in the command's arguments (a missing file); its message is the line to print."""


def problem_line(problem: Problem) -> str:
    """The problem in one line: what went wrong, the values that explain it, and its code."""
    what = problem.code.rpartition(".")[2].replace("_", " ")
    values = ", ".join(
        f"{key}={_value(key, value)}" for key, value in problem.fields.items() if value is not None
    )
    return f"{what}: {values} ({problem.code})" if values else f"{what} ({problem.code})"


def _value(key: str, value: Any) -> str:
    if key == "flag":
        return f"--{value}"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return format_number(value)
    if isinstance(value, list | tuple):  # e.g. the samplers there are; inner lists are spellings
        return (
            "["
            + ", ".join("/".join(map(str, v)) if isinstance(v, list | tuple) else str(v) for v in value)
            + "]"
        )
    if isinstance(value, str):
        return repr(value)
    return str(value)
