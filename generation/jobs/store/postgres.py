"""The job store on PostgreSQL through asyncpg: the `Store` protocol (base.py) for the cluster.

Several processes share the database: bot processes write jobs and read results, one dispatcher
claims and finishes them. It is the source of truth; nothing the cluster keeps elsewhere (Ray's
actors, the dispatcher's queue) is needed to rebuild it. Each method is one transaction, and the
writes that decide a job's fate are guarded in their statements (see base.py), so concurrent
writers cannot run a job twice or charge it twice.

The schema is SQLite's (migrations/) expressed for PostgreSQL (postgres_migrations/ 0001-0002 and
0004-0006 are SQLite's 0001-0005), plus what only the cluster uses (0003: submit keys, the previews
table). Migrations are applied at open under an advisory lock, so processes starting together
migrate once; `schema_migrations` records them. The password never comes from the URL's config:
libpq's PGPASSWORD or ~/.pgpass.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg

from generation.jobs.store.rows import (
    COLUMN_COUNT,
    JOB_COLUMNS,
    applied_column,
    error_column,
    image_check_column,
    job_from_row,
    job_row,
)
from generation.jobs.store.sqlite import migrations
from generation.jobs.types import Job, JobImage, JobStatus, new_job_id
from generation.problems import Problem
from generation.requests.applied import Applied
from generation.requests.request import GenerationRequest
from generation.safety.check import ImageCheck

MIGRATIONS_DIR = Path(__file__).resolve().parent / "postgres_migrations"
MIGRATION_LOCK = 0x1A4A61E5  # pg_advisory_xact_lock key: one process migrates at a time
_VALUES = ", ".join(f"${i}" for i in range(1, COLUMN_COUNT + 1))
_UNFINISHED = "status IN ('queued', 'running')"


async def _reset(db: asyncpg.Connection) -> None:
    """What a connection needs before it goes back to the pool: nothing here sets session state,
    listens or holds a session lock, so only a transaction left open (an error) is ended; asyncpg's
    default reset costs a round trip on every release."""
    if db.is_in_transaction():
        await db.execute("ROLLBACK")


class PostgresStore:
    """A pool of asyncpg connections; every method runs in its own transaction."""

    def __init__(self, pool: asyncpg.Pool, url: str) -> None:
        self._pool = pool
        self.url = url

    @classmethod
    async def open(
        cls, url: str, *, migrations_dir: Path = MIGRATIONS_DIR, min_size: int = 1, max_size: int = 4
    ) -> PostgresStore:
        pool = await asyncpg.create_pool(
            url, min_size=min_size, max_size=max_size, command_timeout=30, reset=_reset
        )
        store = cls(pool, url)
        try:
            await store._migrate(migrations_dir)
        except BaseException:
            await pool.close()
            raise
        return store

    async def close(self) -> None:
        await self._pool.close()

    async def schema_version(self) -> int:
        async with self._pool.acquire() as db:
            exists = await db.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
            if not exists:
                return 0
            return await db.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")

    async def _migrate(self, folder: Path) -> None:
        async with self.transaction() as db:
            await db.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            await db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations"
                " (version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL"
                " DEFAULT EXTRACT(EPOCH FROM now()))"
            )
            done = {row[0] for row in await db.fetch("SELECT version FROM schema_migrations")}
            for number, path in migrations(folder):
                if number not in done:
                    await db.execute(path.read_text(encoding="utf-8"))
                    await db.execute("INSERT INTO schema_migrations (version) VALUES ($1)", number)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        async with self._pool.acquire() as db, db.transaction():
            yield db

    # -- jobs ---------------------------------------------------------------------------------

    async def insert_job(self, job: Job, *, reserve_seconds: float = 0.0) -> Job:
        """Write a new job (and its quota reservation); a clashing id gets a fresh one."""
        return await self.submit_job(job, reserve_seconds=reserve_seconds)

    async def submit_job(
        self, job: Job, *, reserve_seconds: float = 0.0, key: str | None = None, notify: str | None = None
    ) -> Job:
        """`insert_job`, idempotent on `key` (a retried submit with the same key returns the job
        written the first time, reserved once), announcing the job's id on the channel `notify`
        in the same transaction (delivered when it commits)."""
        for _ in range(10):
            async with self.transaction() as db:
                inserted = await db.fetchval(
                    f"INSERT INTO jobs ({JOB_COLUMNS}, submit_key) VALUES ({_VALUES}, ${COLUMN_COUNT + 1})"
                    " ON CONFLICT DO NOTHING RETURNING id",
                    *job_row(job),
                    key,
                )
                if inserted is None:
                    if key is not None:
                        row = await db.fetchrow(f"SELECT {JOB_COLUMNS} FROM jobs WHERE submit_key=$1", key)
                        if row is not None:
                            return job_from_row(row)
                    job = job.replace(id=new_job_id())
                    continue
                if reserve_seconds > 0:
                    await db.execute(
                        "INSERT INTO quota_reservations (job_id, user_id, seconds, created_at)"
                        " VALUES ($1, $2, $3, $4)",
                        job.id,
                        job.owner.user_id,
                        reserve_seconds,
                        job.created_at,
                    )
                if notify is not None:
                    await db.execute("SELECT pg_notify($1, $2)", notify, job.id)
                return job
        raise RuntimeError("could not find a free job id")

    async def job_for_key(self, key: str) -> Job | None:
        """The job a submit with this key wrote, if any."""
        async with self._pool.acquire() as db:
            row = await db.fetchrow(f"SELECT {JOB_COLUMNS} FROM jobs WHERE submit_key=$1", key)
        return None if row is None else (await self._with_images([job_from_row(row)]))[0]

    async def claim(
        self, job_ids: Sequence[str], *, started_at: float, model_name: str | None
    ) -> dict[str, int]:
        """Queued jobs start, in one statement: running, one more attempt; {job id: attempt}."""
        if not job_ids:
            return {}
        async with self._pool.acquire() as db:
            rows = await db.fetch(
                "UPDATE jobs SET status='running', started_at=$2, model_name=COALESCE($3, model_name),"
                " attempts=attempts+1 WHERE id = ANY($1::text[]) AND status='queued' RETURNING id, attempts",
                list(job_ids),
                started_at,
                model_name,
            )
        return {row["id"]: row["attempts"] for row in rows}

    async def mark_running(
        self, job_ids: Iterable[str], *, started_at: float, model_name: str | None, model_hash: str | None
    ) -> None:
        async with self._pool.acquire() as db:
            await db.execute(
                "UPDATE jobs SET status='running', started_at=$2, model_name=$3, model_hash=$4,"
                " attempts=attempts+1 WHERE id = ANY($1::text[]) AND status='queued'",
                list(job_ids),
                started_at,
                model_name,
                model_hash,
            )

    async def mark_queued(self, job_ids: Iterable[str]) -> None:
        async with self._pool.acquire() as db:
            await db.execute(
                "UPDATE jobs SET status='queued', started_at=NULL WHERE id = ANY($1::text[])"
                " AND status='running'",
                list(job_ids),
            )

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
        """Done, images, charge, release, the image check and what was applied in one statement
        (one round trip, and atomic). False if the job was finished already, or `attempt` is not
        its latest."""
        async with self._pool.acquire() as db:
            done = await db.fetchval(
                "WITH done AS ("
                "  UPDATE jobs SET status='done', finished_at=$1, gpu_seconds=$2, grid_key=$3, error=NULL,"
                "  model_hash=COALESCE($4, model_hash), image_check=$11, applied=$12"
                "  WHERE id=$5 AND status IN ('queued','running')"
                "  AND ($6::integer IS NULL OR attempts=$6) RETURNING id, user_id),"
                " stored AS (INSERT INTO images (job_id, idx, seed, key)"
                "  SELECT done.id, i.idx, i.seed, i.key"
                "  FROM done, unnest($7::integer[], $8::bigint[], $9::text[]) AS i (idx, seed, key)"
                "  ON CONFLICT (job_id, idx) DO UPDATE SET seed=EXCLUDED.seed, key=EXCLUDED.key),"
                " charged AS (INSERT INTO quota_charges (job_id, user_id, day, seconds, charged_at)"
                "  SELECT id, user_id, $10, $2, $1 FROM done ON CONFLICT (job_id) DO NOTHING),"
                " released AS (DELETE FROM quota_reservations WHERE job_id IN (SELECT id FROM done)),"
                " cleared AS (DELETE FROM previews WHERE job_id IN (SELECT id FROM done))"
                " SELECT COUNT(*) FROM done",
                finished_at,
                gpu_seconds,
                grid_key,
                model_hash,
                job_id,
                attempt,
                [im.index for im in images],
                [im.seed for im in images],
                [im.key for im in images],
                charge_day,
                image_check_column(image_check),
                applied_column(applied),
            )
        return bool(done)

    async def finish_unsuccessful(
        self,
        job_id: str,
        status: JobStatus,
        *,
        finished_at: float,
        error: Problem | None = None,
        attempt: int | None = None,
    ) -> bool:
        """Failed or cancelled: the reservation is released, nothing is charged (one statement)."""
        assert status in (JobStatus.FAILED, JobStatus.CANCELLED)
        async with self._pool.acquire() as db:
            ended = await db.fetchval(
                "WITH ended AS (UPDATE jobs SET status=$1, finished_at=$2, error=$3 WHERE id=$4"
                "  AND status IN ('queued','running') AND ($5::integer IS NULL OR attempts=$5) RETURNING id),"
                " released AS (DELETE FROM quota_reservations WHERE job_id IN (SELECT id FROM ended)),"
                " cleared AS (DELETE FROM previews WHERE job_id IN (SELECT id FROM ended))"
                " SELECT COUNT(*) FROM ended",
                status.value,
                finished_at,
                error_column(error),
                job_id,
                attempt,
            )
        return bool(ended)

    async def requeue_unfinished(self) -> list[Job]:
        """At start: jobs left running go back to queued; returns every unfinished job in submit order."""
        async with self.transaction() as db:
            await db.execute("UPDATE jobs SET status='queued', started_at=NULL WHERE status='running'")
            rows = await db.fetch(
                f"SELECT {JOB_COLUMNS} FROM jobs WHERE status='queued' ORDER BY created_at, seq"
            )
        return [job_from_row(row) for row in rows]

    async def unfinished(self) -> list[Job]:
        rows = await self._fetch(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE {_UNFINISHED} ORDER BY created_at, seq"
        )
        return [job_from_row(row) for row in rows]

    async def queued_counts(self, user_id: int) -> tuple[int, int]:
        async with self._pool.acquire() as db:
            row = await db.fetchrow(
                "SELECT COUNT(*) FILTER (WHERE user_id=$1), COUNT(*) FROM jobs WHERE status='queued'",
                user_id,
            )
        return int(row[0]), int(row[1])

    async def get_job(self, job_id: str) -> Job | None:
        jobs = await self.get_jobs([job_id])
        return jobs[0] if jobs else None

    async def get_jobs(self, job_ids: Sequence[str]) -> list[Job]:
        ids = list(dict.fromkeys(job_ids))
        if not ids:
            return []
        rows = await self._fetch(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ANY($1::text[])", ids)
        found = {job.id: job for job in await self._with_images([job_from_row(row) for row in rows])}
        return [found[i] for i in ids if i in found]

    async def user_jobs(
        self, user_id: int, limit: int = 10, *, statuses: Iterable[JobStatus] = ()
    ) -> list[Job]:
        wanted = [s.value for s in statuses]
        rows = await self._fetch(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE user_id=$1"
            " AND (cardinality($2::text[]) = 0 OR status = ANY($2::text[]))"
            " ORDER BY created_at DESC, seq DESC LIMIT $3",
            user_id,
            wanted,
            limit,
        )
        return await self._with_images([job_from_row(row) for row in rows])

    async def finished_between(self, start: float, end: float) -> list[Job]:
        rows = await self._fetch(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE status IN ('done', 'failed', 'cancelled')"
            " AND finished_at >= $1 AND finished_at < $2 ORDER BY finished_at, seq",
            start,
            end,
        )
        return await self._with_images([job_from_row(row) for row in rows])

    async def children(self, parent_id: str) -> list[Job]:
        rows = await self._fetch(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE parent_id=$1 ORDER BY created_at, seq", parent_id
        )
        return await self._with_images([job_from_row(row) for row in rows])

    async def recent_done(self, limit: int) -> list[tuple[GenerationRequest, float]]:
        rows = await self._fetch(
            "SELECT request, gpu_seconds FROM jobs WHERE status='done' AND gpu_seconds > 0"
            " ORDER BY finished_at DESC LIMIT $1",
            limit,
        )
        return [(GenerationRequest.from_dict(json.loads(r[0])), r[1]) for r in rows]

    async def update_meta(self, job_id: str, meta: dict[str, Any]) -> dict[str, Any] | None:
        """Merge `meta` into the job's meta in one statement (writers in other processes too)."""
        async with self._pool.acquire() as db:
            merged = await db.fetchval(
                "UPDATE jobs SET meta = (meta::jsonb || $2::jsonb)::text WHERE id=$1 RETURNING meta",
                job_id,
                json.dumps(meta),
            )
        return None if merged is None else json.loads(merged)

    async def _with_images(self, jobs: list[Job]) -> list[Job]:
        if not jobs:
            return jobs
        rows = await self._fetch(
            "SELECT job_id, idx, seed, key FROM images WHERE job_id = ANY($1::text[]) ORDER BY job_id, idx",
            [j.id for j in jobs],
        )
        images: dict[str, list[JobImage]] = {}
        for job_id, idx, seed, key in rows:
            images.setdefault(job_id, []).append(JobImage(idx, seed, key))
        return [j.replace(images=tuple(images.get(j.id, ()))) for j in jobs]

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        async with self._pool.acquire() as db:
            return list(await db.fetch(sql, *args))

    # -- previews (the cluster's live progress) -----------------------------------------------

    async def put_preview(self, job_id: str, step: int, total: int, png: bytes, at: float) -> None:
        """The job's latest preview (replacing the one before); nothing for a finished job."""
        async with self._pool.acquire() as db:
            await db.execute(
                "INSERT INTO previews (job_id, step, total, png, at) SELECT $1, $2, $3, $4, $5"
                f" WHERE EXISTS (SELECT 1 FROM jobs WHERE id=$1 AND {_UNFINISHED})"
                " ON CONFLICT (job_id) DO UPDATE SET step=EXCLUDED.step, total=EXCLUDED.total,"
                " png=EXCLUDED.png, at=EXCLUDED.at",
                job_id,
                step,
                total,
                png,
                at,
            )

    async def preview(self, job_id: str) -> bytes | None:
        async with self._pool.acquire() as db:
            return await db.fetchval("SELECT png FROM previews WHERE job_id=$1", job_id)

    async def notify(self, channel: str, payload: str) -> None:
        """NOTIFY listeners of `channel` (payload under 8,000 bytes)."""
        async with self._pool.acquire() as db:
            await db.execute("SELECT pg_notify($1, $2)", channel, payload)

    # -- quotas -------------------------------------------------------------------------------

    async def quota_rows(self, user_id: int, day: str) -> tuple[float, float, float, float | None, bool]:
        async with self._pool.acquire() as db:
            row = await db.fetchrow(
                "SELECT"
                " (SELECT COALESCE(SUM(seconds), 0) FROM quota_charges WHERE user_id=$1 AND day=$2),"
                " (SELECT COALESCE(SUM(seconds), 0) FROM quota_reservations WHERE user_id=$1),"
                " (SELECT COALESCE(SUM(seconds), 0) FROM quota_grants WHERE user_id=$1 AND day=$2),"
                " (SELECT seconds FROM quota_overrides WHERE user_id=$1),"
                " EXISTS (SELECT 1 FROM quota_overrides WHERE user_id=$1)",
                user_id,
                day,
            )
        used, reserved, granted, override, has_override = row
        return used, reserved, granted, override, bool(has_override)

    async def charge_of(self, job_id: str) -> float | None:
        async with self._pool.acquire() as db:
            return await db.fetchval("SELECT seconds FROM quota_charges WHERE job_id=$1", job_id)

    async def charges(self, job_ids: Sequence[str]) -> dict[str, int]:
        """How many charge rows each job has (at most one: the tests of the cluster check it)."""
        rows = await self._fetch(
            "SELECT job_id, COUNT(*) FROM quota_charges WHERE job_id = ANY($1::text[]) GROUP BY job_id",
            list(job_ids),
        )
        return {row[0]: row[1] for row in rows}

    async def reservation_of(self, job_id: str) -> float | None:
        async with self._pool.acquire() as db:
            return await db.fetchval("SELECT seconds FROM quota_reservations WHERE job_id=$1", job_id)

    async def add_grant(self, user_id: int, day: str, seconds: float, now: float) -> None:
        async with self._pool.acquire() as db:
            await db.execute(
                "INSERT INTO quota_grants (user_id, day, seconds, granted_at) VALUES ($1, $2, $3, $4)",
                user_id,
                day,
                seconds,
                now,
            )

    async def set_override(self, user_id: int, seconds: float | None, now: float, *, remove: bool) -> None:
        async with self._pool.acquire() as db:
            if remove:
                await db.execute("DELETE FROM quota_overrides WHERE user_id=$1", user_id)
            else:
                await db.execute(
                    "INSERT INTO quota_overrides (user_id, seconds, updated_at) VALUES ($1, $2, $3)"
                    " ON CONFLICT (user_id) DO UPDATE SET"
                    " seconds=EXCLUDED.seconds, updated_at=EXCLUDED.updated_at",
                    user_id,
                    seconds,
                    now,
                )

    # -- key/value settings -------------------------------------------------------------------

    async def guild_setting(self, guild_id: int, key: str, default: Any = None) -> Any:
        async with self._pool.acquire() as db:
            value = await db.fetchval(
                "SELECT value FROM guild_settings WHERE guild_id=$1 AND key=$2", guild_id, key
            )
        return default if value is None else json.loads(value)

    async def set_guild_setting(self, guild_id: int, key: str, value: Any) -> None:
        async with self._pool.acquire() as db:
            if value is None:
                await db.execute("DELETE FROM guild_settings WHERE guild_id=$1 AND key=$2", guild_id, key)
            else:
                await db.execute(
                    "INSERT INTO guild_settings (guild_id, key, value) VALUES ($1, $2, $3)"
                    " ON CONFLICT (guild_id, key) DO UPDATE SET value=EXCLUDED.value",
                    guild_id,
                    key,
                    json.dumps(value),
                )

    async def user_settings(self, user_id: int) -> dict[str, Any]:
        async with self._pool.acquire() as db:
            value = await db.fetchval("SELECT value FROM user_settings WHERE user_id=$1", user_id)
        return {} if value is None else dict(json.loads(value))

    async def set_user_settings(self, user_id: int, values: dict[str, Any], now: float) -> None:
        async with self._pool.acquire() as db:
            if not values:
                await db.execute("DELETE FROM user_settings WHERE user_id=$1", user_id)
            else:
                await db.execute(
                    "INSERT INTO user_settings (user_id, value, updated_at) VALUES ($1, $2, $3)"
                    " ON CONFLICT (user_id) DO UPDATE SET"
                    " value=EXCLUDED.value, updated_at=EXCLUDED.updated_at",
                    user_id,
                    json.dumps(values),
                    now,
                )

    async def state(self, key: str, default: Any = None) -> Any:
        async with self._pool.acquire() as db:
            value = await db.fetchval("SELECT value FROM state WHERE key=$1", key)
        return default if value is None else json.loads(value)

    async def set_state(self, key: str, value: Any, *, notify: str | None = None) -> None:
        """Store a JSON value; `notify`: announce the key on that channel in the same transaction."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO state (key, value) VALUES ($1, $2)"
                " ON CONFLICT (key) DO UPDATE SET value=EXCLUDED.value",
                key,
                json.dumps(value),
            )
            if notify is not None:
                await db.execute("SELECT pg_notify($1, $2)", notify, json.dumps({"state": key}))
