"""The job service: the async API the Discord front end drives.

Jobs are rows in the store (generation.jobs.store), committed before `submit` returns, so an
accepted job is never lost; at `start` jobs left queued or running by an earlier process are
queued again (running ones restart from scratch) and announced as `resumed` events. Waiting jobs
are served from a fair per-user queue (generation.jobs.fairqueue) by the workers of a `WorkerPool`
(generation.workers.protocol): whenever a worker is free it gets the next batch for the model it
has loaded, so with N workers N batches run side by side. The pool reports back; results come as
PNG bytes, which the service stores through an `ArtifactStore` (generation.jobs.artifacts) and
front ends read back with `read_artifact`. GPU time is budgeted per user per day
(generation.jobs.quotas): an estimate is reserved at submit, the measured time charged once when
the job is done. Refusals and failures are Problems (generation.problems) for a front end to word.

Torch-free at import time: the default pool and its runner are imported when `open` builds them.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any

from generation.jobs import quotas
from generation.jobs.artifacts import ArtifactStore, LocalArtifacts, grid_key, image_key, upload_key
from generation.jobs.batching import images_per_pass
from generation.jobs.estimates import RateEstimator, estimate_units, etas
from generation.jobs.events import EventHub, Subscription
from generation.jobs.fairqueue import NORMAL, PRIORITY, FairQueue, QueueItem
from generation.jobs.pending import PendingWrites, Write
from generation.jobs.problems import Refusal, StoreProblem, StoreWriteFailed, SubmitRefused
from generation.jobs.quotas import QuotaStatus
from generation.jobs.store import open_store
from generation.jobs.store.base import Store
from generation.jobs.types import EventKind, Job, JobEvent, JobImage, JobOwner, JobStatus, new_job_id
from generation.problems import Problem
from generation.requests.request import GenerationRequest, Mode
from generation.safety.check import ImageCheck, SafetyMode, mode_of
from generation.safety.checker import ImageChecker
from generation.safety.detector import Detector
from generation.settings import Settings
from generation.workers.protocol import (
    Batch,
    BatchJob,
    BatchProgress,
    BatchStarted,
    CallMeasured,
    JobFailed,
    JobResult,
    ModelSwitchError,
    WorkerInfo,
    WorkerPool,
    WorkerProblem,
    detail_of,
)

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
RECORD_RETRY_SECONDS = 5.0  # how often outcomes the database refused are written again
RETRY = PRIORITY - 1  # the queue class of jobs a lost worker dropped: served before everyone else


@dataclass
class _Flight:
    """A batch handed to a worker (or about to be), until each of its jobs has an outcome."""

    id: str
    worker_id: str
    model: str
    jobs: list[str]  # in batch order
    estimate: float  # seconds
    started: float = field(default_factory=time.monotonic)
    open: set[str] = field(default_factory=set)  # jobs without an outcome yet
    submitted: bool = False
    progress: tuple[int, int] | None = None  # step, total of the latest report


class JobService:
    def __init__(self, settings: Settings, store: Store, pool: WorkerPool, artifacts: ArtifactStore) -> None:
        self.settings = settings
        self.store = store
        self.pool = pool
        self.artifacts = artifacts
        self.hub = EventHub()
        self.fair = FairQueue()
        self.rates = RateEstimator(settings.queue.eta_window, settings.queue.initial_step_seconds)
        self.active_model: str | None = settings.models.default or None
        self._jobs: dict[str, Job] = {}  # queued and running, by id
        self._items: dict[str, QueueItem] = {}
        self._flights: dict[str, _Flight] = {}  # by batch id
        self._flight_of: dict[str, str] = {}  # job id -> batch id
        self._positions: dict[str, int] = {}  # last position pushed per waiting job
        self._wake = asyncio.Event()
        self._submit_lock = asyncio.Lock()
        self._paused = False
        self._closing = False
        self._started = False
        self._preflight: Any = None  # generation.models.preflight.Preflight, made when first needed
        self._task: asyncio.Task[None] | None = None
        # Outcomes the store refused to record (a full disk): the jobs left the running set and
        # their events went out; the rows are written when the store takes writes again.
        self._unrecorded: dict[str, Job] = {}
        self.pending = PendingWrites(RECORD_RETRY_SECONDS, on_recorded=self._recorded)
        # Each done job's images are classified here, on the checker's own thread, before the job
        # is announced (generation.safety); its detector loads on the first job that asks.
        self.image_checker = ImageChecker(settings.safety)

    # -- life cycle ---------------------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        settings: Settings,
        *,
        runner: Any = None,
        pool: WorkerPool | None = None,
        artifacts: ArtifactStore | None = None,
        store: Store | None = None,
    ) -> JobService:
        """Open (and migrate) the database; nothing runs until `start`. The workers are `pool`
        (built by `generation.workers.pools.build_pool`), or one local worker running `runner` (tests,
        benchmarks); results go to `artifacts` (default: files in `paths.outputs_dir`); the
        database is `store` (default: the configured one, generation.jobs.store.open_store), which
        the service closes, also when opening fails. Raises StoreOpenError when the database
        cannot be used."""
        if (pool is None) == (runner is None):
            raise ValueError("give a runner or a pool, one of them")
        if store is None:
            store = await open_store(settings)
        try:
            if pool is None:
                from generation.workers.local import LocalWorkerPool

                pool = LocalWorkerPool(runner, device=settings.models.device)
            service = cls(settings, store, pool, artifacts or LocalArtifacts(settings.paths.outputs_dir))
            service.active_model = await store.state(ACTIVE_MODEL_KEY, service.active_model)
            service._paused = bool(await store.state(PAUSED_KEY, False))
            for request, seconds in await store.recent_done(settings.queue.eta_window):
                service.rates.add(seconds, estimate_units(request))
        except BaseException:
            await store.close()  # an open store's thread would keep the process from exiting
            raise
        return service

    async def start(self) -> None:
        """Queue again the jobs an earlier process left unfinished, then start serving them."""
        if self._started:
            return
        self._started = True
        await self.pool.start(_Reports(self))
        resumed = await self.store.requeue_unfinished()
        for job in resumed:
            self._enqueue(job)
        waits = self._etas()
        for i, job in enumerate(self.queue(), 1):
            self._positions[job.id] = i
        for job in resumed:
            self.hub.publish(
                JobEvent(
                    job.id,
                    EventKind.RESUMED,
                    position=self._positions.get(job.id),
                    eta=waits.get(job.id),
                    job=job,
                )
            )
        self._task = asyncio.create_task(self._serve(), name="job-service-dispatch")

    async def close(self) -> None:
        """Stop the workers (running batches are interrupted and resume at the next start)."""
        if self._closing:
            return
        self._closing = True
        self._wake.set()
        if self._started:
            await self.pool.stop()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 60)
            except Exception:
                log.exception("the dispatch loop did not stop cleanly")
        self.hub.close()
        self.image_checker.close()
        await self.pending.close()
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
        key: str | None = None,  # the cluster's bot processes de-duplicate retried submits on it
    ) -> Job:
        """Validate, check the limits and the quota, write the job and queue it.
        Raises SubmitRefused (a Problem: a code and its fields)."""
        if self._closing:
            raise SubmitRefused(Refusal.CLOSING)
        request, priority, units = await self._checked_request(request, owner)
        async with self._submit_lock:
            limits = self.settings.queue
            waiting = [self._jobs[i.job_id] for i in self.fair.user_jobs(owner.user_id)]
            if len(waiting) >= limits.per_user:
                raise SubmitRefused(
                    Refusal.TOO_MANY_WAITING,
                    count=len(waiting),
                    limit=limits.per_user,
                    waiting=[{"id": j.id, "prompt": j.request.prompt} for j in waiting],
                )
            if len(self.fair) >= limits.total:
                first = min(self._etas().values(), default=0.0)
                raise SubmitRefused(
                    Refusal.QUEUE_FULL, count=len(self.fair), limit=limits.total, next_start=first
                )
            job, _, reserve = await self._new_job(request, owner, priority, units, parent_id, meta)
            try:
                job = await self.store.insert_job(job, reserve_seconds=reserve)
            except Exception as exc:  # a full disk: say so, rather than queue what a restart would lose
                log.warning("the database refused a new job: %s", exc)
                raise SubmitRefused(Refusal.STORE_UNAVAILABLE, detail=detail_of(exc)) from exc
            self._enqueue(job)
        where = self.position(job.id)
        self._positions[job.id] = where[0] if where else 0
        self.hub.publish(
            JobEvent(job.id, EventKind.QUEUED, position=where and where[0], eta=where and where[1], job=job)
        )
        self._push_positions()
        self._wake.set()
        return job

    async def _checked_request(
        self, request: GenerationRequest, owner: JobOwner
    ) -> tuple[GenerationRequest, int, float]:
        """The request as it will run (validated, its model and seed fixed, its add-ons there), its
        owner's priority class and its work units; raises SubmitRefused."""
        from generation.requests.validation import ValidationError, validate

        try:
            request = validate(request, self.settings)
        except ValidationError as exc:
            raise SubmitRefused(exc.code, **exc.fields) from exc  # the request's own problem
        model = request.model or self.active_model
        if model is None:
            raise SubmitRefused(Refusal.NO_MODEL)
        names = await asyncio.to_thread(self._known_models)  # the local registry lists its folders
        if names is not None and model not in names:
            raise SubmitRefused(Refusal.UNKNOWN_MODEL, model=model, names=names)
        request = request.resolve_seed().replace(model=model)
        await self.check_addons(request)
        roles = {str(r) for r in owner.role_ids}
        priority = PRIORITY if roles & set(self.settings.queue.priority_roles) else NORMAL
        return request, priority, estimate_units(request)

    def _known_models(self) -> list[str] | None:
        """The model names a request may ask for; None: not known (a request is not refused)."""
        return self._model_names_or_none()

    async def _new_job(
        self,
        request: GenerationRequest,
        owner: JobOwner,
        priority: int,
        units: float,
        parent_id: str | None,
        meta: dict[str, Any] | None,
    ) -> tuple[Job, float, float]:
        """The job to write, once its owner's quota allows its estimate: (job, estimated GPU
        seconds, seconds to reserve). Raises the quota's SubmitRefused."""
        now = time.time()
        estimate = self.rates.seconds(units)
        quota = await self._quota(owner, now)
        refusal = quotas.refusal(quota, estimate, now)
        if refusal is not None:
            raise refusal
        job = Job(
            id=new_job_id(),
            owner=owner,
            request=request,
            status=JobStatus.QUEUED,
            created_at=now,
            model_name=request.model,
            parent_id=parent_id,
            meta=dict(meta or {}),
            priority=priority,
        )
        return job, estimate, 0.0 if quota.unlimited else estimate

    # -- add-ons: checked before a job queues, listed for front ends -------------------------------

    @property
    def preflight(self) -> Any:
        """The add-on folders and the registry, read without torch (generation.models.preflight)."""
        if self._preflight is None:
            from generation.models.preflight import Preflight

            self._preflight = Preflight(self.settings)
        return self._preflight

    async def check_addons(self, request: GenerationRequest) -> None:
        """Refuse (SubmitRefused with the worker's code: `lora.unknown` with the closest names,
        `lora.wrong_arch`, `vae.unknown`, ...) the LoRAs and VAE the files say the request's model
        cannot use, before it waits in the queue; what only loading tells, the worker reports."""
        if not any(request.lora_sets) and request.vae is None:
            return
        try:
            await asyncio.to_thread(self.preflight.check, request)
        except Problem as problem:
            raise SubmitRefused(problem.code, **problem.fields) from None
        except OSError as exc:  # an unreadable folder: the worker says what it finds
            log.warning("could not check the add-ons of a request: %s", exc)

    async def loras(self, model: str | None = None) -> list[Any]:
        """The LoRA files (`AddonListing`: name, arch, whether it fits `model`), by name."""
        return await asyncio.to_thread(self.preflight.loras, model)

    async def embeddings(self, model: str | None = None) -> list[Any]:
        """The embedding files (`AddonListing`), by name, and whether each fits `model`."""
        return await asyncio.to_thread(self.preflight.embeddings, model)

    def _enqueue(self, job: Job, *, priority: int | None = None) -> None:
        priority = job.priority if priority is None else priority
        item = QueueItem.for_request(job.id, job.owner.user_id, job.request, priority=priority)
        item.model = job.model_name or job.request.model
        self._jobs[job.id] = job
        self._items[job.id] = item
        self.fair.push(item)

    async def put_upload(self, data: bytes) -> str:
        """Store an uploaded image (encoded bytes); the key to use as a request's `source_image`.
        Raises StoreWriteFailed when the artifact store refuses it."""
        key = upload_key()
        await self._write(self.artifacts.put(key, data))  # a full disk: StoreWriteFailed
        return key

    async def read_artifact(self, key: str) -> bytes:
        """The bytes of a result image, a grid or an upload (raises ArtifactNotFound)."""
        return await self.artifacts.get(key)

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
        flight = self._flights.get(self._flight_of.get(job_id, ""))
        if flight is not None and not flight.submitted:  # its batch is still being put together
            await self._finish_unsuccessful(job, JobStatus.CANCELLED, None)
            return True
        return await self.pool.cancel(job_id)

    # -- looking up ---------------------------------------------------------------------------

    def events(self, job_id: str | None = None, *, previews: bool = False) -> Subscription:
        """An async iterator of events: one job's (ending after its done/failed/cancelled; a job
        already finished gives that one event) or every job's (`None`). Previews (PNG bytes in
        progress events) only when asked for."""
        backfill = None
        if job_id is not None and job_id not in self._jobs:

            async def backfill() -> JobEvent | None:
                job = self._unrecorded.get(job_id) or await self.store.get_job(job_id)
                if job is None or not job.status.finished:
                    return None
                return JobEvent(job.id, EventKind(job.status.value), problem=job.error, job=job)

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
        job = self._jobs.get(job_id) or self._unrecorded.get(job_id)
        if job is not None:
            return job
        return await self.store.get_job(job_id)

    async def user_jobs(self, user_id: int, limit: int = 10) -> list[Job]:
        """The user's latest jobs, newest first."""
        jobs = await self.store.user_jobs(user_id, limit)
        return [self._jobs.get(j.id) or self._unrecorded.get(j.id) or j for j in jobs]

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
        """The jobs of the batches the workers hold (started, not finished yet)."""
        return [self._jobs[j] for f in self._flights.values() for j in f.jobs if j in self._jobs]

    def position(self, job_id: str) -> tuple[int, float] | None:
        """(position, seconds until it starts) of a waiting job; 1 = next. None when not waiting."""
        if job_id not in self.fair:
            return None
        waits = self._etas()
        for i, item in enumerate(self.fair.order(), 1):
            if item.job_id == job_id:
                return i, waits[job_id]
        return None

    async def update_meta(self, job_id: str, **meta: Any) -> None:
        """Merge `meta` into the job's (written later if the store refuses it now)."""
        job = self._jobs.get(job_id) or self._unrecorded.get(job_id)
        if job is not None:
            job = job.replace(meta={**job.meta, **meta})
            (self._jobs if job_id in self._jobs else self._unrecorded)[job_id] = job
        await self.pending.write(
            job_id, f"the meta of job {job_id}", lambda: self.store.update_meta(job_id, meta)
        )

    # -- admin --------------------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return self._paused

    async def pause(self) -> None:
        """Start no new batch (running ones finish); submitting still works. Kept across restarts.
        Raises StoreWriteFailed (and stays as it was) when the store refuses the write."""
        await self._write(self.store.set_state(PAUSED_KEY, True))
        self._paused = True

    async def resume(self) -> None:
        await self._write(self.store.set_state(PAUSED_KEY, False))
        self._paused = False
        self._wake.set()

    def model_names(self) -> list[str]:
        return self._model_names_or_none() or []

    def workers(self) -> list[WorkerInfo]:
        return self.pool.workers()

    @property
    def loaded_model(self) -> str | None:
        """The active model if a worker has it loaded, else the first worker's model."""
        loaded = [name for name in self.pool.loaded_models().values() if name is not None]
        if self.active_model in loaded:
            return self.active_model
        return loaded[0] if loaded else None

    async def switch_model(self, name: str) -> str:
        """Make `name` the model for new jobs: each worker waits for its running batch, loads and
        checks it with a tiny generation, then frees the old one. Raises ModelSwitchError (the old
        one stays). Returns the model's name. Jobs already queued keep the model they were
        submitted for."""
        names = self._model_names_or_none()
        if names is not None and name not in names:
            raise ModelSwitchError(Refusal.UNKNOWN_MODEL, model=name, names=names)
        await self.pool.switch_model(name)
        self.active_model = name
        try:
            await self.store.set_state(ACTIVE_MODEL_KEY, name)
        except Exception as exc:  # switched all the same; a restart goes back to the last one saved
            log.warning("the database refused to record the active model %s: %s", name, exc)
        self._wake.set()
        return name

    async def quota_status(self, owner: JobOwner) -> QuotaStatus:
        return await self._quota(owner, time.time())

    async def grant_quota(self, user_id: int, seconds: float) -> None:
        """Extra GPU seconds for the user, for the current quota day."""
        now = time.time()
        day = quotas.day_key(now, self.settings.quota.reset_hour_utc)
        await self._write(self.store.add_grant(user_id, day, seconds, now))

    async def set_quota(self, user_id: int, seconds: float | None) -> None:
        """The user's own daily budget (math.inf: unlimited); None goes back to the configured one."""
        if seconds is None:
            await self._write(self.store.set_override(user_id, None, time.time(), remove=True))
        else:
            value = None if math.isinf(seconds) else max(0.0, float(seconds))
            await self._write(self.store.set_override(user_id, value, time.time(), remove=False))

    async def guild_setting(self, guild_id: int, key: str, default: Any = None) -> Any:
        return await self.store.guild_setting(guild_id, key, default)

    async def set_guild_setting(self, guild_id: int, key: str, value: Any) -> None:
        """Store a JSON value; None deletes the setting. Raises StoreWriteFailed."""
        await self._write(self.store.set_guild_setting(guild_id, key, value))

    async def user_settings(self, user_id: int) -> dict[str, Any]:
        """A user's own settings as a front end stored them (empty: none)."""
        return await self.store.user_settings(user_id)

    async def set_user_settings(self, user_id: int, values: dict[str, Any]) -> None:
        """Replace a user's settings (a JSON object); an empty one deletes them. Raises
        StoreWriteFailed."""
        await self._write(self.store.set_user_settings(user_id, dict(values), time.time()))

    async def state(self, key: str, default: Any = None) -> Any:
        """A front end's own JSON value kept across restarts (the bot: its synced commands' hash)."""
        return await self.store.state(key, default)

    async def set_state(self, key: str, value: Any) -> None:
        await self._write(self.store.set_state(key, value))

    # -- dispatching --------------------------------------------------------------------------

    async def _serve(self) -> None:
        """Hand each free worker the next batch while jobs wait."""
        try:
            while not self._closing:
                if self._paused or not len(self.fair):
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                worker = self._pick_worker(self.pool.free_workers())
                if worker is None:
                    await self.pool.wait_free()
                    continue
                await self._dispatch(worker)
        except Exception:  # pragma: no cover - job errors are caught where they happen
            log.exception("the dispatch loop stopped")
            raise

    def _pick_worker(self, free: Sequence[WorkerInfo]) -> WorkerInfo | None:
        """The free worker for the next job: one with its model loaded, else an empty one."""
        if not free:
            return None
        head = self.fair.peek()
        model = head.model if head is not None else None
        for worker in free:
            if worker.model == model:
                return worker
        for worker in free:
            if worker.model is None:
                return worker
        return free[0]

    def _plan_batch(self, worker: WorkerInfo) -> list[QueueItem]:
        """Take the next batch for `worker` from the fair queue (the cluster's dispatcher prefers
        the jobs of the model the worker holds: generation.cluster.service)."""
        queue = self.settings.queue
        return self.fair.take_batch(
            loaded_model=worker.model or self.active_model,
            batch_size=self._images_per_pass,
            scan=queue.batch_window,
            patience=queue.model_patience,
        )

    async def _claim(self, jobs: list[Job]) -> list[Job]:
        """The batch's jobs that may run, marked running (here: all; nothing else writes the
        store. The cluster's dispatcher claims them in the shared database first)."""
        return [job.replace(status=JobStatus.RUNNING) for job in jobs]

    def _attempt(self, job: Job) -> int | None:
        """The attempt a finish must still be the latest of (None: no such guard; the cluster's
        dispatcher guards against late attempts of requeued jobs)."""
        return None

    async def _dispatch(self, worker: WorkerInfo) -> None:
        items = self._plan_batch(worker)
        if not items:
            return
        for item in items:
            self._positions.pop(item.job_id, None)
        jobs = await self._claim([self._jobs[item.job_id] for item in items])
        for job in jobs:
            self._jobs[job.id] = job
        claimed = {job.id for job in jobs}
        for item in items:
            if item.job_id not in claimed:  # finished elsewhere meanwhile (the cluster's store)
                self._forget(item.job_id)
        items = [item for item in items if item.job_id in claimed]
        if not jobs:
            self._push_positions()
            return
        flight = _Flight(
            id=new_job_id(),
            worker_id=worker.id,
            model=jobs[0].model_name or jobs[0].request.model or "",
            jobs=[job.id for job in jobs],
            estimate=self.rates.seconds(sum(item.units for item in items)),
        )
        flight.open = set(flight.jobs)
        self._flights[flight.id] = flight
        for job in jobs:
            self._flight_of[job.id] = flight.id
        self._push_positions()
        batch = await self._batch_of(flight, jobs)
        if batch is None:
            return
        flight.submitted = True
        try:
            await self.pool.submit(worker.id, batch)
        except Exception:  # a bug: the jobs must not hang, and the other workers go on
            log.exception("could not hand batch %s to worker %s", batch.id, worker.id)
            for job_id in batch.job_ids:
                await self._failed(job_id, Problem(WorkerProblem.INTERNAL))

    def _images_per_pass(self, lead: QueueItem) -> int:
        """The GPU batch for a pass led by this job: sized by its pixels (issue 14)."""
        request = self._jobs[lead.job_id].request
        return images_per_pass(self.settings, request.width, request.height)

    async def _batch_of(self, flight: _Flight, jobs: list[Job]) -> Batch | None:
        """The batch to send: the jobs with their source images (and inpaint masks) as bytes
        (workers read no files). A job whose source or mask cannot be read fails here."""
        entries = []
        for job in jobs:
            source = None
            if job.request.mode is not Mode.TXT2IMG and job.request.source_image:
                try:
                    source = await self.artifacts.get(job.request.source_image)
                except Exception as exc:
                    problem = Problem(WorkerProblem.SOURCE_UNREADABLE, detail=detail_of(exc))
                    await self._failed(job.id, problem)
                    continue
            try:
                mask = await self._mask_of(job.request)
            except Exception as exc:
                await self._failed(job.id, Problem(WorkerProblem.MASK_UNREADABLE, detail=detail_of(exc)))
                continue
            if job.id in flight.open:  # not cancelled meanwhile
                entries.append(BatchJob(job.id, job.request, source, mask))
        if not entries:
            return None
        ids = {entry.job_id for entry in entries}
        return Batch(flight.id, flight.model, tuple(entries), previews=self.hub.wants_previews(ids))

    async def _mask_of(self, request: GenerationRequest) -> bytes | None:
        """An inpaint's mask, read from its artifact key (an upload: `put_upload`) like the source."""
        if request.mode is not Mode.INPAINT or request.edit is None or not request.edit.mask:
            return None
        return await self.artifacts.get(request.edit.mask)

    # -- what the workers report (through _Reports) -------------------------------------------

    async def _batch_started(self, started: BatchStarted) -> None:
        flight = self._flights.get(started.batch_id)
        if flight is None:
            return
        now = time.time()
        flight.started = time.monotonic()
        ids = []
        for job_id in flight.jobs:
            current = self._jobs.get(job_id)
            if current is None:
                continue
            ids.append(job_id)
            current = current.replace(
                status=JobStatus.RUNNING,
                started_at=now,
                model_name=started.model,
                model_hash=started.model_hash,
                attempts=current.attempts + 1,
            )
            self._jobs[job_id] = current
            self.hub.publish(JobEvent(job_id, EventKind.STARTED, eta=flight.estimate, job=current))
        try:
            await self.store.mark_running(
                ids, started_at=now, model_name=started.model, model_hash=started.model_hash
            )
        except Exception as exc:  # the rows stay queued; the outcome is written over them all the same
            log.warning("the database refused to mark %s running: %s", ids, exc)

    def _batch_progress(self, progress: BatchProgress) -> None:
        flight = self._flights.get(progress.batch_id)
        if flight is None:
            return
        step, total = progress.step, progress.total
        flight.progress = (step, total)
        eta = (time.monotonic() - flight.started) / max(step, 1) * max(0, total - step)
        previews = progress.previews or (None,) * len(progress.job_ids)
        for job_id, preview in zip(progress.job_ids, previews, strict=False):
            if job_id in self._jobs:
                self.hub.publish(
                    JobEvent(job_id, EventKind.PROGRESS, step=step, total=total, eta=eta, preview=preview)
                )

    def _call_measured(self, measured: CallMeasured) -> None:
        self.rates.add(
            measured.seconds, sum(self._items[j].units for j in measured.job_ids if j in self._items)
        )

    async def _job_done(self, result: JobResult) -> None:
        current = self._jobs.get(result.job_id)
        if current is None:
            return
        check = await self._check_images(current, result)
        current = self._jobs.get(result.job_id)
        if current is None:  # it left meanwhile (its worker was lost and it runs again, or it was cancelled)
            return
        images = tuple(
            JobImage(i, image.seed, image_key(current.id, i)) for i, image in enumerate(result.images)
        )
        grid = None if result.grid is None else grid_key(current.id)
        writes = [
            self.artifacts.put(image.key, data.png) for image, data in zip(images, result.images, strict=True)
        ]
        if result.grid is not None and grid is not None:
            writes.append(self.artifacts.put(grid, result.grid))
        try:
            await asyncio.gather(*writes)
        except Exception as exc:
            log.error("storing the images of %s failed", current.id, exc_info=exc)
            await self._failed(current.id, Problem(WorkerProblem.NOT_SAVED, detail=detail_of(exc)))
            return
        now = time.time()
        done = current.replace(
            status=JobStatus.DONE,
            finished_at=now,
            gpu_seconds=result.gpu_seconds,
            grid_key=grid,
            images=images,
            image_check=check,
            applied=result.applied,
        )
        charge_day = quotas.day_key(now, self.settings.quota.reset_hour_utc)
        recorded = await self._record_outcome(
            done,
            lambda: self.store.finish_done(
                current.id,
                finished_at=now,
                gpu_seconds=result.gpu_seconds,
                grid_key=grid,
                images=images,
                charge_day=charge_day,
                model_hash=current.model_hash,
                attempt=self._attempt(current),
                image_check=check,
                applied=result.applied,
            ),
        )
        self._forget(current.id)
        if recorded:  # else another attempt or process finished it: its outcome stands
            self.hub.publish(JobEvent(current.id, EventKind.DONE, job=done))
        self._push_positions()

    async def _check_images(self, job: Job, result: JobResult) -> ImageCheck | None:
        """The image check the job's meta asks for (None: none), run on the checker's thread; a
        detector failure gives a check that flags every image, so the job is never lost."""
        mode = mode_of(job.meta)
        if mode is SafetyMode.OFF or not result.images:
            return None
        check = await self.image_checker.check(mode, [image.png for image in result.images])
        if check.failed:
            log.warning(
                "job %s: the image check failed (%s); under %s its images count as flagged",
                job.id,
                check.error,
                mode,
            )
        return check

    def use_detector(self, detector: Detector) -> None:
        """Classify images with `detector` from now on (tests inject one; the default is NudeNet)."""
        self.image_checker.close()
        self.image_checker = ImageChecker(self.settings.safety, detector)

    async def _failed(self, job_id: str, problem: Problem) -> None:
        current = self._jobs.get(job_id)
        if current is not None:
            await self._finish_unsuccessful(current, JobStatus.FAILED, problem)
            self._push_positions()

    async def _cancelled(self, job_id: str) -> None:
        current = self._jobs.get(job_id)
        if current is not None:
            await self._finish_unsuccessful(current, JobStatus.CANCELLED, None)
            self._push_positions()

    async def _lost(self, batch_id: str, job_ids: Sequence[str]) -> None:
        """A worker died holding these jobs: they go back to the front of the queue and run again
        (the store's attempt guard discards what the lost attempt might still report)."""
        ids = [j for j in job_ids if j in self._jobs]
        if not ids:
            return
        await self.store.mark_queued(ids)
        for job_id in ids:
            self._leave_flight(job_id)
            self._items.pop(job_id, None)
            job = self._jobs[job_id].replace(status=JobStatus.QUEUED, started_at=None)
            self._enqueue(job, priority=RETRY)
        log.warning("batch %s was lost with its worker; %d jobs queued again", batch_id, len(ids))
        self._push_positions()
        self._wake.set()

    async def _interrupted(self, batch_id: str, job_ids: Sequence[str]) -> None:
        """The pool stops: the jobs go back to queued in the database, to run again at the next start."""
        ids = [j for j in job_ids if j in self._jobs]
        if ids:
            try:
                await self.store.mark_queued(ids)
            except Exception as exc:  # left running: the next start queues running jobs again anyway
                log.warning("the database refused to put %s back in the queue: %s", ids, exc)
        for job_id in ids:
            self._leave_flight(job_id)

    # -- helpers ------------------------------------------------------------------------------

    async def _finish_unsuccessful(self, job: Job, status: JobStatus, problem: Problem | None) -> None:
        now = time.time()
        job = job.replace(status=status, finished_at=now, error=problem)
        recorded = await self._record_outcome(
            job,
            lambda: self.store.finish_unsuccessful(
                job.id, status, finished_at=now, error=problem, attempt=self._attempt(job)
            ),
        )
        self._forget(job.id)
        if recorded:  # else finished already (elsewhere): announced by whoever finished it
            self.hub.publish(JobEvent(job.id, EventKind(status.value), problem=problem, job=job))

    async def _record_outcome(self, job: Job, write: Write) -> bool:
        """Write a finished job's row; when the store refuses (a full disk), the job still leaves
        the running set and its event goes out (the caller's next steps), and the row is written
        when the store takes writes again. The writes are idempotent: nothing is charged twice.
        False when the store says the job was finished already (a later attempt of it, another
        process): nothing is announced then."""
        landed: list[bool] = []

        async def record() -> None:
            landed.append(bool(await write()))

        if not await self.pending.write(job.id, f"the outcome of job {job.id} ({job.status})", record):
            self._unrecorded[job.id] = job
            return True  # announced now, written when the store takes it
        return landed[-1]

    def _recorded(self, job_id: str) -> None:
        """Every write of the job went through at last."""
        self._unrecorded.pop(job_id, None)

    async def _write(self, write: Awaitable[Any]) -> None:
        """An admin's or a front end's write: refused by the store, it raises StoreWriteFailed."""
        try:
            await write
        except Exception as exc:
            log.warning("the database refused a write: %s", exc)
            raise StoreWriteFailed(StoreProblem.WRITE_FAILED, detail=detail_of(exc)) from exc

    def _forget(self, job_id: str) -> None:
        self._jobs.pop(job_id, None)
        self._items.pop(job_id, None)
        self._positions.pop(job_id, None)
        self._leave_flight(job_id)

    def _leave_flight(self, job_id: str) -> None:
        flight = self._flights.get(self._flight_of.pop(job_id, ""))
        if flight is not None:
            flight.open.discard(job_id)
            if not flight.open:
                del self._flights[flight.id]

    def _busy_for(self) -> list[float]:
        """Seconds until each worker is free (estimates): what its batch has left."""
        now = time.monotonic()
        busy = {worker.id: 0.0 for worker in self.pool.workers() if not worker.free}
        for flight in self._flights.values():
            if flight.worker_id in busy:
                busy[flight.worker_id] = max(busy[flight.worker_id], _remaining(flight, now))
        return list(busy.values()) + [0.0] * (self.pool.capacity - len(busy))

    def _etas(self) -> dict[str, float]:
        return etas(self.fair.order(), self.rates.rate, self._busy_for())

    def _push_positions(self) -> None:
        """`position` events for the waiting jobs whose place in the queue changed."""
        order = self.fair.order()
        if not order:
            return
        waits = None
        for i, item in enumerate(order, 1):
            if self._positions.get(item.job_id) != i:
                self._positions[item.job_id] = i
                if waits is None:
                    waits = etas(order, self.rates.rate, self._busy_for())
                self.hub.publish(
                    JobEvent(item.job_id, EventKind.POSITION, position=i, eta=waits[item.job_id])
                )

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
            return list(self.pool.model_names())
        except Exception:  # the models folder unreadable: let loading report it
            log.exception("could not list the models")
            return None


