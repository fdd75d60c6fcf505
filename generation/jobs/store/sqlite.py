"""The job store on SQLite (WAL) through aiosqlite, with versioned migrations: a `Store` (base.py).

Every job is a row (`jobs`), its images rows of `images` (artifact keys); quota rows and
per-server settings live beside them. Writes that belong together run in one transaction (a
finished job's status, images, charge and the release of its reservation), so a crash leaves
either all or none of them. A job's error is a Problem stored as JSON. Migrations are the files
`migrations/NNNN_name.sql` beside this module, applied in order at open; the database's
`PRAGMA user_version` is the number of the last one applied.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from generation.jobs.problems import StoreOpenError, StoreProblem
from generation.jobs.store.rows import COLUMN_COUNT as _COLUMN_COUNT
from generation.jobs.store.rows import JOB_COLUMNS as _JOB_COLUMNS
from generation.jobs.store.rows import applied_column as _applied_column
from generation.jobs.store.rows import error_column as _error_column
from generation.jobs.store.rows import image_check_column as _image_check_column
from generation.jobs.store.rows import job_from_row as _job_from_row
from generation.jobs.store.rows import job_row as _job_row
from generation.jobs.types import Job, JobImage, JobStatus, new_job_id
from generation.problems import Problem
from generation.requests.applied import Applied
from generation.requests.request import GenerationRequest
from generation.safety.check import ImageCheck

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def migrations(folder: Path = MIGRATIONS_DIR) -> list[tuple[int, Path]]:
    found = []
    for path in folder.glob("*.sql"):
        match = re.match(r"(\d+)_", path.name)
        if match:
            found.append((int(match.group(1)), path))
    found.sort()
    numbers = [n for n, _ in found]
    if numbers != list(range(1, len(numbers) + 1)):
        raise RuntimeError(f"migrations in {folder} must be numbered 0001, 0002, ... without gaps: {numbers}")
    return found


OPEN_BUSY_TIMEOUT_MS = 2000  # at start, how long a lock held elsewhere is waited for
BUSY_TIMEOUT_MS = 5000
SQLITE_HEADER = b"SQLite format 3\x00"


def check_file(path: Path) -> None:
    """What can be told of the file before SQLite opens it: a folder, not SQLite, or shorter
    than its header says (a copy cut short). Raises StoreOpenError; an empty or missing file is
    fine (a new database)."""
    if path.is_dir():
        raise StoreOpenError(StoreProblem.IS_A_DIRECTORY, path=str(path))
    try:
        with path.open("rb") as file:
            header = file.read(100)
        size = path.stat().st_size
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StoreOpenError(StoreProblem.CANNOT_OPEN, path=str(path), detail=_os_detail(exc)) from None
    if size == 0:
        return
    if not header.startswith(SQLITE_HEADER):
        raise StoreOpenError(StoreProblem.NOT_A_DATABASE, path=str(path), detail="no SQLite header")
    if len(header) < 100:
        raise StoreOpenError(StoreProblem.TRUNCATED, path=str(path), size=size, expected=100)
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    # The page count in the header holds when the change counter matches "version valid for";
    # pages still in a write-ahead log are not in the file yet.
    counted = pages > 0 and header[24:28] == header[92:96]
    wal = path.with_name(path.name + "-wal")
    if counted and not (wal.exists() and wal.stat().st_size) and size < pages * page_size:
        raise StoreOpenError(StoreProblem.TRUNCATED, path=str(path), size=size, expected=pages * page_size)


def open_error(path: Path, exc: sqlite3.Error) -> StoreOpenError:
    """SQLite's error at open as a StoreOpenError for this file."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    code = next((c for prefix, c in _OPEN_ERRORS if name.startswith(prefix)), StoreProblem.CANNOT_OPEN)
    if code is StoreProblem.LOCKED:
        return StoreOpenError(code, path=str(path))
    return StoreOpenError(code, path=str(path), detail=str(exc))


