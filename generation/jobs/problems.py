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
    STORE_UNAVAILABLE = "store_unavailable"  # detail: the database refused to store the job


class SubmitRefused(Problem):
    """The job was not accepted; `code` (a Refusal) and `fields` say why."""


# -- the database ------------------------------------------------------------------------------
# Its own section, for the job store's problems: a database that cannot be opened at start, and
# writes refused while running (a full disk). Every code has a `path` or a `detail` to show.


class StoreProblem(enum.StrEnum):
    IS_A_DIRECTORY = "store.is_a_directory"  # path
    NOT_A_DATABASE = "store.not_a_database"  # path, detail
    TRUNCATED = "store.truncated"  # path, size, expected (bytes)
    CORRUPT = "store.corrupt"  # path, detail
    NEWER_SCHEMA = "store.newer_schema"  # path, version, known (the newest this code knows)
    FOREIGN_SCHEMA = "store.foreign_schema"  # path, tables (another program's)
    LOCKED = "store.locked"  # path
    READ_ONLY = "store.read_only"  # path, detail
    CANNOT_OPEN = "store.cannot_open"  # path, detail
    WRITE_FAILED = "store.write_failed"  # detail: a write refused while running


class StoreOpenError(Problem):
    """The database cannot be used: `code` (a StoreProblem) says why, `fields["path"]` which file.
    Nothing was written to it."""


class StoreWriteFailed(Problem):
    """The database refused a write (a full disk, a lost lock); the change was not made."""
