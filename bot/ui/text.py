"""Every sentence the bot shows users, in one place.

`generation/` hands problems over as codes and fields (`generation.problems.Problem`);
`describe(problem)` words them. A template is a `str.format` pattern over the problem's fields, or a
function of the fields for wording that depends on them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from generation.problems import Problem

Template = str | Callable[[Mapping[str, Any]], str]

PROBLEMS: dict[str, Template] = {
    # -- requests: prompt flags and validation ---------------------------------------------------
    # -- jobs: submitting, the queue, quotas ------------------------------------------------------
    # -- models ------------------------------------------------------------------------------------
    # -- running a job: failures --------------------------------------------------------------------
}

UNKNOWN_PROBLEM = "Something went wrong on our side; the error was logged."


def describe(problem: Problem) -> str:
    """The problem in words for users."""
    template = PROBLEMS.get(problem.code)
    if template is None:
        return UNKNOWN_PROBLEM
    if callable(template):
        return template(problem.fields)
    return template.format_map(problem.fields)
