"""The GPU worker actor: one per GPU (or worker slot), long-lived, holding its loaded model.

It is the in-process worker (generation.workers.local.LocalWorkerPool with one worker) in its own
Ray process: the same runner (generation.workers.runner.PipelineRunner, or a test's stand-in),
the same batching, cancel within a step, out-of-memory handling and PNG encoding. `run` is a
streaming generator: it yields the worker's reports (started, progress with preview PNGs, each
job's outcome with its PNG bytes) as they happen, ending once every job of the batch has one.

Each worker reads its own models folder (its settings' `paths.models_dir` on its own machine): no
shared disk. Sources arrive in the batch as bytes and results leave as bytes.

A dispatcher `attach`es with its epoch before it hands out batches. A new dispatcher (after the
old one died) attaches to workers that may still be running a batch for the dead one; whatever
runs then is cancelled, since its jobs were queued again from the database and will run anew.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from generation.problems import Problem
from generation.settings import Settings
from generation.workers.local import LocalWorkerPool
from generation.workers.protocol import (
    Batch,
    BatchProgress,
    BatchStarted,
    CallMeasured,
    JobFailed,
    JobResult,
    ModelSwitchError,
)

log = logging.getLogger(__name__)

LOCAL_ID = "local-0"  # the one worker of the actor's LocalWorkerPool
ATTACH_WAIT = 30.0  # seconds a new dispatcher waits for a batch of the old one to stop


@dataclass(frozen=True)
class RunnerSpec:
    """How a worker builds its runner in its own process: `factory` ("module:callable") called
    with `kwargs`, and with the worker's settings first when `with_settings`."""

    factory: str = "generation.workers.runner:PipelineRunner"
    kwargs: dict[str, Any] = field(default_factory=dict)
    with_settings: bool = True

    def build(self, settings: Settings) -> Any:
        module, _, name = self.factory.partition(":")
        factory = getattr(importlib.import_module(module), name)
        return factory(settings, **self.kwargs) if self.with_settings else factory(**self.kwargs)


FAKE_RUNNER = "generation.workers.fakes:FakeRunner"


def fake_runner(**kwargs: Any) -> RunnerSpec:
    """The FakeRunner (no model, no torch) on each worker: tests and the dispatcher benchmark."""
    return RunnerSpec(FAKE_RUNNER, kwargs, with_settings=False)


@dataclass(frozen=True)
class WorkerSpec:
    worker_id: str
    node: str  # the machine, as people know it (its address)
    settings: Settings
    runner: RunnerSpec
    threads: int = 0  # torch CPU threads (0: leave Ray's default)


# -- reports the stream carries besides the protocol's own ----------------------------------------


@dataclass(frozen=True)
class JobCancelled:
    batch_id: str
    job_id: str


@dataclass(frozen=True)
class BatchInterrupted:
    batch_id: str
    job_ids: tuple[str, ...]


@dataclass(frozen=True)
class WorkerFree:
    """The pipeline is done with the batch; its last images are still being encoded and reported.
    The worker takes its next batch now (as the in-process worker does), so it never waits for
    the dispatcher to store results."""

    batch_id: str


Report = (
    BatchStarted
    | BatchProgress
    | CallMeasured
    | JobResult
    | JobFailed
    | JobCancelled
    | BatchInterrupted
    | WorkerFree
)


def closes(report: Report) -> tuple[str, ...]:
    """The jobs a report gives their outcome."""
    if isinstance(report, JobResult | JobFailed | JobCancelled):
        return (report.job_id,)
    if isinstance(report, BatchInterrupted):
        return report.job_ids
    return ()


