"""`ClusterService`: the job service's API in a bot process, with the work done by the cluster.

The bot drives it exactly like the one-machine JobService (it is one, minus the serving): it
writes each job and its quota reservation to PostgreSQL in one transaction (idempotent on a
submit key), announced to the dispatcher by a NOTIFY sent when that transaction commits; it hears
the dispatcher's events on the `events` channel and publishes them to its own subscribers (rows,
previews and the queue's snapshot read back from the tables); cancel, model switches and the pause
are calls to the dispatcher actor. It keeps nothing the cluster needs: the bot may be killed and
restarted at any time while the dispatcher and its workers go on.

NOTIFY is not durable, so every RECONCILE_SECONDS (and after the listening connection comes back)
the jobs this process waits on are looked up in the table: one that ended while its NOTIFY was
lost (a dispatcher killed between its commit and its notify, a dropped connection) is announced
from its row. Each job's end is published once. Queue positions come from the dispatcher's
snapshot: a POSITION event for each job whose place changed since the last one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from generation.cluster import runtime, wire
from generation.cluster.listen import Listener
from generation.cluster.wire import Snapshot
from generation.cluster.worker import RunnerSpec
from generation.jobs.artifacts import ArtifactStore, LocalArtifacts
from generation.jobs.estimates import estimate_units
from generation.jobs.events import Subscription
from generation.jobs.problems import Refusal, SubmitRefused
from generation.jobs.service import ACTIVE_MODEL_KEY, PAUSED_KEY, JobService
from generation.jobs.store.postgres import PostgresStore
from generation.jobs.types import EventKind, Job, JobEvent, JobOwner, JobStatus
from generation.problems import Problem
from generation.requests.request import GenerationRequest
from generation.settings import Settings
from generation.workers.protocol import Batch, BatchSink, ModelSwitchError, WorkerInfo, WorkerPool

log = logging.getLogger(__name__)

RECONCILE_SECONDS = 2.0
CALL_TIMEOUT = 60.0  # seconds for the dispatcher to answer (it may be restarting)
SEEN = 10_000  # job ends remembered, so none is published twice


class SnapshotPool(WorkerPool):
    """The dispatcher's workers as this process last heard of them; runs nothing itself."""

    def __init__(self) -> None:
        self.snapshot = Snapshot()

    async def start(self, sink: BatchSink) -> None:
        return None

    async def stop(self) -> None:
        return None

    def workers(self) -> list[WorkerInfo]:
        return list(self.snapshot.workers)

    async def wait_free(self) -> WorkerInfo | None:
        return None

    async def submit(self, worker_id: str, batch: Batch) -> None:
        raise RuntimeError("a bot process runs no batches: the dispatcher does")

    async def cancel(self, job_id: str) -> bool:
        return False

    async def switch_model(self, name: str, *, worker_id: str | None = None) -> str | None:
        raise RuntimeError("switch through ClusterService.switch_model")

    def model_names(self) -> list[str]:
        return list(self.snapshot.models)