_OPEN_ERRORS = (
    ("SQLITE_BUSY", StoreProblem.LOCKED),
    ("SQLITE_LOCKED", StoreProblem.LOCKED),
    ("SQLITE_NOTADB", StoreProblem.NOT_A_DATABASE),
    ("SQLITE_CORRUPT", StoreProblem.CORRUPT),
    ("SQLITE_READONLY", StoreProblem.READ_ONLY),
    ("SQLITE_FULL", StoreProblem.READ_ONLY),
    ("SQLITE_CANTOPEN", StoreProblem.CANNOT_OPEN),
)


def _os_detail(exc: OSError) -> str:
    return exc.strerror or str(exc)


class SQLiteStore:
    """One aiosqlite connection; transactions are serialised by an asyncio lock."""

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self.path = path
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path, *, migrations_dir: Path = MIGRATIONS_DIR) -> SQLiteStore:
        """Open the database, creating it if need be, and migrate it.

        Raises StoreOpenError (naming the file and what is wrong) when it cannot be this store's
        database: a folder, not SQLite, cut short or damaged, another program's or a newer
        schema, locked or read-only. Nothing is written to such a file: it is checked first."""
        path = Path(path)
        if str(path) != ":memory:":
            check_file(path)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                detail = _os_detail(exc)
                raise StoreOpenError(StoreProblem.CANNOT_OPEN, path=str(path), detail=detail) from None
        try:
            db = await aiosqlite.connect(path, isolation_level=None)
        except sqlite3.Error as exc:
            raise open_error(path, exc) from None
        try:
            await db.execute(f"PRAGMA busy_timeout={OPEN_BUSY_TIMEOUT_MS}")
            store = cls(db, path)
            await store._check_schema(migrations_dir)  # reads only
            await store._check_writable()
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA synchronous=NORMAL")  # in WAL: durable across process crashes
            await db.execute("PRAGMA foreign_keys=ON")
            await db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            await store._migrate(migrations_dir)
        except BaseException as exc:
            await db.close()  # its thread would keep the process alive
            if isinstance(exc, sqlite3.Error):
                raise open_error(path, exc) from None
            raise
        return store

    async def _check_schema(self, migrations_dir: Path) -> None:
        """Refuse a schema newer than the migrations here, or another program's tables."""
        version = await self.schema_version()
        known = len(migrations(migrations_dir))
        async with self._db.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        ) as cur:
            tables = [row[0] for row in await cur.fetchall()]
        if version > known:
            raise StoreOpenError(StoreProblem.NEWER_SCHEMA, path=str(self.path), version=version, known=known)
        if version == 0 and tables:
            raise StoreOpenError(StoreProblem.FOREIGN_SCHEMA, path=str(self.path), tables=tables[:10])

    async def _check_writable(self) -> None:
        """Take the write lock and let go (nothing written): a locked or read-only file fails here."""
        await self._db.execute("BEGIN IMMEDIATE")
        await self._db.execute("ROLLBACK")

    async def close(self) -> None:
        async with self._lock:
            await self._db.close()

    async def schema_version(self) -> int:
        async with self._db.execute("PRAGMA user_version") as cur:
            return (await cur.fetchone())[0]

    async def _migrate(self, folder: Path) -> None:
        version = await self.schema_version()
        for number, path in migrations(folder):
            if number <= version:
                continue
            sql = path.read_text(encoding="utf-8")
            try:
                await self._db.executescript(
                    f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;"
                )
            except BaseException:
                if self._db.in_transaction:
                    await self._db.rollback()
                raise

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            await self._db.execute("COMMIT")

    async def _fetchall(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[aiosqlite.Row]:
        async with self._lock, self._db.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def _fetchone(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> aiosqlite.Row | None:
        async with self._lock, self._db.execute(sql, params) as cur:
            return await cur.fetchone()

    # -- jobs ---------------------------------------------------------------------------------

    async def insert_job(self, job: Job, *, reserve_seconds: float = 0.0) -> Job:
        """Write a new job (and its quota reservation); a clashing id gets a fresh one."""
        for _ in range(10):
            try:
                async with self.transaction() as db:
                    await db.execute(
                        f"INSERT INTO jobs ({_JOB_COLUMNS}) VALUES ({', '.join('?' * _COLUMN_COUNT)})",
                        _job_row(job),
                    )
                    if reserve_seconds > 0:
                        await db.execute(
                            "INSERT INTO quota_reservations (job_id, user_id, seconds, created_at)"
                            " VALUES (?,?,?,?)",
                            (job.id, job.owner.user_id, reserve_seconds, job.created_at),
                        )
                return job
            except aiosqlite.IntegrityError:
                if await self.get_job(job.id) is None:
                    raise
                job = job.replace(id=new_job_id())
        raise RuntimeError("could not find a free job id")

    async def mark_running(
        self, job_ids: Iterable[str], *, started_at: float, model_name: str | None, model_hash: str | None
    ) -> None:
        async with self.transaction() as db:
            await db.executemany(
                "UPDATE jobs SET status='running', started_at=?, model_name=?, model_hash=?,"
                " attempts=attempts+1 WHERE id=? AND status='queued'",
                [(started_at, model_name, model_hash, job_id) for job_id in job_ids],
            )

    async def mark_queued(self, job_ids: Iterable[str]) -> None:
        async with self.transaction() as db:
            await db.executemany(
                "UPDATE jobs SET status='queued', started_at=NULL WHERE id=? AND status='running'",
                [(job_id,) for job_id in job_ids],
            )

    async def claim(
        self, job_ids: Sequence[str], *, started_at: float, model_name: str | None
    ) -> dict[str, int]:
        """Queued jobs start: running, one more attempt; {job id: attempt} of those claimed."""
        ids = list(job_ids)
        if not ids:
            return {}
        async with (
            self.transaction() as db,
            db.execute(
                "UPDATE jobs SET status='running', started_at=?, model_name=COALESCE(?, model_name),"
                f" attempts=attempts+1 WHERE status='queued' AND id IN ({', '.join('?' * len(ids))})"
                " RETURNING id, attempts",
                (started_at, model_name, *ids),
            ) as cur,
        ):
            return {row[0]: row[1] for row in await cur.fetchall()}

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
        """Done, images, charge, release, the image check and what was applied in one transaction.
        False if the job was finished already (or `attempt` is not its latest)."""
        async with self.transaction() as db:
            cur = await db.execute(
                "UPDATE jobs SET status='done', finished_at=?, gpu_seconds=?, grid_key=?, error=NULL,"
                " model_hash=COALESCE(?, model_hash), image_check=?, applied=? WHERE id=?"
                " AND status IN ('queued','running') AND (? IS NULL OR attempts=?)",
                (
                    finished_at,
                    gpu_seconds,
                    grid_key,
                    model_hash,
                    _image_check_column(image_check),
                    _applied_column(applied),
                    job_id,
                    attempt,
                    attempt,
                ),
            )
            if cur.rowcount == 0:
                return False
            await db.execute("DELETE FROM images WHERE job_id=?", (job_id,))
            await db.executemany(
                "INSERT INTO images (job_id, idx, seed, key) VALUES (?,?,?,?)",
                [(job_id, im.index, im.seed, im.key) for im in images],
            )
            await db.execute(
                "INSERT OR IGNORE INTO quota_charges (job_id, user_id, day, seconds, charged_at)"
                " SELECT id, user_id, ?, ?, ? FROM jobs WHERE id=?",
                (charge_day, gpu_seconds, finished_at, job_id),
            )
            await db.execute("DELETE FROM quota_reservations WHERE job_id=?", (job_id,))
        return True

    async def finish_unsuccessful(
        self,
        job_id: str,
        status: JobStatus,
        *,
        finished_at: float,
        error: Problem | None = None,
        attempt: int | None = None,
    ) -> bool:
        """Failed or cancelled: the reservation is released, nothing is charged."""
        assert status in (JobStatus.FAILED, JobStatus.CANCELLED)
        async with self.transaction() as db:
            cur = await db.execute(
                "UPDATE jobs SET status=?, finished_at=?, error=?"
                " WHERE id=? AND status IN ('queued','running') AND (? IS NULL OR attempts=?)",
                (status.value, finished_at, _error_column(error), job_id, attempt, attempt),
            )
            if cur.rowcount == 0:
                return False
            await db.execute("DELETE FROM quota_reservations WHERE job_id=?", (job_id,))
        return True

    async def requeue_unfinished(self) -> list[Job]:
        """At start: jobs left running go back to queued; returns every unfinished job in submit order."""
        async with self.transaction() as db:
            await db.execute("UPDATE jobs SET status='queued', started_at=NULL WHERE status='running'")
        rows = await self._fetchall(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE status='queued' ORDER BY created_at, rowid"
        )
        return [_job_from_row(row) for row in rows]

    async def unfinished(self) -> list[Job]:
        rows = await self._fetchall(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE status IN ('queued', 'running')"
            " ORDER BY created_at, rowid"
        )
        return [_job_from_row(row) for row in rows]

    async def queued_counts(self, user_id: int) -> tuple[int, int]:
        row = await self._fetchone(
            "SELECT COALESCE(SUM(user_id=?), 0), COUNT(*) FROM jobs WHERE status='queued'", (user_id,)
        )
        return int(row[0]), int(row[1])

    async def get_jobs(self, job_ids: Sequence[str]) -> list[Job]:
        ids = list(dict.fromkeys(job_ids))
        if not ids:
            return []
        rows = await self._fetchall(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id IN ({', '.join('?' * len(ids))})", ids
        )
        found = {job.id: job for job in await self._with_images([_job_from_row(row) for row in rows])}
        return [found[i] for i in ids if i in found]

    async def get_job(self, job_id: str) -> Job | None:
        row = await self._fetchone(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id=?", (job_id,))
        if row is None:
            return None
        return (await self._with_images([_job_from_row(row)]))[0]

    async def user_jobs(
        self, user_id: int, limit: int = 10, *, statuses: Iterable[JobStatus] = ()
    ) -> list[Job]:
        statuses = [s.value for s in statuses]
        where = "user_id=?" + (f" AND status IN ({', '.join('?' * len(statuses))})" if statuses else "")
        rows = await self._fetchall(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE {where} ORDER BY created_at DESC, rowid DESC LIMIT ?",
            (user_id, *statuses, limit),
        )
        return await self._with_images([_job_from_row(row) for row in rows])

    async def finished_between(self, start: float, end: float) -> list[Job]:
        """Jobs that ended (done, failed or cancelled) in [start, end), oldest first."""
        rows = await self._fetchall(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE status IN ('done', 'failed', 'cancelled') "
            "AND finished_at >= ? AND finished_at < ? ORDER BY finished_at, rowid",
            (start, end),
        )
        return await self._with_images([_job_from_row(row) for row in rows])

    async def children(self, parent_id: str) -> list[Job]:
        rows = await self._fetchall(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE parent_id=? ORDER BY created_at, rowid", (parent_id,)
        )
        return await self._with_images([_job_from_row(row) for row in rows])

    async def recent_done(self, limit: int) -> list[tuple[GenerationRequest, float]]:
        rows = await self._fetchall(
            "SELECT request, gpu_seconds FROM jobs WHERE status='done' AND gpu_seconds > 0"
            " ORDER BY finished_at DESC LIMIT ?",
            (limit,),
        )
        return [(GenerationRequest.from_dict(json.loads(r[0])), r[1]) for r in rows]

    async def update_meta(self, job_id: str, meta: dict[str, Any]) -> dict[str, Any] | None:
        """Merge `meta` into the job's meta; returns the new meta (None: no such job)."""
        async with self.transaction() as db:
            async with db.execute("SELECT meta FROM jobs WHERE id=?", (job_id,)) as cur:
                row = await cur.fetchone()
            if row is None:
                return None
            merged = {**json.loads(row[0]), **meta}
            await db.execute("UPDATE jobs SET meta=? WHERE id=?", (json.dumps(merged), job_id))
        return merged

    async def _with_images(self, jobs: list[Job]) -> list[Job]:
        if not jobs:
            return jobs
        ids = [j.id for j in jobs]
        rows = await self._fetchall(
            f"SELECT job_id, idx, seed, key FROM images WHERE job_id IN ({', '.join('?' * len(ids))})"
            " ORDER BY job_id, idx",
            ids,
        )
        images: dict[str, list[JobImage]] = {}
        for job_id, idx, seed, key in rows:
            images.setdefault(job_id, []).append(JobImage(idx, seed, key))
        return [j.replace(images=tuple(images.get(j.id, ()))) for j in jobs]

    # -- quotas -------------------------------------------------------------------------------

    async def quota_rows(self, user_id: int, day: str) -> tuple[float, float, float, float | None, bool]:
        """(used today, reserved now, granted today, override seconds, has override)."""
        row = await self._fetchone(
            "SELECT"
            " (SELECT COALESCE(SUM(seconds), 0) FROM quota_charges WHERE user_id=:u AND day=:d),"
            " (SELECT COALESCE(SUM(seconds), 0) FROM quota_reservations WHERE user_id=:u),"
            " (SELECT COALESCE(SUM(seconds), 0) FROM quota_grants WHERE user_id=:u AND day=:d),"
            " (SELECT seconds FROM quota_overrides WHERE user_id=:u),"
            " EXISTS (SELECT 1 FROM quota_overrides WHERE user_id=:u)",
            {"u": user_id, "d": day},
        )
        used, reserved, granted, override, has_override = row
        return used, reserved, granted, override, bool(has_override)

    async def charge_of(self, job_id: str) -> float | None:
        row = await self._fetchone("SELECT seconds FROM quota_charges WHERE job_id=?", (job_id,))
        return None if row is None else row[0]

    async def reservation_of(self, job_id: str) -> float | None:
        row = await self._fetchone("SELECT seconds FROM quota_reservations WHERE job_id=?", (job_id,))
        return None if row is None else row[0]

    async def add_grant(self, user_id: int, day: str, seconds: float, now: float) -> None:
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO quota_grants (user_id, day, seconds, granted_at) VALUES (?,?,?,?)",
                (user_id, day, seconds, now),
            )

    async def set_override(self, user_id: int, seconds: float | None, now: float, *, remove: bool) -> None:
        async with self.transaction() as db:
            if remove:
                await db.execute("DELETE FROM quota_overrides WHERE user_id=?", (user_id,))
            else:
                await db.execute(
                    "INSERT INTO quota_overrides (user_id, seconds, updated_at) VALUES (?,?,?)"
                    " ON CONFLICT (user_id) DO UPDATE SET"
                    " seconds=excluded.seconds, updated_at=excluded.updated_at",
                    (user_id, seconds, now),
                )

    # -- key/value settings -------------------------------------------------------------------

    async def guild_setting(self, guild_id: int, key: str, default: Any = None) -> Any:
        row = await self._fetchone(
            "SELECT value FROM guild_settings WHERE guild_id=? AND key=?", (guild_id, key)
        )
        return default if row is None else json.loads(row[0])

    async def set_guild_setting(self, guild_id: int, key: str, value: Any) -> None:
        async with self.transaction() as db:
            if value is None:
                await db.execute("DELETE FROM guild_settings WHERE guild_id=? AND key=?", (guild_id, key))
            else:
                await db.execute(
                    "INSERT INTO guild_settings (guild_id, key, value) VALUES (?,?,?)"
                    " ON CONFLICT (guild_id, key) DO UPDATE SET value=excluded.value",
                    (guild_id, key, json.dumps(value)),
                )

    async def user_settings(self, user_id: int) -> dict[str, Any]:
        row = await self._fetchone("SELECT value FROM user_settings WHERE user_id=?", (user_id,))
        return {} if row is None else dict(json.loads(row[0]))

    async def set_user_settings(self, user_id: int, values: dict[str, Any], now: float) -> None:
        async with self.transaction() as db:
            if not values:
                await db.execute("DELETE FROM user_settings WHERE user_id=?", (user_id,))
            else:
                await db.execute(
                    "INSERT INTO user_settings (user_id, value, updated_at) VALUES (?,?,?)"
                    " ON CONFLICT (user_id) DO UPDATE SET"
                    " value=excluded.value, updated_at=excluded.updated_at",
                    (user_id, json.dumps(values), now),
                )

    async def state(self, key: str, default: Any = None) -> Any:
        row = await self._fetchone("SELECT value FROM state WHERE key=?", (key,))
        return default if row is None else json.loads(row[0])

    async def set_state(self, key: str, value: Any) -> None:
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO state (key, value) VALUES (?,?)"
                " ON CONFLICT (key) DO UPDATE SET value=excluded.value",
                (key, json.dumps(value)),
            )
