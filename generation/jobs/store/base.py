"""The `Store` protocol: every operation the job service performs on its database.

SQLite (generation.jobs.store.sqlite) is the default; PostgreSQL (generation.jobs.store.postgres)
implements the same methods for the cluster, and both run the same tests
(tests/unit/jobs/test_store.py is parametrized over them). Writes that belong together are one
transaction inside a method: a finished job's status, images, charge and the release of its
reservation are all written or none are.

Several processes may share one PostgreSQL database (bot processes submitting, one dispatcher
running jobs), so the writes that decide a job's fate are guarded in the statement itself: `claim`
starts queued jobs and numbers the attempt, and a finish given an `attempt` only lands while that
attempt is the job's latest; a charge is a row keyed by the job, inserted at most once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from generation.jobs.types import Job, JobImage, JobStatus
from generation.problems import Problem
from generation.requests.applied import Applied
from generation.requests.request import GenerationRequest
from generation.safety.check import ImageCheck


class Store(Protocol):
    async def close(self) -> None: ...

    async def schema_version(self) -> int:
        """The number of the last migration applied."""

    # -- jobs -----------------------------------------------------------------------------------

    async def insert_job(self, job: Job, *, reserve_seconds: float = 0.0) -> Job:
        """Write a new job and its quota reservation; a clashing id gets a fresh one (returned)."""

    async def mark_running(
        self, job_ids: Iterable[str], *, started_at: float, model_name: str | None, model_hash: str | None
    ) -> None:
        """Queued jobs start: running, one more attempt."""

    async def mark_queued(self, job_ids: Iterable[str]) -> None:
        """Running jobs go back to the queue (the service is closing, or a worker was lost)."""

    async def claim(
        self, job_ids: Sequence[str], *, started_at: float, model_name: str | None
    ) -> dict[str, int]:
        """Queued jobs start, in one statement: running, one more attempt. Returns the attempt
        number of each job claimed; a job missing from it was finished (or claimed) elsewhere."""

    async def finish_done(
        self,
        job_id: str,
        *,
        finished_at: float,
        gpu_seconds: float,
        grid_key: str | None,
        images: Sequence[JobImage],
        charge_day: str,
        model_hash: str | None = None,
        attempt: int | None = None,
        image_check: ImageCheck | None = None,
        applied: Applied | None = None,
    ) -> bool:
        """Done, images, charge, release, the image check's decision (generation.safety) and what
        the images `applied`, at once. False if the job was finished already, or `attempt` is given
        and is not the job's latest (a late attempt after a requeue)."""

    async def finish_unsuccessful(
        self,
        job_id: str,
        status: JobStatus,
        *,
        finished_at: float,
        error: Problem | None = None,
        attempt: int | None = None,
    ) -> bool:
        """Failed or cancelled: the reservation is released, nothing is charged. False if finished
        already (or `attempt` is not the latest, as for finish_done)."""

    async def requeue_unfinished(self) -> list[Job]:
        """At start: running jobs go back to queued; every unfinished job, in submit order."""

    async def unfinished(self) -> list[Job]:
        """Queued and running jobs, in submit order (nothing changes)."""

    async def queued_counts(self, user_id: int) -> tuple[int, int]:
        """(the user's queued jobs, all queued jobs)."""

    async def get_job(self, job_id: str) -> Job | None: ...

    async def get_jobs(self, job_ids: Sequence[str]) -> list[Job]:
        """The jobs that exist among `job_ids`, in that order, with their images."""

    async def user_jobs(
        self, user_id: int, limit: int = 10, *, statuses: Iterable[JobStatus] = ()
    ) -> list[Job]:
        """The user's latest jobs, newest first."""

    async def finished_between(self, start: float, end: float) -> list[Job]:
        """Jobs that ended in [start, end), oldest first."""

    async def children(self, parent_id: str) -> list[Job]:
        """Jobs whose parent is `parent_id`, oldest first."""

    async def recent_done(self, limit: int) -> list[tuple[GenerationRequest, float]]:
        """(request, GPU seconds) of the latest done jobs that took time, newest first."""

    async def update_meta(self, job_id: str, meta: dict[str, Any]) -> dict[str, Any] | None:
        """Merge `meta` into the job's; the merged meta (None: no such job)."""

    # -- quotas ---------------------------------------------------------------------------------

    async def quota_rows(self, user_id: int, day: str) -> tuple[float, float, float, float | None, bool]:
        """(used on `day`, reserved now, granted for `day`, override seconds, has an override)."""

    async def charge_of(self, job_id: str) -> float | None: ...

    async def reservation_of(self, job_id: str) -> float | None: ...

    async def add_grant(self, user_id: int, day: str, seconds: float, now: float) -> None: ...

    async def set_override(self, user_id: int, seconds: float | None, now: float, *, remove: bool) -> None:
        """The user's own daily budget (None: unlimited); `remove` goes back to the configured one."""

    # -- key/value settings ---------------------------------------------------------------------

    async def guild_setting(self, guild_id: int, key: str, default: Any = None) -> Any: ...

    async def set_guild_setting(self, guild_id: int, key: str, value: Any) -> None:
        """Store a JSON value; None deletes it."""

    async def user_settings(self, user_id: int) -> dict[str, Any]:
        """The user's own settings (a JSON object; empty when none were stored)."""

    async def set_user_settings(self, user_id: int, values: dict[str, Any], now: float) -> None:
        """Replace the user's settings; an empty object deletes them."""

    async def state(self, key: str, default: Any = None) -> Any:
        """The service's own state (the active model, the pause)."""

    async def set_state(self, key: str, value: Any) -> None: ...
