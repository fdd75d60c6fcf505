"""The scheduler: the async API the Discord front end drives.

Jobs are rows in SQLite (generation.store), committed before `submit` returns, so an accepted job
is never lost; at `start` jobs left queued or running by an earlier process are queued again
(running ones restart from scratch) and announced as `resumed` events. Waiting jobs are served
from a fair per-user queue (generation.fairqueue) by one GPU worker (generation.worker) that
batches compatible text-to-image jobs. GPU time is budgeted per user per day (generation.quotas):
an estimate is reserved at submit, the measured time charged once when the job is done.

Torch-free at import time: the worker's default runner imports the model code lazily.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Any

from generation.jobs import quotas
from generation.jobs.events import EventHub, JobEvent, Subscription
from generation.jobs.fairqueue import NORMAL, PRIORITY, FairQueue, QueueItem, RateEstimator, estimate_units
from generation.jobs.fairqueue import etas as _etas
from generation.jobs.quotas import QuotaStatus
from generation.jobs.store.sqlite import SQLiteStore
from generation.jobs.types import Job, JobImage, JobOwner, JobStatus, new_job_id
from generation.requests.request import GenerationRequest
from generation.settings import Settings
from generation.workers.local import ModelSwitchError, PipelineRunner, Runner, Saved, Worker

__all__ = [
    "Job",
    "JobEvent",
    "JobImage",
    "JobOwner",
    "JobService",
    "JobStatus",
    "ModelSwitchError",
    "QuotaStatus",
    "SubmitRefused",
]

log = logging.getLogger(__name__)

ACTIVE_MODEL_KEY = "active_model"
PAUSED_KEY = "paused"  # an admin's pause outlasts a restart


class SubmitRefused(Exception):
    """The job was not accepted; str(exc) is the message for the user."""


class JobService:
    def __init__(self, settings: Settings, store: SQLiteStore, runner: Runner) -> None:
        self.settings = settings
        self.store = store
        self.runner = runner
        self.worker = Worker(runner)
        self.hub = EventHub()
        self.fair = FairQueue()
        self.rates = RateEstimator(settings.queue.eta_window, settings.queue.initial_step_seconds)
        self.active_model: str | None = settings.models.default or None
        self._jobs: dict[str, Job] = {}  # queued and running, by id
        self._items: dict[str, QueueItem] = {}
        self._running: list[Job] = []  # the batch the worker holds
        self._run_started = 0.0  # monotonic
        self._run_estimate = 0.0  # seconds
        self._progress: tuple[int, int, float] | None = None  # step, total, monotonic time of step 1
        self._positions: dict[str, int] = {}  # last position pushed per waiting job
        self._wake = asyncio.Event()
        self._submit_lock = asyncio.Lock()
        self._paused = False
        self._closing = False
        self._started = False
        self._task: asyncio.Task[None] | None = None

    # -- life cycle ---------------------------------------------------------------------------

    @classmethod
    async def open(cls, settings: Settings, *, runner: Runner | None = None) -> JobService:
        """Open (and migrate) the database; nothing runs until `start`."""
        store = await SQLiteStore.open(settings.paths.database)
        scheduler = cls(settings, store, runner or PipelineRunner(settings))
        scheduler.active_model = await store.state(ACTIVE_MODEL_KEY, scheduler.active_model)
        scheduler._paused = bool(await store.state(PAUSED_KEY, False))
        for request, seconds in await store.recent_done(settings.queue.eta_window):
            scheduler.rates.add(seconds, estimate_units(request))
        return scheduler

    async def start(self) -> None:
        """Queue again the jobs an earlier process left unfinished, then start the GPU loop."""
        if self._started:
            return
        self._started = True
        resumed = await self.store.requeue_unfinished()
        for job in resumed:
            self._enqueue(job)
        etas = self._etas()
        for i, job in enumerate(self.queue(), 1):
            self._positions[job.id] = i
        for job in resumed:
            self.hub.publish(
                JobEvent(
                    job.id, "resumed", position=self._positions.get(job.id), eta=etas.get(job.id), job=job
                )
            )
        self._task = asyncio.create_task(self._serve(), name="scheduler-gpu-loop")

    async def _serve(self) -> None:
        try:
            await self.worker.serve(self)
        except Exception:  # pragma: no cover - the worker catches job errors itself
            log.exception("the GPU loop stopped")
            raise

    async def close(self) -> None:
        """Stop the GPU loop (a running batch is interrupted and resumes at the next start)."""
        if self._closing:
            return
        self._closing = True
        self._wake.set()
        await self.worker.stop()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 60)
            except Exception:
                log.exception("the GPU loop did not stop cleanly")
        self.hub.close()
        await self.store.close()

    async def __aenter__(self) -> JobService:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- submitting ---------------------------------------------------------------------------

    async def submit(
        self,
        request: GenerationRequest,
        owner: JobOwner,
        *,
        parent_id: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Job:
        """Validate, check the limits and the quota, write the job and queue it.
        Raises SubmitRefused with a message for the user."""
        if self._closing:
            raise SubmitRefused("The bot is restarting; try again in a minute.")
        from generation.requests.validation import ValidationError, validate

        try:
            request = validate(request, self.settings)
        except ValidationError as exc:
            raise SubmitRefused(str(exc)) from exc  # the Problem, for front ends to word
        model = request.model or self.active_model
        if model is None:
            raise SubmitRefused("No model is set up yet; ask an admin to add one.")
        names = self._model_names_or_none()
        if names is not None and model not in names:
            listed = ", ".join(names) or "none"
            raise SubmitRefused(f"There is no model called {model}; the models are: {listed}.")
        request = request.resolve_seed().replace(model=model)
        roles = {str(r) for r in owner.role_ids}
        priority = PRIORITY if roles & set(self.settings.queue.priority_roles) else NORMAL
        item = QueueItem.for_request("", owner.user_id, request, priority=priority)

        async with self._submit_lock:
            limits = self.settings.queue
            waiting = [self._jobs[i.job_id] for i in self.fair.user_jobs(owner.user_id)]
            if len(waiting) >= limits.per_user:
                listed = "; ".join(f"`{j.id}` “{_clip(j.request.prompt)}”" for j in waiting)
                raise SubmitRefused(
                    f"You already have {len(waiting)} jobs waiting, the most one person can have queued "
                    f"(the limit is {limits.per_user}): {listed}. Wait for one to start, or cancel one."
                )
            if len(self.fair) >= limits.total:
                first = min(self._etas().values(), default=0.0)
                raise SubmitRefused(
                    f"The queue is full: {len(self.fair)} jobs are waiting, the most it holds "
                    f"(the limit is {limits.total}). Try again in a few minutes"
                    + (f" (the next job should start in about {_duration(first)})." if first > 0 else ".")
                )
            now = time.time()
            estimate = self.rates.seconds(item.units)
            quota = await self._quota(owner, now)
            refusal = quotas.refusal(quota, estimate, now)
            if refusal is not None:
                raise SubmitRefused(refusal)
            job = Job(
                id=new_job_id(),
                owner=owner,
                request=request,
                status=JobStatus.QUEUED,
                created_at=now,
                model_name=model,
                parent_id=parent_id,
                meta=dict(meta or {}),
                priority=priority,
            )
            job = await self.store.insert_job(job, reserve_seconds=0.0 if quota.unlimited else estimate)
            self._enqueue(job)
        where = self.position(job.id)
        self._positions[job.id] = where[0] if where else 0
        self.hub.publish(
            JobEvent(job.id, "queued", position=where and where[0], eta=where and where[1], job=job)
        )
        self._push_positions()
        self._wake.set()
        return job

    def _enqueue(self, job: Job) -> None:
        item = QueueItem.for_request(job.id, job.owner.user_id, job.request, priority=job.priority)
        item.model = job.model_name or job.request.model
        self._jobs[job.id] = job
        self._items[job.id] = item
        self.fair.push(item)

    # -- cancelling ---------------------------------------------------------------------------

    async def cancel(self, job_id: str, *, by_user: int | None = None, admin: bool = False) -> bool:
        """Cancel a waiting job at once or a running one within a step. False when the job is not
        waiting or running, or `by_user` is neither its owner nor an admin."""
        job = self._jobs.get(job_id)
        if job is None:
            return False
        if by_user is not None and not admin and job.owner.user_id != by_user:
            return False
        if job_id in self.fair:
            self.fair.remove(job_id)
            await self._finish_unsuccessful(job, JobStatus.CANCELLED, None)
            self._push_positions()
            return True
        return self.worker.cancel(job_id)

    # -- looking up ---------------------------------------------------------------------------

    def events(self, job_id: str | None = None, *, previews: bool = False) -> Subscription:
        """An async iterator of events: one job's (ending after its done/failed/cancelled; a job
        already finished gives that one event) or every job's (`None`). Previews (PNG bytes in
        progress events) only when asked for."""
        backfill = None
        if job_id is not None and job_id not in self._jobs:

            async def backfill() -> JobEvent | None:
                job = await self.store.get_job(job_id)
                if job is None:
                    return None
                if job.status is JobStatus.DONE:
                    return JobEvent(job.id, "done", job=job)
                if job.status.finished:
                    return JobEvent(job.id, job.status.value, message=job.error, job=job)
                return None

        return self.hub.subscribe(job_id, previews=previews, backfill=backfill)

    async def wait(self, job_id: str, timeout: float | None = None) -> Job | None:
        """The job once it is done, failed or cancelled (None: no such job, or the timeout)."""
        sub = self.events(job_id)
        async with sub:
            try:
                async with asyncio.timeout(timeout):
                    async for event in sub:
                        if event.terminal:
                            return event.job
            except TimeoutError:
                return None
        return await self.get_job(job_id)

    async def get_job(self, job_id: str) -> Job | None:
        job = self._jobs.get(job_id)
        if job is not None:
            return job
        return await self.store.get_job(job_id)

    async def user_jobs(self, user_id: int, limit: int = 10) -> list[Job]:
        """The user's latest jobs, newest first."""
        jobs = await self.store.user_jobs(user_id, limit)
        return [self._jobs.get(j.id, j) for j in jobs]

    async def finished_between(self, start: float, end: float) -> list[Job]:
        """Jobs that ended in [start, end) (wall-clock seconds), oldest first; a front end uses it
        after a restart to find results it never got to post."""
        return await self.store.finished_between(start, end)

    async def children(self, parent_id: str) -> list[Job]:
        """Jobs made from this one's buttons (upscales, variations, rerolls), oldest first."""
        return [self._jobs.get(j.id, j) for j in await self.store.children(parent_id)]

    def queue(self) -> list[Job]:
        """Waiting jobs in the order they would be served."""
        return [self._jobs[item.job_id] for item in self.fair.order()]

    def running(self) -> list[Job]:
        """The jobs of the batch the GPU is working on."""
        return [job for job in self._running if job.id in self._jobs]

    def position(self, job_id: str) -> tuple[int, float] | None:
        """(position, seconds until it starts) of a waiting job; 1 = next. None when not waiting."""
        if job_id not in self.fair:
            return None
        etas = self._etas()
        for i, item in enumerate(self.fair.order(), 1):
            if item.job_id == job_id:
                return i, etas[job_id]
        return None

    async def update_meta(self, job_id: str, **meta: Any) -> None:
        merged = await self.store.update_meta(job_id, meta)
        job = self._jobs.get(job_id)
        if merged is not None and job is not None:
            self._replace(job.replace(meta=merged))

    # -- admin --------------------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return self._paused

    async def pause(self) -> None:
        """Start no new batch (the running one finishes); submitting still works. Kept across restarts."""
        self._paused = True
        await self.store.set_state(PAUSED_KEY, True)

    async def resume(self) -> None:
        self._paused = False
        await self.store.set_state(PAUSED_KEY, False)
        self._wake.set()

    def model_names(self) -> list[str]:
        return self._model_names_or_none() or []

    @property
    def loaded_model(self) -> str | None:
        return self.worker.model_name

    async def switch_model(self, name: str) -> str:
        """Make `name` the model for new jobs: waits for the running batch, loads and checks it with
        a tiny generation, then frees the old one. Raises ModelSwitchError (the old one stays).
        Returns the model's name. Jobs already queued keep the model they were submitted for."""
        names = self._model_names_or_none()
        if names is not None and name not in names:
            raise ModelSwitchError(
                f"There is no model called {name}; the models are: {', '.join(names) or 'none'}."
            )
        await self.worker.switch_model(name)
        self.active_model = name
        await self.store.set_state(ACTIVE_MODEL_KEY, name)
        self._wake.set()
        return name

    async def quota_status(self, owner: JobOwner) -> QuotaStatus:
        return await self._quota(owner, time.time())

    async def grant_quota(self, user_id: int, seconds: float) -> None:
        """Extra GPU seconds for the user, for the current quota day."""
        now = time.time()
        await self.store.add_grant(
            user_id, quotas.day_key(now, self.settings.quota.reset_hour_utc), seconds, now
        )

    async def set_quota(self, user_id: int, seconds: float | None) -> None:
        """The user's own daily budget (math.inf: unlimited); None goes back to the configured one."""
        if seconds is None:
            await self.store.set_override(user_id, None, time.time(), remove=True)
        else:
            value = None if math.isinf(seconds) else max(0.0, float(seconds))
            await self.store.set_override(user_id, value, time.time(), remove=False)

    async def guild_setting(self, guild_id: int, key: str, default: Any = None) -> Any:
        return await self.store.guild_setting(guild_id, key, default)

    async def set_guild_setting(self, guild_id: int, key: str, value: Any) -> None:
        """Store a JSON value; None deletes the setting."""
        await self.store.set_guild_setting(guild_id, key, value)

    async def state(self, key: str, default: Any = None) -> Any:
        """A front end's own JSON value kept across restarts (the bot: its synced commands' hash)."""
        return await self.store.state(key, default)

    async def set_state(self, key: str, value: Any) -> None:
        await self.store.set_state(key, value)

    # -- the worker's side (worker.Host) ------------------------------------------------------

    async def next_batch(self, loaded_model: str | None) -> list[Job] | None:
        queue = self.settings.queue
        while True:
            if self._closing:
                return None
            if not self._paused and len(self.fair):
                items = self.fair.take_batch(
                    loaded_model=loaded_model or self.active_model,
                    batch_size=queue.batch_size,
                    scan=queue.batch_window,
                    patience=queue.model_patience,
                )
                jobs = []
                for item in items:
                    self._positions.pop(item.job_id, None)
                    job = self._replace(self._jobs[item.job_id].replace(status=JobStatus.RUNNING))
                    jobs.append(job)
                self._running = jobs
                self._run_started = time.monotonic()
                self._run_estimate = self.rates.seconds(sum(item.units for item in items))
                self._progress = None
                self._push_positions()
                return jobs
            self._wake.clear()
            await self._wake.wait()

    async def batch_started(self, jobs: list[Job], model_name: str, model_hash: str | None) -> None:
        now = time.time()
        self._run_started = time.monotonic()
        ids = []
        for job in jobs:
            current = self._jobs.get(job.id)
            if current is None:
                continue
            ids.append(job.id)
            current = self._replace(
                current.replace(
                    status=JobStatus.RUNNING,
                    started_at=now,
                    model_name=model_name,
                    model_hash=model_hash,
                    attempts=current.attempts + 1,
                )
            )
            self.hub.publish(JobEvent(job.id, "started", eta=self._run_estimate, job=current))
        await self.store.mark_running(ids, started_at=now, model_name=model_name, model_hash=model_hash)

    def batch_progress(self, jobs: list[Job], step: int, total: int, previews: list[bytes | None]) -> None:
        now = time.monotonic()
        self._progress = (step, total, now)
        eta = (now - self._run_started) / max(step, 1) * max(0, total - step)
        for job, preview in zip(jobs, previews, strict=False):
            if job.id in self._jobs:
                self.hub.publish(
                    JobEvent(job.id, "progress", step=step, total=total, eta=eta, preview=preview)
                )

    def want_preview(self, jobs: list[Job]) -> bool:
        return self.hub.wants_previews({job.id for job in jobs})

    def batch_measured(self, jobs: list[Job], seconds: float) -> None:
        self.rates.add(seconds, sum(self._items[j.id].units for j in jobs if j.id in self._items))

    async def job_done(self, job: Job, saved: Saved, seconds: float) -> None:
        current = self._jobs.get(job.id)
        if current is None:
            return
        now = time.time()
        images = tuple(
            JobImage(i, seed, path)
            for i, (path, seed) in enumerate(zip(saved.images, saved.seeds, strict=True))
        )
        await self.store.finish_done(
            job.id,
            finished_at=now,
            gpu_seconds=seconds,
            grid_path=saved.grid,
            images=images,
            charge_day=quotas.day_key(now, self.settings.quota.reset_hour_utc),
            model_hash=current.model_hash,
        )
        done = current.replace(
            status=JobStatus.DONE, finished_at=now, gpu_seconds=seconds, grid_path=saved.grid, images=images
        )
        self._forget(job.id)
        self.hub.publish(JobEvent(job.id, "done", job=done))
        self._push_positions()

    async def job_failed(self, job: Job, message: str) -> None:
        current = self._jobs.get(job.id)
        if current is not None:
            await self._finish_unsuccessful(current, JobStatus.FAILED, message)
            self._push_positions()

    async def job_cancelled(self, job: Job) -> None:
        current = self._jobs.get(job.id)
        if current is not None:
            await self._finish_unsuccessful(current, JobStatus.CANCELLED, None)
            self._push_positions()

    async def jobs_interrupted(self, jobs: list[Job]) -> None:
        """Closing: the jobs go back to queued in the database, to run again at the next start."""
        ids = [j.id for j in jobs if j.id in self._jobs]
        if ids:
            await self.store.mark_queued(ids)

    # -- helpers ------------------------------------------------------------------------------

    async def _finish_unsuccessful(self, job: Job, status: JobStatus, message: str | None) -> None:
        now = time.time()
        await self.store.finish_unsuccessful(job.id, status, finished_at=now, error=message)
        job = job.replace(status=status, finished_at=now, error=message)
        self._forget(job.id)
        self.hub.publish(JobEvent(job.id, status.value, message=message, job=job))

    def _replace(self, job: Job) -> Job:
        self._jobs[job.id] = job
        self._running = [job if j.id == job.id else j for j in self._running]
        return job

    def _forget(self, job_id: str) -> None:
        self._jobs.pop(job_id, None)
        self._items.pop(job_id, None)
        self._positions.pop(job_id, None)
        self._running = [j for j in self._running if j.id != job_id]

    def _busy_for(self) -> float:
        """Seconds until the running batch ends (an estimate)."""
        if not self._running:
            return 0.0
        elapsed = time.monotonic() - self._run_started
        if self._progress is not None:
            step, total, _ = self._progress
            if step > 0:
                return max(0.0, elapsed / step * (total - step))
        return max(0.0, self._run_estimate - elapsed)

    def _etas(self) -> dict[str, float]:
        return _etas(self.fair.order(), self.rates.rate, self._busy_for())

    def _push_positions(self) -> None:
        """`position` events for the waiting jobs whose place in the queue changed."""
        order = self.fair.order()
        if not order:
            return
        etas = None
        for i, item in enumerate(order, 1):
            if self._positions.get(item.job_id) != i:
                self._positions[item.job_id] = i
                if etas is None:
                    etas = _etas(order, self.rates.rate, self._busy_for())
                self.hub.publish(JobEvent(item.job_id, "position", position=i, eta=etas[item.job_id]))

    async def _quota(self, owner: JobOwner, now: float) -> QuotaStatus:
        settings = self.settings.quota
        day = quotas.day_key(now, settings.reset_hour_utc)
        used, reserved, granted, override, has_override = await self.store.quota_rows(owner.user_id, day)
        if has_override and override is None:
            override = quotas.UNLIMITED
        return quotas.status(
            settings,
            user_id=owner.user_id,
            role_ids=owner.role_ids,
            now=now,
            used=used,
            reserved=reserved,
            granted=granted,
            override=override,
        )

    def _model_names_or_none(self) -> list[str] | None:
        try:
            return list(self.runner.model_names())
        except Exception:  # the models folder unreadable: let loading report it
            log.exception("could not list the models")
            return None


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