class _Reports:
    """The service as the pool's BatchSink (kept off the service's public API)."""

    def __init__(self, service: JobService) -> None:
        self._service = service

    async def batch_started(self, started: BatchStarted) -> None:
        await self._service._batch_started(started)

    def batch_progress(self, progress: BatchProgress) -> None:
        self._service._batch_progress(progress)

    def call_measured(self, measured: CallMeasured) -> None:
        self._service._call_measured(measured)

    async def job_done(self, result: JobResult) -> None:
        await self._service._job_done(result)

    async def job_failed(self, failed: JobFailed) -> None:
        await self._service._failed(failed.job_id, failed.problem)

    async def job_cancelled(self, batch_id: str, job_id: str) -> None:
        await self._service._cancelled(job_id)

    async def batch_interrupted(self, batch_id: str, job_ids: Sequence[str]) -> None:
        await self._service._interrupted(batch_id, job_ids)

    async def batch_lost(self, batch_id: str, job_ids: Sequence[str]) -> None:
        await self._service._lost(batch_id, job_ids)


def _remaining(flight: _Flight, now: float) -> float:
    """Seconds until the flight's batch ends (an estimate): from its progress, else its estimate."""
    elapsed = now - flight.started
    if flight.progress is not None:
        step, total = flight.progress
        if step > 0:
            return max(0.0, elapsed / step * (total - step))
    return max(0.0, flight.estimate - elapsed)
