"""The dispatcher: one named, detached Ray actor running the cluster's job service.

It boots by itself (in its constructor's event loop), and again whenever Ray restarts it after a
death: it opens the PostgreSQL store, queues again everything unfinished (jobs a dead dispatcher
left running go first), takes the worker actors over (they keep their models) and serves. Nothing
it holds is needed by anyone after it dies: the queue is rebuilt from the jobs table, and its
workers' batches in flight are cancelled and run again (the attempt guard keeps a late result from
counting twice).

Around the job service (generation.cluster.service.DispatchService) it runs:
  - intake: LISTEN on the `submit` channel (bot processes announce each job they write) plus a
    sweep of the table every SWEEP_SECONDS for what a dropped connection missed;
  - the relay: every job event out as a NOTIFY on the `events` channel (previews into the
    previews table first), and the snapshot of the queue and the workers into the state table
    (at most SNAPSHOT_EVERY; it carries the queue positions, so a job served does not cost a
    NOTIFY for each job behind it);
  - the calls bot processes make through Ray: cancel, switch the model, pause, resume.
The dispatcher sits on the bot's node (the artifact folder is there, and so is PostgreSQL's
client); workers may be anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from typing import Any

from generation.cluster import runtime, wire
from generation.cluster.listen import Listener
from generation.cluster.pool import RayWorkerPool
from generation.cluster.service import DispatchService
from generation.cluster.worker import RunnerSpec
from generation.jobs.artifacts import LocalArtifacts
from generation.jobs.events import Subscription
from generation.jobs.store.postgres import PostgresStore
from generation.jobs.types import EventKind
from generation.problems import Problem
from generation.settings import Settings

log = logging.getLogger(__name__)

SWEEP_SECONDS = 2.0  # how often the jobs table is read for queued jobs no NOTIFY announced
SNAPSHOT_EVERY = 0.1  # seconds between two snapshots at most
BOOT_RETRY = 2.0  # seconds between tries to boot (PostgreSQL not up yet, say)
SNAPSHOT_EVENTS = frozenset(EventKind) - {EventKind.PROGRESS}  # the events that change the queue


class Dispatcher:
    """The actor (made remote by `ensure_dispatcher`)."""

    def __init__(self, settings: Settings, runner: RunnerSpec | None = None) -> None:
        logging.basicConfig(level=logging.INFO)
        self.settings = settings
        self.runner = runner
        self.epoch = uuid.uuid4().hex[:12]
        self.events_channel = runtime.channel(settings.cluster, "events")
        self.submit_channel = runtime.channel(settings.cluster, "submit")
        self.service: DispatchService | None = None
        self.store: PostgresStore | None = None
        self.pool: RayWorkerPool | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._relay_sub: Subscription | None = None
        self._dirty = asyncio.Event()
        self._heard: set[str] = set()
        self._heard_event = asyncio.Event()
        self._previews = False
        self._booted = asyncio.get_running_loop().create_task(self._boot(), name="dispatcher-boot")

    # -- booting ------------------------------------------------------------------------------

    async def _boot(self) -> None:
        while True:
            try:
                await self._start()
                return
            except Exception:
                log.exception("the dispatcher could not start; trying again")
                await self._teardown()
                await asyncio.sleep(BOOT_RETRY)

    async def _start(self) -> None:
        started = time.monotonic()
        self.store = await PostgresStore.open(self.settings.store.url)
        self.pool = RayWorkerPool(
            self.settings, runner=self.runner, epoch=self.epoch, on_change=self._changed
        )
        self.service = await DispatchService.open(
            self.settings,
            pool=self.pool,
            store=self.store,
            artifacts=LocalArtifacts(self.settings.paths.outputs_dir),
        )
        self.service.epoch = self.epoch
        self.service.on_change = self._dirty.set
        self._previews = bool(await self.store.state(wire.PREVIEWS_KEY, False))
        self._relay_sub = self.service.events(None, previews=self._previews)  # RESUMED events too
        self._tasks.append(asyncio.create_task(self._relay(), name="dispatcher-relay"))
        self._listener = Listener(
            self.store.url, [self.submit_channel], self._on_submit, on_reconnect=self._heard_event.set
        )
        await self._listener.start()
        await self.service.start()
        await self.service.adopt()  # written between the requeue and the LISTEN
        self._tasks += [
            asyncio.create_task(self._intake(), name="dispatcher-intake"),
            asyncio.create_task(self._snapshots(), name="dispatcher-snapshots"),
        ]
        self._dirty.set()
        log.info(
            "dispatcher %s up in %.1f s: %d workers, %d jobs waiting",
            self.epoch,
            time.monotonic() - started,
            len(self.pool.workers()),
            len(self.service.fair),
        )

    async def _teardown(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if getattr(self, "_listener", None) is not None:
            await self._listener.close()
        if self.service is not None:
            with contextlib.suppress(Exception):
                await self.service.close()  # stops the pool, closes the store
        elif self.store is not None:
            with contextlib.suppress(Exception):
                await self.store.close()
        self.service = self.store = None

    async def _ready(self) -> DispatchService:
        await asyncio.shield(self._booted)
        assert self.service is not None
        return self.service

    # -- intake -------------------------------------------------------------------------------

    def _on_submit(self, channel: str, payload: str) -> None:
        self._heard.add(payload)
        self._heard_event.set()

    async def _intake(self) -> None:
        service = await self._ready()
        last_sweep = time.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SWEEP_SECONDS):
                    await self._heard_event.wait()
            self._heard_event.clear()
            heard, self._heard = self._heard, set()
            try:
                if heard:
                    await service.adopt(heard)
                if time.monotonic() - last_sweep >= SWEEP_SECONDS or not heard:
                    last_sweep = time.monotonic()
                    await service.adopt()
            except Exception:
                log.exception("could not read the new jobs")

    # -- relay --------------------------------------------------------------------------------

    async def _relay(self) -> None:
        assert self.store is not None and self._relay_sub is not None
        async for event in self._relay_sub:
            if event.kind is EventKind.POSITION:  # (none are published here: the snapshot has them)
                continue
            try:
                stored = False
                if event.preview is not None and event.step is not None:
                    await self.store.put_preview(
                        event.job_id, event.step, event.total or 0, event.preview, time.time()
                    )
                    stored = True
                await self.store.notify(self.events_channel, wire.event_payload(event, preview_stored=stored))
            except Exception:
                log.exception("could not relay the %s event of %s", event.kind, event.job_id)
            if event.kind in SNAPSHOT_EVENTS:
                self._dirty.set()

    def _changed(self) -> None:
        self._dirty.set()
        if self.service is not None:
            self.service._wake.set()  # a worker freed up, came back or changed model

    async def _snapshots(self) -> None:
        await self._ready()
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            try:
                await self._write_snapshot()
            except Exception:
                log.exception("could not write the snapshot")
            await asyncio.sleep(SNAPSHOT_EVERY)

    async def _write_snapshot(self) -> None:
        assert self.service is not None and self.store is not None
        snapshot = self.service.snapshot()
        await self.store.set_state(wire.SNAPSHOT_KEY, snapshot.to_dict(), notify=self.events_channel)

    # -- what bot processes call --------------------------------------------------------------

    async def ready(self) -> dict[str, Any]:
        """Once booted; the snapshot is written first, so the caller can read it."""
        await self._ready()
        await self._write_snapshot()
        return {"epoch": self.epoch, "pid": os.getpid()}

    async def cancel(self, job_id: str, by_user: int | None = None, admin: bool = False) -> bool:
        service = await self._ready()
        if job_id not in service._jobs:
            await service.adopt([job_id])  # written a moment ago, not heard of yet
        return await service.cancel(job_id, by_user=by_user, admin=admin)

    async def switch_model(self, name: str) -> dict[str, Any]:
        service = await self._ready()
        try:
            return {"model": await service.switch_model(name)}
        except Problem as exc:
            return {"problem": exc.to_dict()}
        finally:
            self._dirty.set()

    async def pause(self) -> None:
        await (await self._ready()).pause()
        self._dirty.set()

    async def resume(self) -> None:
        await (await self._ready()).resume()
        self._dirty.set()

    async def want_previews(self) -> None:
        """A bot process shows previews: render them from now on (and after restarts)."""
        service = await self._ready()
        assert self.store is not None
        await self.store.set_state(wire.PREVIEWS_KEY, True)
        if not self._previews:
            self._previews = True
            old, self._relay_sub = self._relay_sub, service.events(None, previews=True)
            for task in self._tasks:
                if task.get_name() == "dispatcher-relay":
                    task.cancel()
            if old is not None:
                old.close()
            self._tasks.append(asyncio.create_task(self._relay(), name="dispatcher-relay"))

    async def snapshot(self) -> dict[str, Any]:
        return (await self._ready()).snapshot().to_dict()

    async def worker_stats(self) -> dict[str, Any]:
        """Loads and process ids per worker (tests, benchmarks)."""
        await self._ready()
        assert self.pool is not None
        return {"loads": self.pool.loads(), "pids": self.pool.pids()}

    async def pid(self) -> int:
        return os.getpid()

    async def shutdown(self, kill_workers: bool = True) -> None:
        """Stop serving (batches in flight are queued again in the database) and end the actors."""
        import ray

        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(self._booted), 30)
        pool = self.pool
        await self._teardown()
        if kill_workers and pool is not None:
            await pool.kill_workers()
        ray.actor.exit_actor()


def ensure_dispatcher(settings: Settings, runner: RunnerSpec | None = None) -> Any:
    """The cluster's dispatcher actor, created on this node if it is not running yet."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    cluster = settings.cluster
    return (
        ray.remote(Dispatcher)
        .options(
            name=runtime.dispatcher_name(cluster),
            namespace=runtime.namespace(cluster),
            lifetime="detached",
            get_if_exists=True,
            max_restarts=-1,  # Ray brings it back; it rebuilds itself from PostgreSQL
            max_task_retries=0,
            num_cpus=0,
            scheduling_strategy=NodeAffinitySchedulingStrategy(runtime.node_id(), soft=False),
        )
        .remote(settings, runner)
    )
