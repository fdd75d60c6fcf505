"""Why the job service refuses a job: `SubmitRefused`, a Problem, and its codes with their fields.

Front ends word them (the bot in bot/ui/text.py); the fields are plain values (numbers, names,
lists of small dicts), so a refusal can cross a process boundary as `to_dict()`.
"""

from __future__ import annotations

import enum

from generation.problems import Problem


class Refusal(enum.StrEnum):
    CLOSING = "closing"  # the service is shutting down
    INVALID_REQUEST = "invalid_request"  # detail: what validation said
    NO_MODEL = "no_model"  # no model is set up
    UNKNOWN_MODEL = "unknown_model"  # model, names (the models there are)
    TOO_MANY_WAITING = "too_many_waiting"  # count, limit, waiting: [{"id", "prompt"}, ...]
    QUEUE_FULL = "queue_full"  # count, limit, next_start (seconds until the next job starts)
    QUOTA_EXCEEDED = "quota_exceeded"  # needed, remaining, limit, reserved, resets_at, resets_in


class SubmitRefused(Problem):
    """The job was not accepted; `code` (a Refusal) and `fields` say why."""
