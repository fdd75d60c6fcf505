"""`RayWorkerPool`: the `WorkerPool` seam (generation.workers.protocol) over GPU worker actors.

The dispatcher's job service drives it like the in-process pool: free workers, a batch to one of
them, reports back to its sink. Behind it:
  - placement: one worker actor per GPU of every live node (`num_gpus=1`; on hosts without GPUs
    one per WORKER_RESOURCE slot), at most `[cluster] workers` when that is set. Nodes are looked
    at every heartbeat: workers are placed as nodes join and retired when their node leaves.
    Actors are named and detached, so a new dispatcher finds the old one's (models still loaded).
  - a batch runs as the actor's streaming generator; its reports are forwarded as they arrive.
  - faults: when the actor dies mid-batch (Ray reports it in about a second and a half), the jobs
    still open go back to the front of the queue (`batch_lost`); Ray restarts the actor, the pool
    attaches to it again and it takes batches once more. Idle workers are checked every heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from generation.cluster import runtime
from generation.cluster.worker import (
    BatchInterrupted,
    GpuWorker,
    JobCancelled,
    RunnerSpec,
    WorkerFree,
    WorkerSpec,
)
from generation.problems import Problem
from generation.settings import Settings
from generation.workers.protocol import (
    Batch,
    BatchProgress,
    BatchSink,
    BatchStarted,
    CallMeasured,
    JobFailed,
    JobResult,
    ModelSwitchError,
    WorkerInfo,
    WorkerPool,
    WorkerProblem,
    WorkerState,
)

log = logging.getLogger(__name__)

CALL_TIMEOUT = 10.0  # seconds for an idle worker to answer a check
DEPTH = 2  # batches a worker is given at once: the running one, and the next (no gap between them)


@dataclass(frozen=True)
class NodeView:
    node_id: str
    address: str
    gpus: int
    slots: int  # WORKER_RESOURCE slots (hosts without GPUs)

    @property
    def capacity(self) -> int:
        return self.gpus or self.slots


def plan_slots(nodes: Sequence[NodeView], cap: int = 0) -> list[tuple[NodeView, int]]:
    """The worker slots the cluster should have: (node, index) per GPU (or slot) of each live node,
    in a stable order (GPUs first), at most `cap` of them (0: no cap)."""
    ordered = sorted(nodes, key=lambda n: (n.gpus == 0, n.address, n.node_id))
    wanted = [(node, i) for node in ordered for i in range(node.capacity)]
    return wanted[:cap] if cap else wanted


def worker_id_of(node: NodeView, index: int) -> str:
    return f"{node.node_id[:8]}-{index}"


def live_nodes() -> list[NodeView]:
    import ray

    nodes = []
    for node in ray.nodes():
        if not node.get("Alive"):
            continue
        resources = node.get("Resources", {})
        nodes.append(
            NodeView(
                node_id=node["NodeID"],
                address=node.get("NodeManagerAddress", "?"),
                gpus=int(resources.get("GPU", 0)),
                slots=int(resources.get(runtime.WORKER_RESOURCE, 0)),
            )
        )
    return nodes


@dataclass
class _Slot:
    id: str
    node: NodeView
    actor: Any
    info: WorkerInfo | None = None
    alive: bool = False  # attached and answering
    pid: int | None = None
    loads: int = 0
    # the batches its pipeline runs or will run next (DEPTH at most: the next one is sent early)
    batches: list[Batch] = field(default_factory=list)
    switching: int = 0
    reviving: asyncio.Task[None] | None = None
    retired: bool = False
    done_since_check: int = 0  # jobs it finished since it last said how many it had
    # batches streaming back (the running one, and ones whose last results are still coming):
    # batch id -> its jobs without an outcome yet; and the tasks reading them
    open: dict[str, set[str]] = field(default_factory=dict)
    consumers: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    @property
    def free(self) -> bool:
        return self.alive and len(self.batches) < DEPTH and not self.switching and not self.retired

    def view(self) -> WorkerInfo:
        base = self.info or WorkerInfo(self.id, self.node.address, "?", None, WorkerState.LOADING)
        if not self.alive:
            state = WorkerState.LOADING  # starting, or restarting after it died
        elif self.switching:
            state = WorkerState.LOADING
        elif self.batches:
            state = WorkerState.BUSY
        else:
            state = WorkerState.IDLE
        jobs = tuple(job_id for open_jobs in self.open.values() for job_id in sorted(open_jobs))
        model = self.batches[-1].model if self.batches else base.model  # what it holds after them
        done = base.jobs_done + self.done_since_check
        return replace(base, id=self.id, state=state, jobs=jobs, model=model, jobs_done=done)


class RayWorkerPool(WorkerPool):
    def __init__(
        self,
        settings: Settings,
        *,
        runner: RunnerSpec | None = None,
        epoch: str,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.settings = settings
        self.cluster = settings.cluster
        self.runner = runner or RunnerSpec()
        self.epoch = epoch
        self.on_change = on_change
        self._slots: dict[str, _Slot] = {}
        self._sink: BatchSink | None = None
        self._freed = asyncio.Event()
        self._stopping = False
        self._watcher: asyncio.Task[None] | None = None
        self._placing = asyncio.Lock()

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self, sink: BatchSink) -> None:
        self._sink = sink
        await self.place()
        self._watcher = asyncio.create_task(self._watch(), name="ray-pool-watch")

    async def stop(self) -> None:
        """Stop taking batches; batches in flight are reported interrupted (queued again in the
        database). The actors live on for the next dispatcher."""
        self._stopping = True
        self._freed.set()
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        for slot in self._slots.values():
            for task in [*slot.consumers.values(), slot.reviving]:
                if task is not None:
                    task.cancel()
            for batch_id, open_jobs in list(slot.open.items()):
                if open_jobs and self._sink is not None:
                    with contextlib.suppress(Exception):
                        await self._sink.batch_interrupted(batch_id, sorted(open_jobs))
            slot.batches, slot.open = [], {}

    async def kill_workers(self) -> None:
        """End every worker actor (the cluster shuts down, or a test ends)."""
        import ray

        for slot in self._slots.values():
            with contextlib.suppress(Exception):
                ray.kill(slot.actor, no_restart=True)
        self._slots.clear()

    # -- placement ----------------------------------------------------------------------------

    async def place(self) -> None:
        """Workers for the slots of the live nodes; workers of nodes that left are retired."""
        async with self._placing:
            nodes = await asyncio.to_thread(live_nodes)
            wanted = {worker_id_of(node, i): (node, i) for node, i in plan_slots(nodes, self.cluster.workers)}
            for worker_id in [w for w in self._slots if w not in wanted]:
                await self._retire(self._slots.pop(worker_id))
            created = [
                self._create(worker_id, node)
                for worker_id, (node, _) in wanted.items()
                if worker_id not in self._slots
            ]
            if created:
                await asyncio.gather(*(self._take_over(slot) for slot in created))
                self.on_change()

    def _create(self, worker_id: str, node: NodeView) -> _Slot:
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        options: dict[str, Any] = {
            "name": runtime.worker_actor_name(self.cluster, worker_id),
            "namespace": runtime.namespace(self.cluster),
            "lifetime": "detached",
            "get_if_exists": True,
            "max_restarts": -1,  # Ray brings a dead worker back; the pool attaches to it again
            "max_task_retries": 0,  # a lost batch is the dispatcher's to queue again, not Ray's to rerun
            "num_cpus": 0,
            "scheduling_strategy": NodeAffinitySchedulingStrategy(node.node_id, soft=False),
        }
        if node.gpus:
            options["num_gpus"] = 1
        else:
            options["resources"] = {runtime.WORKER_RESOURCE: 1}
        spec = WorkerSpec(worker_id, node.address, self.settings, self.runner, self.cluster.worker_threads)
        actor = ray.remote(GpuWorker).options(**options).remote(spec)
        slot = self._slots[worker_id] = _Slot(worker_id, node, actor)
        log.info("worker %s on %s", worker_id, node.address)
        return slot

    async def _retire(self, slot: _Slot) -> None:
        import ray

        log.info("worker %s retired: its node %s left", slot.id, slot.node.address)
        slot.retired = True
        with contextlib.suppress(Exception):
            ray.kill(slot.actor, no_restart=True)
        if slot.consumers:  # its batches are lost with it
            await asyncio.wait(set(slot.consumers.values()), timeout=CALL_TIMEOUT)
        self.on_change()

    async def _take_over(self, slot: _Slot) -> None:
        try:
            await self._attach(slot)
        except Exception as exc:
            log.warning("worker %s did not start: %s", slot.id, exc)
            self._lost(slot, exc)

    async def _attach(self, slot: _Slot, timeout: float | None = 120.0) -> None:
        """Wait for the actor (starting, or restarted by Ray) and take it over."""
        status = await asyncio.wait_for(slot.actor.attach.remote(self.epoch), timeout)
        self._update(slot, status)
        slot.alive = True
        self._freed.set()
        self.on_change()

    def _update(self, slot: _Slot, status: dict[str, Any]) -> None:
        previous = slot.pid
        slot.info, slot.pid, slot.loads = status["info"], status["pid"], status["loads"]
        slot.done_since_check = 0
        if previous is not None and previous != slot.pid:
            log.warning("worker %s came back as process %s", slot.id, slot.pid)

    def _lost(self, slot: _Slot, why: BaseException | str) -> None:
        """The actor died or stopped answering: not free until Ray has restarted it."""
        if slot.retired or self._stopping:
            return
        if slot.alive:
            log.warning("worker %s is gone (%s); waiting for it to come back", slot.id, why)
        slot.alive = False
        slot.info = replace(slot.info, model=None) if slot.info else None
        if slot.reviving is None or slot.reviving.done():
            slot.reviving = asyncio.create_task(self._revive(slot), name=f"revive-{slot.id}")
        self.on_change()

    async def _revive(self, slot: _Slot) -> None:
        delay = 0.1
        while not (self._stopping or slot.retired):
            try:
                await self._attach(slot, timeout=CALL_TIMEOUT)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _watch(self) -> None:
        """Every heartbeat: follow the nodes, check the idle workers."""
        while not self._stopping:
            await asyncio.sleep(self.cluster.heartbeat)
            try:
                await self.place()
                idle = [s for s in self._slots.values() if s.free and not s.batches and not s.open]
                await asyncio.gather(*(self._check(s) for s in idle))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("checking the workers failed")

    async def _check(self, slot: _Slot) -> None:
        try:
            status = await asyncio.wait_for(slot.actor.info.remote(), CALL_TIMEOUT)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._lost(slot, exc)
            return
        if status.get("epoch") != self.epoch:  # restarted between two checks: take it over again
            self._lost(slot, "restarted")
            return
        before = slot.info
        self._update(slot, status)
        if slot.info != before:  # a model, a count of jobs done: what /queue workers shows
            self.on_change()

    # -- the WorkerPool protocol --------------------------------------------------------------

    def workers(self) -> list[WorkerInfo]:
        return [slot.view() for slot in self._slots.values() if not slot.retired]

    def live_workers(self) -> list[WorkerInfo]:
        return [slot.view() for slot in self._slots.values() if slot.alive and not slot.retired]

    def free_workers(self) -> list[WorkerInfo]:
        if self._stopping:
            return []
        return [slot.view() for slot in self._slots.values() if slot.free]

    async def wait_free(self) -> WorkerInfo | None:
        while not self._stopping:
            free = self.free_workers()
            if free:
                return free[0]
            self._freed.clear()
            await self._freed.wait()
        return None

    @property
    def capacity(self) -> int:
        return max(1, len(self.live_workers()))

    def loads(self) -> dict[str, int]:
        """Model loads per worker (as last reported)."""
        return {slot.id: slot.loads for slot in self._slots.values()}

    def pids(self) -> dict[str, int | None]:
        return {slot.id: slot.pid for slot in self._slots.values()}

    async def submit(self, worker_id: str, batch: Batch) -> None:
        if self._sink is None:
            raise RuntimeError("the pool is not started")
        if self._stopping:
            await self._sink.batch_interrupted(batch.id, batch.job_ids)
            return
        slot = self._slots[worker_id]
        if not slot.free:
            raise RuntimeError(f"worker {worker_id} is not free")
        slot.batches.append(batch)
        slot.open[batch.id] = set(batch.job_ids)
        slot.consumers[batch.id] = asyncio.create_task(self._consume(slot, batch), name=f"batch-{batch.id}")

    async def _consume(self, slot: _Slot, batch: Batch) -> None:
        """Read the batch's stream, forwarding its reports in order; the worker is free again as
        soon as it says so (its last results may still be coming)."""
        import ray.exceptions as rex

        sink = self._sink
        assert sink is not None
        open_jobs = slot.open[batch.id]
        try:
            async for ref in slot.actor.run.remote(self.epoch, batch):
                report = await ref
                if isinstance(report, WorkerFree):
                    self._release(slot, batch)
                else:
                    await self._forward(sink, slot, open_jobs, report)
        except asyncio.CancelledError:
            raise
        except rex.RayTaskError as exc:  # the worker's own code raised (a stale epoch, a bug)
            log.error("worker %s failed on batch %s: %s", slot.id, batch.id, exc)
            await self._give_up(sink, batch, open_jobs)
            self._lost(slot, exc)  # attach again: that cancels whatever it still runs
        except Exception as exc:  # the actor died or cannot be reached
            await self._give_up(sink, batch, open_jobs)
            self._lost(slot, exc)
        else:
            if open_jobs:  # a stream that ended early: treat like a loss
                await self._give_up(sink, batch, open_jobs)
        finally:
            slot.open.pop(batch.id, None)
            slot.consumers.pop(batch.id, None)
            self._release(slot, batch)

    def _release(self, slot: _Slot, batch: Batch) -> None:
        if any(held.id == batch.id for held in slot.batches):
            slot.batches = [held for held in slot.batches if held.id != batch.id]
            self._freed.set()
            self.on_change()

    async def _give_up(self, sink: BatchSink, batch: Batch, open_jobs: set[str]) -> None:
        lost = [job_id for job_id in batch.job_ids if job_id in open_jobs]
        open_jobs.clear()
        if lost and not self._stopping:
            await sink.batch_lost(batch.id, lost)

    async def _forward(self, sink: BatchSink, slot: _Slot, open_jobs: set[str], report: Any) -> None:
        if isinstance(report, BatchProgress):
            sink.batch_progress(report)
        elif isinstance(report, CallMeasured):
            sink.call_measured(report)
        elif isinstance(report, BatchStarted):
            if slot.info is not None:
                slot.info = replace(slot.info, model=report.model, model_hash=report.model_hash)
            await sink.batch_started(replace(report, worker_id=slot.id))
        elif isinstance(report, JobResult):
            open_jobs.discard(report.job_id)
            slot.done_since_check += 1
            await sink.job_done(report)
        elif isinstance(report, JobFailed):
            open_jobs.discard(report.job_id)
            if report.problem.code == WorkerProblem.MODEL_NOT_LOADED and slot.info is not None:
                slot.info = replace(slot.info, model=None)
            await sink.job_failed(report)
        elif isinstance(report, JobCancelled):
            open_jobs.discard(report.job_id)
            await sink.job_cancelled(report.batch_id, report.job_id)
        elif isinstance(report, BatchInterrupted):  # the worker is stopping: run them elsewhere
            ids = [j for j in report.job_ids if j in open_jobs]
            open_jobs.difference_update(ids)
            if ids:
                await sink.batch_lost(report.batch_id, ids)

    async def cancel(self, job_id: str) -> bool:
        for slot in self._slots.values():
            if any(job_id in open_jobs for open_jobs in slot.open.values()):
                try:
                    return await asyncio.wait_for(slot.actor.cancel.remote(job_id), CALL_TIMEOUT)
                except Exception:
                    log.exception("could not cancel %s on worker %s", job_id, slot.id)
                    return False
        return False

    async def switch_model(self, name: str, *, worker_id: str | None = None) -> str | None:
        """Load and check `name` on one worker: `worker_id`, else one that is free (an empty one
        first). In a cluster a switch sets the default for new jobs; other workers load the
        model when its jobs come to them."""
        slot = self._slots.get(worker_id) if worker_id else self._switch_target(name)
        if slot is None or not slot.alive:
            raise ModelSwitchError(
                WorkerProblem.MODEL_SWITCH_FAILED, model=name, detail="no worker", kept=None
            )
        slot.switching += 1
        self.on_change()
        try:
            result = await slot.actor.switch_model.remote(name)
        except Exception as exc:
            raise ModelSwitchError(
                WorkerProblem.MODEL_SWITCH_FAILED, model=name, detail=str(exc)[:300], kept=None
            ) from exc
        finally:
            slot.switching -= 1
            self._freed.set()
            self.on_change()
        if "problem" in result:
            problem = Problem.from_dict(result["problem"])
            raise ModelSwitchError(problem.code, **problem.fields)
        if slot.info is not None:
            slot.info = replace(slot.info, model=name, model_hash=result["hash"])
        return result["hash"]

    def _switch_target(self, name: str) -> _Slot | None:
        live = [s for s in self._slots.values() if s.alive and not s.retired]
        for wanted in (
            lambda s: s.info is not None and s.info.model == name,
            lambda s: s.free and (s.info is None or s.info.model is None),
            lambda s: s.free,
            lambda s: True,
        ):
            for slot in live:
                if wanted(slot):
                    return slot
        return None

    def model_names(self) -> list[str]:
        names: set[str] = set()
        for slot in self._slots.values():
            if slot.info is not None:
                names.update(slot.info.models)
        return sorted(names)