class _Router:
    """The local pool's BatchSink: each batch's reports go to the queue of the `run` streaming it
    (reports of a batch nobody streams any more are dropped)."""

    def __init__(self) -> None:
        self.queues: dict[str, asyncio.Queue[Report]] = {}

    def _put(self, batch_id: str, report: Report) -> None:
        queue = self.queues.get(batch_id)
        if queue is not None:
            queue.put_nowait(report)

    async def batch_started(self, started: BatchStarted) -> None:
        self._put(started.batch_id, started)

    def batch_progress(self, progress: BatchProgress) -> None:
        self._put(progress.batch_id, progress)

    def call_measured(self, measured: CallMeasured) -> None:
        self._put(measured.batch_id, measured)

    async def job_done(self, result: JobResult) -> None:
        self._put(result.batch_id, result)

    async def job_failed(self, failed: JobFailed) -> None:
        self._put(failed.batch_id, failed)

    async def job_cancelled(self, batch_id: str, job_id: str) -> None:
        self._put(batch_id, JobCancelled(batch_id, job_id))

    async def batch_interrupted(self, batch_id: str, job_ids: Sequence[str]) -> None:
        self._put(batch_id, BatchInterrupted(batch_id, tuple(job_ids)))

    async def batch_lost(self, batch_id: str, job_ids: Sequence[str]) -> None:  # pragma: no cover
        self._put(batch_id, BatchInterrupted(batch_id, tuple(job_ids)))


class CountingRunner:
    """The worker's runner, counting its model loads (what /queue workers and the tests show)."""

    def __init__(self, runner: Any) -> None:
        self.runner = runner
        self.loads: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.runner, name)

    def load(self, name: str) -> Any:
        model = self.runner.load(name)
        self.loads.append(name)
        return model


class StaleDispatcher(RuntimeError):
    """A batch from a dispatcher that is no longer the one attached."""


