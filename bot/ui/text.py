"""Every sentence the bot shows users, in one place.

`generation/` hands problems over as codes and fields (`generation.problems.Problem`);
`describe(problem)` words them. A template is a `str.format` pattern over the problem's fields, or a
function of the fields for wording that depends on them.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from generation.jobs.problems import Refusal
from generation.jobs.types import LEGACY_ERROR
from generation.problems import Problem
from generation.workers.protocol import WorkerProblem

if TYPE_CHECKING:
    from generation.jobs.quotas import QuotaStatus

Template = str | Callable[[Mapping[str, Any]], str]


def _clip(text: str, length: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1] + "…"


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def reset_phrase(seconds_left: float, resets_at: float) -> str:
    """ "in 3 h 12 min (00:00 UTC)": when a quota day ends."""
    seconds = max(0, math.ceil(seconds_left))
    hours, rest = divmod(seconds, 3600)
    minutes = math.ceil(rest / 60) if hours == 0 else rest // 60
    when = dt.datetime.fromtimestamp(resets_at, dt.UTC).strftime("%H:%M UTC")
    if hours and minutes:
        span = f"{hours} h {minutes} min"
    elif hours:
        span = f"{hours} h"
    else:
        span = f"{max(1, minutes)} min"
    return f"in {span} ({when})"


def quota_line(status: QuotaStatus, now: float) -> str:
    """A user's GPU time today, as /info and the /quota commands show it."""
    if status.unlimited:
        return f"Unlimited GPU time ({status.used:.0f} s used today)."
    return (
        f"{status.used:.0f} s of {status.limit:.0f} s GPU time used today"
        + (f", {status.reserved:.0f} s held by waiting jobs" if status.reserved >= 0.5 else "")
        + f"; {status.remaining:.0f} s left. Resets {reset_phrase(status.resets_at - now, status.resets_at)}."
    )


def _too_many_waiting(f: Mapping[str, Any]) -> str:
    listed = "; ".join(f"`{job['id']}` “{_clip(job['prompt'])}”" for job in f["waiting"])
    return (
        f"You already have {f['count']} jobs waiting, the most one person can have queued "
        f"(the limit is {f['limit']}): {listed}. Wait for one to start, or cancel one."
    )


def _queue_full(f: Mapping[str, Any]) -> str:
    first = f["next_start"]
    return (
        f"The queue is full: {f['count']} jobs are waiting, the most it holds "
        f"(the limit is {f['limit']}). Try again in a few minutes"
        + (f" (the next job should start in about {_duration(first)})." if first > 0 else ".")
    )


def _quota_exceeded(f: Mapping[str, Any]) -> str:
    held = f" ({f['reserved']:.0f} s held by your waiting jobs)" if f["reserved"] >= 0.5 else ""
    return (
        f"This needs about {f['needed']} s of GPU time, but you have "
        f"{f['remaining']:.0f} s left of your {f['limit']:.0f} s daily budget{held}. "
        f"Your budget resets {reset_phrase(f['resets_in'], f['resets_at'])}; "
        "fewer images, fewer steps or a smaller size need less."
    )


def _unknown_model(f: Mapping[str, Any]) -> str:
    return f"There is no model called {f['model']}; the models are: {', '.join(f['names']) or 'none'}."


def _switch_failed(f: Mapping[str, Any]) -> str:
    kept = f"; {f['kept']} stays active" if f.get("kept") else ""
    return f"Could not switch to {f['model']}: {f['detail']}{kept}."


PROBLEMS: dict[str, Template] = {
    # -- requests: prompt flags and validation ---------------------------------------------------
    # -- jobs: submitting, the queue, quotas ------------------------------------------------------
    Refusal.CLOSING: "The bot is restarting; try again in a minute.",
    Refusal.INVALID_REQUEST: "{detail}",
    Refusal.NO_MODEL: "No model is set up yet; ask an admin to add one.",
    Refusal.UNKNOWN_MODEL: _unknown_model,
    Refusal.TOO_MANY_WAITING: _too_many_waiting,
    Refusal.QUEUE_FULL: _queue_full,
    Refusal.QUOTA_EXCEEDED: _quota_exceeded,
    # -- models ------------------------------------------------------------------------------------
    WorkerProblem.MODEL_SWITCH_FAILED: _switch_failed,
    # -- running a job: failures --------------------------------------------------------------------
    WorkerProblem.OUT_OF_MEMORY: (
        "The GPU ran out of memory on this job. Try fewer images, a smaller size or no hires fix, "
        "or try again when the queue is quieter."
    ),
    WorkerProblem.SOURCE_UNREADABLE: (
        "The source image could not be read ({detail}). Attach a PNG or JPEG image and try again."
    ),
    WorkerProblem.MODEL_NOT_LOADED: (
        "The model {model} could not be loaded: {detail}. Ask an admin, or pick another model."
    ),
    WorkerProblem.MODEL_UNUSABLE: "The model could not be used: {detail}",
    WorkerProblem.GENERATION_FAILED: (
        "The generation failed: {detail}. Try other settings, or try again later."
    ),
    WorkerProblem.NOT_SAVED: "The images could not be saved: {detail}. Try again.",
    WorkerProblem.INTERNAL: "Something went wrong on our side; the error was logged.",
    LEGACY_ERROR: "{text}",  # an error stored as text by an older version
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