class ClusterService(JobService):
    pool: SnapshotPool

    def __init__(self, settings: Settings, store: PostgresStore, artifacts: ArtifactStore) -> None:
        super().__init__(settings, store, SnapshotPool(), artifacts)
        self.store: PostgresStore = store
        self.dispatcher: Any = None
        self.runner: RunnerSpec | None = None
        self.owns_ray = False  # this process started the local Ray (and ends it)
        self._events_channel = runtime.channel(settings.cluster, "events")
        self._submit_channel = runtime.channel(settings.cluster, "submit")
        self._inbox: asyncio.Queue[str | None] = asyncio.Queue()
        self._listener = Listener(
            store.url, [self._events_channel], self._heard, on_reconnect=self._reconnected
        )
        self._waiting: set[str] = set()  # jobs not finished as far as this process knows
        self._ended: dict[str, None] = {}  # jobs whose end was published here
        self._rows: dict[str, Job] = {}  # rows of the jobs the snapshot lists (waiting, running)
        self._wants_previews = False
        self._tasks: list[asyncio.Task[Any]] = []

    # -- life cycle ---------------------------------------------------------------------------

    @classmethod
    async def open(  # type: ignore[override]
        cls,
        settings: Settings,
        *,
        runner: RunnerSpec | None = None,
        artifacts: ArtifactStore | None = None,
    ) -> ClusterService:
        """Join (or start) Ray, open the store, make sure the dispatcher runs (with workers
        building their runner from `runner`: default the real pipeline)."""
        import ray

        owns = not ray.is_initialized() and not settings.cluster.address
        runtime.connect(settings.cluster)  # starting a local Ray blocks for a few seconds
        store = await PostgresStore.open(settings.store.url)
        service = cls(settings, store, artifacts or LocalArtifacts(settings.paths.outputs_dir))
        service.owns_ray, service.runner = owns, runner
        from generation.cluster.dispatcher import ensure_dispatcher

        service.dispatcher = ensure_dispatcher(settings, runner)
        service.active_model = await store.state(ACTIVE_MODEL_KEY, service.active_model)
        service._paused = bool(await store.state(PAUSED_KEY, False))
        for request, seconds in await store.recent_done(settings.queue.eta_window):
            service.rates.add(seconds, estimate_units(request))
        await service._listener.start()
        await service._read_snapshot()
        return service

    async def start(self) -> None:
        """Hear the dispatcher's events; announce the jobs left unfinished as resumed (the bot
        adopts them, as after a restart of the one-machine service)."""
        if self._started:
            return
        self._started = True
        if self._wants_previews:
            await self._call("want_previews")
        await self._call("ready")
        self._tasks.append(asyncio.create_task(self._process(), name="cluster-events"))
        self._tasks.append(asyncio.create_task(self._reconcile_loop(), name="cluster-reconcile"))
        await self._read_snapshot()
        for job in await self.store.unfinished():
            self._waiting.add(job.id)
            where = self.position(job.id)
            self.hub.publish(
                JobEvent(
                    job.id, EventKind.RESUMED, position=where and where[0], eta=where and where[1], job=job
                )
            )

    async def close(self) -> None:
        """Stop listening; the cluster goes on (unless this process started it: then it stops,
        and what runs is queued again for the next start)."""
        if self._closing:
            return
        self._closing = True
        await self._listener.close()
        self._inbox.put_nowait(None)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.owns_ray:
            await self.shutdown_cluster()
        self.hub.close()
        await self.store.close()

    async def shutdown_cluster(self) -> None:
        """End the dispatcher and its workers (running jobs are queued again in the database)."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.dispatcher.shutdown.remote(), 60)
        if self.owns_ray:
            import ray

            ray.shutdown()

    async def _call(self, method: str, *args: Any, timeout: float = CALL_TIMEOUT) -> Any:
        """Call the dispatcher, waiting through a restart of its actor."""
        import ray.exceptions as rex

        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            try:
                remaining = max(0.1, deadline - time.monotonic())
                return await asyncio.wait_for(getattr(self.dispatcher, method).remote(*args), remaining)
            except (rex.ActorUnavailableError, rex.ActorDiedError) as exc:
                if time.monotonic() + delay > deadline:
                    raise TimeoutError(f"the dispatcher did not answer {method}") from exc
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    # -- submitting ---------------------------------------------------------------------------

    async def submit(
        self,
        request: GenerationRequest,
        owner: JobOwner,
        *,
        parent_id: str | None = None,
        meta: dict[str, Any] | None = None,
        key: str | None = None,
    ) -> Job:
        """As JobService.submit, written for the dispatcher: the job and its reservation in one
        transaction that also announces it. `key` (an interaction's id, say) makes a repeated
        submit return the job written the first time."""
        if self._closing:
            raise SubmitRefused(Refusal.CLOSING)
        if key is not None and (written := await self.store.job_for_key(key)) is not None:
            return written  # sent again: the job it wrote the first time, checked and reserved once
        request, priority, units = await self._checked_request(request, owner)
        async with self._submit_lock:
            limits = self.settings.queue
            mine, total = await self.store.queued_counts(owner.user_id)
            if mine >= limits.per_user:
                waiting = await self.store.user_jobs(
                    owner.user_id, limits.per_user, statuses=[JobStatus.QUEUED]
                )
                raise SubmitRefused(
                    Refusal.TOO_MANY_WAITING,
                    count=mine,
                    limit=limits.per_user,
                    waiting=[{"id": j.id, "prompt": j.request.prompt} for j in reversed(waiting)],
                )
            if total >= limits.total:
                first = min((eta for _, eta in self.pool.snapshot.queue), default=0.0)
                raise SubmitRefused(Refusal.QUEUE_FULL, count=total, limit=limits.total, next_start=first)
            job, estimate, reserve = await self._new_job(request, owner, priority, units, parent_id, meta)
            job = await self.store.submit_job(
                job,
                reserve_seconds=reserve,
                key=key,
                notify=self._submit_channel,
            )
        self._waiting.add(job.id)
        queue = self.pool.snapshot.queue
        eta = (queue[-1][1] if queue else 0.0) + estimate / max(1, len(self.pool.snapshot.workers))
        self.hub.publish(JobEvent(job.id, EventKind.QUEUED, position=len(queue) + 1, eta=eta, job=job))
        return job

    # -- cancelling ---------------------------------------------------------------------------

    async def cancel(self, job_id: str, *, by_user: int | None = None, admin: bool = False) -> bool:
        job = await self.store.get_job(job_id)
        if job is None or job.status.finished:
            return False
        if by_user is not None and not admin and job.owner.user_id != by_user:
            return False
        try:
            return bool(await self._call("cancel", job_id, by_user, admin, timeout=10.0))
        except TimeoutError:
            # the dispatcher is down: a waiting job can still be cancelled in the store (its
            # claim will then fail); a running one is its workers' to stop
            if job.status is JobStatus.QUEUED and await self.store.finish_unsuccessful(
                job_id, JobStatus.CANCELLED, finished_at=time.time()
            ):
                self._publish_end(JobEvent(job_id, EventKind.CANCELLED, job=await self.store.get_job(job_id)))
                return True
            return False

    # -- what the dispatcher says -------------------------------------------------------------

    def events(self, job_id: str | None = None, *, previews: bool = False) -> Subscription:
        """As JobService.events; one job's subscription starts with its state from the store (its
        end, when it is over: the subscription then holds just that)."""
        if previews and not self._wants_previews:
            self._wants_previews = True
            if self._started:
                asyncio.get_running_loop().create_task(self._call("want_previews"))
        backfill = None
        if job_id is not None:

            async def backfill() -> JobEvent | None:
                job = await self.store.get_job(job_id)
                if job is None:
                    return None
                if job.status.finished:
                    return JobEvent(job.id, EventKind(job.status.value), problem=job.error, job=job)
                self._waiting.add(job.id)
                if job.status is JobStatus.RUNNING:
                    return JobEvent(job.id, EventKind.STARTED, job=job)
                where = self.position(job.id)
                return JobEvent(
                    job.id, EventKind.POSITION, position=where and where[0], eta=where and where[1]
                )

        return self.hub.subscribe(job_id, previews=previews, backfill=backfill)

    def _heard(self, channel: str, payload: str) -> None:
        self._inbox.put_nowait(payload)

    def _reconnected(self) -> None:
        self._inbox.put_nowait('{"state":"reconnected"}')

    async def _process(self) -> None:
        """The dispatcher's notifications, in order: each becomes an event for this process's
        subscribers (its row and preview read back from the tables)."""
        while (payload := await self._inbox.get()) is not None:
            try:
                state = wire.is_state_payload(payload)
                if state == wire.SNAPSHOT_KEY:
                    await self._read_snapshot()
                elif state == "reconnected":
                    await self._read_snapshot()
                    await self._reconcile()
                elif state is None:
                    await self._relay(wire.event_from_payload(payload))
            except Exception:
                log.exception("could not handle the notification %.200s", payload)

    async def _relay(self, wired: wire.WireEvent) -> None:
        event = wired.event
        if event.job_id in self._ended:
            return  # its end was published: whatever comes later is stale
        if event.kind in wire.WITH_JOB:
            job = await self.store.get_job(event.job_id)
            if job is None:
                return
            event = JobEvent(
                event.job_id,
                event.kind,
                position=event.position,
                eta=event.eta,
                step=event.step,
                total=event.total,
                problem=job.error if event.terminal else event.problem,
                job=job,
            )
        elif wired.has_preview and self.hub.wants_previews({event.job_id}):
            preview = await self.store.preview(event.job_id)
            event = JobEvent(
                event.job_id, event.kind, eta=event.eta, step=event.step, total=event.total, preview=preview
            )
        if event.terminal:
            self._publish_end(event)
        else:
            self._waiting.add(event.job_id)
            self.hub.publish(event)

    def _publish_end(self, event: JobEvent) -> None:
        if event.job_id in self._ended:
            return
        self._ended[event.job_id] = None
        while len(self._ended) > SEEN:
            del self._ended[next(iter(self._ended))]
        self._waiting.discard(event.job_id)
        self._rows.pop(event.job_id, None)
        job = event.job
        if job is not None and job.status is JobStatus.DONE and job.gpu_seconds > 0:
            self.rates.add(job.gpu_seconds, estimate_units(job.request))
        self.hub.publish(event)

    async def _reconcile_loop(self) -> None:
        while True:
            await asyncio.sleep(RECONCILE_SECONDS)
            try:
                await self._reconcile()
            except Exception:
                log.exception("could not look up the jobs in flight")

    async def _reconcile(self) -> None:
        """Publish the end of jobs that ended while their NOTIFY was lost."""
        for job in await self.store.get_jobs(sorted(self._waiting)):
            if job.status.finished:
                self._publish_end(JobEvent(job.id, EventKind(job.status.value), problem=job.error, job=job))

    async def _read_snapshot(self) -> None:
        snapshot = Snapshot.from_dict(await self.store.state(wire.SNAPSHOT_KEY))
        if snapshot is None or snapshot.at < self.pool.snapshot.at:
            return
        self.pool.snapshot = snapshot
        self._paused = snapshot.paused
        if snapshot.active_model:
            self.active_model = snapshot.active_model
        for position, (job_id, eta) in enumerate(snapshot.queue, 1):  # the positions that moved
            if self._positions.get(job_id) != position and job_id not in self._ended:
                self._positions[job_id] = position
                self.hub.publish(JobEvent(job_id, EventKind.POSITION, position=position, eta=eta))
        waiting = {job_id for job_id, _ in snapshot.queue}
        for job_id in [j for j in self._positions if j not in waiting]:
            del self._positions[job_id]
        ids = [job_id for job_id, _ in snapshot.queue] + list(snapshot.running)
        missing = [job_id for job_id in ids if job_id not in self._rows]
        found = {job.id: job for job in await self.store.get_jobs(missing)} if missing else {}
        self._rows = {i: self._rows.get(i) or found[i] for i in ids if i in self._rows or i in found}

    # -- looking up ---------------------------------------------------------------------------

    def queue(self) -> list[Job]:
        """Waiting jobs in serving order, as of the dispatcher's latest snapshot."""
        return [self._rows[job_id] for job_id, _ in self.pool.snapshot.queue if job_id in self._rows]

    def running(self) -> list[Job]:
        return [self._rows[job_id] for job_id in self.pool.snapshot.running if job_id in self._rows]

    def position(self, job_id: str) -> tuple[int, float] | None:
        return self.pool.snapshot.position(job_id)

    # -- admin --------------------------------------------------------------------------------

    async def pause(self) -> None:
        await self._call("pause")
        self._paused = True

    async def resume(self) -> None:
        await self._call("resume")
        self._paused = False

    def _known_models(self) -> list[str] | None:
        return self.model_names() or None  # no snapshot yet: the worker will say

    async def switch_model(self, name: str) -> str:
        """Make `name` the default for new jobs once a worker has loaded and checked it (other
        workers load it when its jobs come to them). Raises ModelSwitchError."""
        names = self.model_names()
        if names and name not in names:
            raise ModelSwitchError(Refusal.UNKNOWN_MODEL, model=name, names=names)
        result = await self._call("switch_model", name, timeout=600.0)
        if "problem" in result:
            problem = Problem.from_dict(result["problem"])
            raise ModelSwitchError(problem.code, **problem.fields)
        self.active_model = result["model"]
        return self.active_model

    async def worker_stats(self) -> dict[str, Any]:
        return await self._call("worker_stats")