class GpuWorker:
    """The actor (made remote with its options by generation.cluster.pool)."""

    def __init__(self, spec: WorkerSpec) -> None:
        if spec.threads:
            os.environ["OMP_NUM_THREADS"] = str(spec.threads)  # for what reads it at import
            if spec.runner.factory != FAKE_RUNNER:  # (a stand-in needs no torch)
                import torch

                torch.set_num_threads(spec.threads)  # as the in-process worker's host sets it
        _normal_priority()
        self.spec = spec
        self.runner = CountingRunner(spec.runner.build(spec.settings))
        self.device = self._device(spec)
        self.pool = LocalWorkerPool(self.runner, device=self.device)
        self.router = _Router()
        self.epoch: str | None = None
        self.batches: list[tuple[str, ...]] = []  # the jobs of each batch run, in order
        self.waiting: dict[str, Batch] = {}  # batches sent while another runs, by id
        self._turn = asyncio.Lock()
        self.started_at = time.time()
        self._started = False

    @staticmethod
    def _device(spec: WorkerSpec) -> str:
        import ray

        gpus = ray.get_gpu_ids()  # (Ray shows the actor only its GPU: "cuda" inside is that one)
        if gpus:
            return f"cuda:{gpus[0]}"
        device = spec.settings.models.device
        return "cpu" if device == "auto" else device  # no GPU given to this worker

    async def _start(self) -> None:
        if not self._started:
            self._started = True
            await self.pool.start(self.router)

    # -- what the dispatcher calls ------------------------------------------------------------

    async def attach(self, epoch: str) -> dict[str, Any]:
        """A dispatcher takes this worker over; batches still running or waiting (for a dispatcher
        that died, or one given up on) are cancelled first."""
        await self._start()
        self.epoch = epoch
        for batch in list(self.waiting.values()):
            for job in batch.jobs:
                self._cancel_waiting(job.job_id)
        running = self.pool.workers()[0].jobs
        for job_id in running:
            await self.pool.cancel(job_id)
        if running:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(ATTACH_WAIT):
                    while not self.pool.free_workers():
                        await asyncio.sleep(0.02)
        return self.status()

    def status(self) -> dict[str, Any]:
        local = self.pool.workers()[0]
        try:
            names = tuple(self.runner.model_names())
        except Exception:
            log.exception("could not list the models")
            names = ()
        info = replace(local, id=self.spec.worker_id, node=self.spec.node, models=names)
        return {"info": info, "pid": os.getpid(), "loads": len(self.runner.loads), "epoch": self.epoch}

    async def info(self) -> dict[str, Any]:
        return self.status()

    async def run(self, epoch: str, batch: Batch) -> AsyncIterator[Report]:
        """Run the batch, yielding its reports; ends when every job has its outcome. A batch sent
        while another runs waits for it here (the dispatcher sends the next one early, so the
        worker never waits for a round trip between two batches); batches start in the order
        they came."""
        await self._start()
        if epoch != self.epoch:
            raise StaleDispatcher(f"batch {batch.id} comes from dispatcher {epoch}, not {self.epoch}")
        queue: asyncio.Queue[Report] = asyncio.Queue()
        self.router.queues[batch.id] = queue
        freed: asyncio.Future[Any] | None = None
        got: asyncio.Future[Report] | None = None
        pending = set(batch.job_ids)
        self.waiting[batch.id] = batch
        try:
            async with self._turn:  # (FIFO: asyncio's lock wakes its waiters in order)
                await self.pool.wait_free()
                batch = self.waiting.pop(batch.id)
            for job_id in [j for j in pending if j not in batch.job_ids]:  # cancelled while waiting
                pending.discard(job_id)
                yield JobCancelled(batch.id, job_id)
            if not batch.jobs:
                return
            await self.pool.submit(LOCAL_ID, batch)
            self.batches.append(batch.job_ids)
            freed = asyncio.ensure_future(self.pool.wait_free())
            while pending:
                got = got or asyncio.ensure_future(queue.get())
                await asyncio.wait(
                    {f for f in (got, freed) if f is not None}, return_when=asyncio.FIRST_COMPLETED
                )
                if freed is not None and freed.done():
                    freed = None
                    yield WorkerFree(batch.id)
                    continue
                report, got = got.result(), None
                pending.difference_update(closes(report))
                yield report
        finally:
            for future in (freed, got):
                if future is not None:
                    future.cancel()
            self.waiting.pop(batch.id, None)
            self.router.queues.pop(batch.id, None)

    async def cancel(self, job_id: str) -> bool:
        """Stop a job: a running one within a step, a waiting one before it starts."""
        return self._cancel_waiting(job_id) or await self.pool.cancel(job_id)

    def _cancel_waiting(self, job_id: str) -> bool:
        for batch_id, batch in self.waiting.items():
            if job_id in batch.job_ids:
                jobs = tuple(job for job in batch.jobs if job.job_id != job_id)
                self.waiting[batch_id] = replace(batch, jobs=jobs)
                return True
        return False

    async def switch_model(self, name: str) -> dict[str, Any]:
        """Load and check `name` (the old model stays if it fails): {"hash"} or {"problem"} (a
        Problem's fields survive as a dict, not as a pickled exception)."""
        await self._start()
        try:
            model_hash = await self.pool.switch_model(name)
        except ModelSwitchError as exc:
            return {"problem": exc.to_dict()}
        except Problem as exc:
            return {"problem": exc.to_dict()}
        return {"hash": model_hash}

    async def stats(self) -> dict[str, Any]:
        """For tests and benchmarks: the models loaded (in order), the batches run, and the prompts
        of each pipeline call when the runner records them (FakeRunner)."""
        calls = getattr(self.runner.runner, "calls", None)
        return {
            "loads": list(self.runner.loads),
            "batches": list(self.batches),
            "calls": [list(call) for call in calls] if calls is not None else None,
            "pid": os.getpid(),
            "priority": os.getpriority(os.PRIO_PROCESS, 0),
        }

    async def hold(self, held: bool) -> None:
        """Tests: keep a FakeRunner's steps waiting (its `gate`) until released."""
        gate = self.runner.runner.gate
        if held:
            gate.clear()
        else:
            gate.set()

    async def pid(self) -> int:
        return os.getpid()

    async def stop(self) -> None:
        await self.pool.stop()


def _normal_priority() -> None:
    """Ray starts its worker processes at niceness 15; this one does the pipeline's CPU side (all of
    it on a CPU host), so it asks for the normal priority back: with anything else busy on the
    machine a niced worker runs its steps several percent slower. Without the right (CAP_SYS_NICE)
    it stays as it is."""
    try:
        if os.getpriority(os.PRIO_PROCESS, 0) > 0:
            os.setpriority(os.PRIO_PROCESS, 0, 0)
    except (OSError, AttributeError) as exc:
        log.info("the worker keeps Ray's lower priority (%s)", exc)


def node_label() -> str:
    """This machine's address as Ray knows it (else its host name)."""
    try:
        import ray

        return ray.util.get_node_ip_address()
    except Exception:
        return socket.gethostname()
