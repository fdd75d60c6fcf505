"""Writes the store refused (a full disk), kept per job in order and retried until it takes them.

A job's outcome must not wait for the database: the service takes the job out of the running set
and tells its front end at once, and hands the write here. Each job's writes go in the order they
were made; a write waits while an earlier one of the same job waits. Every store write the service
retries is idempotent (a finished job's row is only finished once, a charge only inserted once),
so a write that did land although it reported an error does no harm when it runs again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

Write = Callable[[], Awaitable[Any]]


@dataclass
class _Pending:
    what: str  # for the log: "the outcome of job x"
    write: Write


class PendingWrites:
    def __init__(self, interval: float, on_recorded: Callable[[str], None] | None = None) -> None:
        self.interval = interval  # seconds between retries
        self.on_recorded = on_recorded  # a job's last waiting write went through
        self._waiting: dict[str, list[_Pending]] = {}  # by job, oldest job first
        self._task: asyncio.Task[None] | None = None

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._waiting

    def __len__(self) -> int:
        return sum(len(writes) for writes in self._waiting.values())

    async def write(self, job_id: str, what: str, write: Write) -> bool:
        """Write now, or keep the write for later (when the store refuses it, or an earlier write of
        the job waits). True when it went through now."""
        if job_id not in self._waiting:
            try:
                await write()
                return True
            except Exception as exc:
                log.warning("the database refused %s (%s); retrying every %g s", what, exc, self.interval)
        self._waiting.setdefault(job_id, []).append(_Pending(what, write))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._retry(), name="job-service-pending-writes")
        return False

    async def flush(self) -> bool:
        """Try every waiting write once, oldest first; stop at the first the store refuses.
        True when none is left."""
        for job_id in list(self._waiting):
            writes = self._waiting[job_id]
            while writes:
                try:
                    await writes[0].write()
                except Exception as exc:
                    log.debug("the database still refuses %s: %s", writes[0].what, exc)
                    return False
                log.info("recorded %s after all", writes.pop(0).what)
            del self._waiting[job_id]
            if self.on_recorded is not None:
                self.on_recorded(job_id)
        return True

    async def close(self) -> None:
        """Stop retrying after one last try; what is still refused is lost (logged). A job whose
        outcome is lost is still queued or running in the database, so the next start runs it
        again (and charges it once, when it is done)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if not await self.flush():
            for writes in self._waiting.values():
                for pending in writes:
                    log.error("could not record %s before closing: the database refuses writes", pending.what)

    async def _retry(self) -> None:
        while self._waiting:
            await asyncio.sleep(self.interval)
            await self.flush()
