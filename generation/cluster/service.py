"""`DispatchService`: the job service as the cluster's dispatcher runs it.

It is generation.jobs.service.JobService (the fair queue, batching, estimates, events, quotas'
charging) on the PostgreSQL store and the Ray pool, with what sharing the database changes:
  - jobs are written by bot processes, not submitted here: `adopt` queues the ones a NOTIFY names
    or a sweep of the table finds;
  - a batch's jobs are claimed in the store when it is handed out (running, attempt n, in one
    statement); a finish lands only while its attempt is the job's latest;
  - a free worker takes the jobs of the checkpoint it holds (generation.cluster.affinity); a job
    waits for such a worker up to `[cluster] model_wait` seconds before another switches to it;
  - jobs a lost worker dropped, and at start the ones a dead dispatcher left running, go first;
    a job that lost its worker MAX_ATTEMPTS times fails instead (it may be what kills workers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from generation.cluster.affinity import WorkerView, choose_batch
from generation.cluster.wire import Snapshot
from generation.jobs.fairqueue import QueueItem
from generation.jobs.service import RETRY, JobService
from generation.jobs.types import EventKind, Job, JobEvent, JobStatus
from generation.problems import Problem
from generation.workers.protocol import BatchStarted, WorkerInfo, WorkerProblem

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # workers lost under one job before it fails
RECENT = 4096  # finished job ids remembered, so a stale sweep cannot queue one again


class DispatchService(JobService):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.epoch = ""  # the dispatcher's start (set by the dispatcher)
        self._recent: dict[str, None] = {}  # finished here lately, oldest first
        self.on_change: Callable[[], None] = lambda: None  # the queue changed: a new snapshot is due

    # -- jobs from bot processes --------------------------------------------------------------

    async def adopt(self, job_ids: Iterable[str] | None = None) -> int:
        """Queue the jobs bot processes wrote that are still queued (`job_ids`, or every one in the
        store); returns how many were new here."""
        if job_ids is None:
            jobs = await self.store.unfinished()
        else:
            wanted = [j for j in dict.fromkeys(job_ids) if j not in self._jobs and j not in self._recent]
            jobs = await self.store.get_jobs(wanted) if wanted else []
        added = 0
        for job in sorted(jobs, key=lambda j: j.created_at):
            if job.status is JobStatus.QUEUED and job.id not in self._jobs and job.id not in self._recent:
                self._enqueue(job)
                added += 1
        if added:
            self._push_positions()
            self._wake.set()
        return added

    def _enqueue(self, job: Job, *, priority: int | None = None) -> None:
        # a queued job that was started before lost its run (a dead worker or dispatcher): first
        if priority is None and job.attempts > 0:
            priority = RETRY
        super()._enqueue(job, priority=priority)

    def _forget(self, job_id: str) -> None:
        if job_id in self._jobs:
            self._recent[job_id] = None
            while len(self._recent) > RECENT:
                del self._recent[next(iter(self._recent))]
        super()._forget(job_id)

    # -- dispatching --------------------------------------------------------------------------

    async def _serve(self) -> None:
        """Hand free workers the batches the affinity rule gives them; otherwise wait for a change
        (a job, a free or restarted worker) or for a waiting job to pass the model wait."""
        try:
            while not self._closing:
                self._wake.clear()
                if not self._paused and len(self.fair) and await self._dispatch_free():
                    continue
                if self.pool.free_workers():  # free, but nothing is theirs yet: until a job's wait ends
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._next_deadline()):
                            await self._wake.wait()
                else:  # until a worker frees up (or something else changes)
                    await _first(self._wake.wait(), self.pool.wait_free())
        except Exception:  # pragma: no cover - job errors are caught where they happen
            log.exception("the dispatch loop stopped")
            raise

    async def _dispatch_free(self) -> bool:
        # idle workers before ones taking their next batch early; loaded ones before empty ones
        free = sorted(self.pool.free_workers(), key=lambda w: (bool(w.jobs), w.model is None))
        for worker in free:
            before = len(self.fair)
            await self._dispatch(worker)
            if len(self.fair) != before:
                return True
        return False

    def _next_deadline(self) -> float:
        """Seconds until the next waiting job may go to any worker (at most a heartbeat)."""
        wait, now = self.settings.cluster.model_wait, time.time()
        ends = [self._jobs[i.job_id].created_at + wait - now for i in self.fair.order()]
        soonest = min((end for end in ends if end > 0), default=self.settings.cluster.heartbeat)
        return min(max(soonest, 0.02), self.settings.cluster.heartbeat)

    def _plan_batch(self, worker: WorkerInfo) -> list[QueueItem]:
        now = time.time()
        wait = self.settings.cluster.model_wait
        live = getattr(self.pool, "live_workers", self.pool.workers)()
        views = {w.id: WorkerView(w.id, w.model, frozenset(w.models) if w.models else None) for w in live}
        me = views.pop(worker.id, WorkerView(worker.id, worker.model))

        def urgent(item: QueueItem) -> bool:
            return item.priority == RETRY or now - self._jobs[item.job_id].created_at >= wait

        queue = self.settings.queue
        items = choose_batch(
            self.fair.order(),
            me,
            list(views.values()),
            urgent=urgent,
            batch_size=queue.batch_size,
            scan=queue.batch_window,
        )
        return self.fair.take(item.job_id for item in items) if items else []

    async def _claim(self, jobs: list[Job]) -> list[Job]:
        now = time.time()
        model = jobs[0].model_name or jobs[0].request.model if jobs else None
        attempts = await self.store.claim([job.id for job in jobs], started_at=now, model_name=model)
        return [
            job.replace(status=JobStatus.RUNNING, attempts=attempts[job.id], started_at=now)
            for job in jobs
            if job.id in attempts
        ]

    def _attempt(self, job: Job) -> int | None:
        return job.attempts if job.status is JobStatus.RUNNING else None

    async def _batch_started(self, started: BatchStarted) -> None:
        """The rows say running since the claim; the model's hash is new, the events go out."""
        flight = self._flights.get(started.batch_id)
        if flight is None:
            return
        flight.started = time.monotonic()
        for job_id in flight.jobs:
            current = self._jobs.get(job_id)
            if current is None or job_id not in flight.open:
                continue
            current = current.replace(model_name=started.model, model_hash=started.model_hash)
            self._jobs[job_id] = current
            self.hub.publish(JobEvent(job_id, EventKind.STARTED, eta=flight.estimate, job=current))

    async def _lost(self, batch_id: str, job_ids: Sequence[str]) -> None:
        again = []
        for job_id in job_ids:
            job = self._jobs.get(job_id)
            if job is None:
                continue
            if job.attempts >= MAX_ATTEMPTS:
                log.error("job %s lost its worker %d times; failing it", job_id, job.attempts)
                await self._finish_unsuccessful(
                    job, JobStatus.FAILED, Problem(WorkerProblem.WORKERS_LOST, attempts=job.attempts)
                )
            else:
                again.append(job_id)
        await super()._lost(batch_id, again)

    def _push_positions(self) -> None:
        """Bot processes get every position at once, in the snapshot, not one event per job that
        moved (that would be a NOTIFY for each job behind every job served)."""
        self.on_change()

    # -- what bot processes show --------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        waits = self._etas()
        return Snapshot(
            queue=tuple((item.job_id, waits.get(item.job_id, 0.0)) for item in self.fair.order()),
            running=tuple(job.id for job in self.running()),
            paused=self.paused,
            active_model=self.active_model,
            models=tuple(self.model_names()),
            workers=tuple(self.workers()),
            epoch=self.epoch,
        )


async def _first(*waits: Any) -> None:
    """Wait for the first of these to finish; the others are cancelled."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
