"""Jobs as database rows and back, the same for every store (SQLite, PostgreSQL).

A row is a tuple in `JOB_COLUMNS` order; JSON columns (role ids, the request, the error, the meta,
the image check, what was applied) are text, so both databases hold the same values.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from generation.jobs.types import LEGACY_ERROR, Job, JobOwner, JobStatus
from generation.problems import Problem
from generation.requests.applied import Applied
from generation.requests.request import GenerationRequest
from generation.safety.check import ImageCheck

JOB_COLUMNS = (
    "id, user_id, guild_id, channel_id, role_ids, priority, request, status, created_at, started_at,"
    " finished_at, gpu_seconds, error, model_name, model_hash, grid_key, parent_id, meta, attempts,"
    " image_check, applied"
)
COLUMN_COUNT = len(JOB_COLUMNS.split(","))


def job_row(job: Job) -> tuple[Any, ...]:
    return (
        job.id,
        job.owner.user_id,
        job.owner.guild_id,
        job.owner.channel_id,
        json.dumps(list(job.owner.role_ids)),
        job.priority,
        json.dumps(job.request.to_dict()),
        job.status.value,
        job.created_at,
        job.started_at,
        job.finished_at,
        job.gpu_seconds,
        error_column(job.error),
        job.model_name,
        job.model_hash,
        job.grid_key,
        job.parent_id,
        json.dumps(job.meta),
        job.attempts,
        image_check_column(job.image_check),
        applied_column(job.applied),
    )


def job_from_row(row: Sequence[Any]) -> Job:
    (
        job_id,
        user_id,
        guild_id,
        channel_id,
        role_ids,
        priority,
        request,
        status,
        created_at,
        started_at,
        finished_at,
        gpu_seconds,
        error,
        model_name,
        model_hash,
        grid_key,
        parent_id,
        meta,
        attempts,
        image_check,
        applied,
    ) = row
    return Job(
        id=job_id,
        owner=JobOwner(user_id, guild_id, channel_id, tuple(json.loads(role_ids))),
        request=GenerationRequest.from_dict(json.loads(request)),
        status=JobStatus(status),
        created_at=created_at,
        started_at=started_at,
        finished_at=finished_at,
        gpu_seconds=gpu_seconds,
        error=error_from_column(error),
        model_name=model_name,
        model_hash=model_hash,
        grid_key=grid_key,
        parent_id=parent_id,
        meta=json.loads(meta),
        priority=priority,
        attempts=attempts,
        image_check=image_check_from_column(image_check),
        applied=applied_from_column(applied),
    )


def applied_column(applied: Applied | None) -> str | None:
    return None if applied is None else json.dumps(applied.to_dict())


def applied_from_column(text: str | None) -> Applied | None:
    """What a job applied, back from its JSON (None: not recorded, or unreadable)."""
    if text is None:
        return None
    try:
        return Applied.from_dict(json.loads(text))
    except (ValueError, TypeError, KeyError, AttributeError):
        return None  # a row a newer version wrote differently: the job stands without it


def error_column(problem: Problem | None) -> str | None:
    return None if problem is None else json.dumps(problem.to_dict())


def error_from_column(text: str | None) -> Problem | None:
    """A problem back from its JSON; plain text from an older version becomes a `legacy` problem."""
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("code"), str):
        return Problem.from_dict(data)
    return Problem(LEGACY_ERROR, text=text)


def image_check_column(check: ImageCheck | None) -> str | None:
    return None if check is None else json.dumps(check.to_dict())


def image_check_from_column(text: str | None) -> ImageCheck | None:
    return None if text is None else ImageCheck.from_dict(json.loads(text))
