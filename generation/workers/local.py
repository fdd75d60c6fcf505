"""In-process GPU workers: `LocalWorkerPool`, N workers each owning a loaded model and one thread.

The event loop never runs a pipeline: every model operation of a worker (load, check, generate,
unload) goes to that worker's single-thread executor, so the bot stays responsive and a model is
only ever touched from one thread. The job service hands a free worker a batch; the worker runs it
and reports each job's outcome to the pool's sink (generation.workers.protocol).

A finished call's images are encoded to PNG bytes (on helper threads) and reported while the next
call already runs, and progress is reported at most every PROGRESS_INTERVAL, so the GPU waits for
neither. What can go wrong stays with the job it concerns: when a batch of several jobs fails,
its jobs are retried one by one so only the bad one fails; on CUDA out-of-memory the worker frees
what it can and goes on. Cancelling one job of a running batch stops the pipeline within one step;
the batch's other jobs run again at once without it. A model switch loads and checks the new
model before it frees the old one, which stays when the new one fails.

Everything that needs torch or diffusers sits behind the `Runner` protocol: the real one is
generation.workers.runner.PipelineRunner; generation.workers.fakes.FakeRunner stands in for tests
and benchmarks. This module is torch-free at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import logging
import socket
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from generation.images.saving import EncodedImages
from generation.jobs.quotas import split_seconds
from generation.problems import Problem
from generation.progress import Cancelled
from generation.requests.applied import Applied, combined
from generation.requests.request import GenerationRequest
from generation.workers.protocol import (
    Batch,
    BatchJob,
    BatchProgress,
    BatchSink,
    BatchStarted,
    CallMeasured,
    ImageResult,
    JobFailed,
    JobResult,
    ModelSwitchError,
    WorkerInfo,
    WorkerPool,
    WorkerProblem,
    WorkerState,
    detail_of,
)

log = logging.getLogger(__name__)

# Previews of a progress report: one image per request, or a function that renders them on demand.
Previews = Sequence[Any] | Callable[[], Sequence[Any]]

CHECK_REQUEST = GenerationRequest(
    prompt="a test", width=64, height=64, steps=1, count=1, seed=0, cfg_scale=7.0
)
MAX_FINISHING = 2  # groups encoded in the background while the next pipeline call runs
PROGRESS_INTERVAL = 0.25  # seconds between progress reports of a pipeline call


# -- the runner: what touches the model ----------------------------------------------------------


@dataclass(frozen=True)
class Generated:
    """What a runner's pipeline call made: one list of images per request, and what each image
    was made with (`applied[r][i]`: LoRAs, embeddings, VAE, clip skip, notes; empty: not known)."""

    images: list[list[Any]]
    applied: list[tuple[Applied, ...]]

    @classmethod
    def of(cls, result: Generated | Sequence[Sequence[Any]]) -> Generated:
        """A runner's answer (a runner that returns bare image lists says nothing applied)."""
        if isinstance(result, Generated):
            return result
        return cls([list(images) for images in result], [() for _ in result])


class Runner(Protocol):
    """The model side of a worker. Every method but `model_names` and `cancel_token` is called on
    the worker's GPU thread (`encode` on a helper thread), never on the event loop."""

    def model_names(self) -> list[str]: ...

    def load(self, name: str) -> Any: ...

    def check(self, model: Any) -> None:
        """A tiny generation that proves the model works; raises when it does not."""

    def generate(
        self,
        model: Any,
        requests: Sequence[GenerationRequest],
        *,
        sources: Sequence[bytes | None],
        masks: Sequence[bytes | None] = (),
        on_progress: Callable[[int, int, Previews], None] | None,
        cancel: Any,
        want_preview: bool,
    ) -> Generated | list[list[Any]]:
        """One list of images per request, with what each image applied (`Generated`; bare image
        lists: nothing known); `sources` holds each request's source image bytes, `masks` each
        inpaint's mask bytes (None for the others; empty: no masks at all).
        `on_progress(step, total, previews)` from the GPU thread, `previews` one image per request
        (or empty when none were asked for), or a function returning them, called only for the
        reports the worker keeps."""

    def unload(self, model: Any) -> None: ...

    def model_hash(self, model: Any) -> str | None: ...

    def encode(
        self,
        request: GenerationRequest,
        images: list[Any],
        model_name: str,
        model_hash: str | None,
        *,
        applied: Sequence[Applied] = (),
    ) -> EncodedImages:
        """PNG bytes, each image's infotext with what it applied (`applied[i]`, when known)."""

    def cancel_token(self) -> Any: ...

    def is_out_of_memory(self, exc: BaseException) -> bool: ...

    def free_memory(self) -> None: ...


def is_out_of_memory(exc: BaseException) -> bool:
    return type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower()


def failure_problem(exc: BaseException, *, out_of_memory: bool = False) -> Problem:
    """What went wrong on the worker, as a problem a front end can word."""
    if isinstance(exc, Problem):
        return exc
    if out_of_memory:
        return Problem(WorkerProblem.OUT_OF_MEMORY)
    name = type(exc).__name__
    detail = detail_of(exc)
    if name == "ValidationError":
        return Problem(WorkerProblem.INVALID_REQUEST, detail=detail)
    if isinstance(exc, FileNotFoundError | IsADirectoryError) or name in (
        "UnidentifiedImageError",
        "DecompressionBombError",
    ):
        return Problem(WorkerProblem.SOURCE_UNREADABLE, detail=detail)
    if name in ("ModelNotFound", "ModelLoadError") or "model" in name.lower():
        return Problem(WorkerProblem.MODEL_UNUSABLE, detail=detail)
    return Problem(WorkerProblem.GENERATION_FAILED, detail=detail)


def encode_preview(image: Any) -> bytes | None:
    """PNG bytes of a preview (a PIL image, or bytes already)."""
    if image is None or isinstance(image, bytes):
        return image
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


# -- one worker ----------------------------------------------------------------------------------


class _Stop(Exception):
    """The worker is stopping: the jobs go back to the queue for the next start."""


class _CancelledBatch(Exception):
    pass


class LocalWorker:
    """One GPU thread and the model loaded on it; runs one batch at a time."""

    def __init__(self, worker_id: str, runner: Runner, *, node: str, device: str, thread_name: str) -> None:
        self.id = worker_id
        self.runner = runner
        self.node = node
        self.device = device
        self.model: Any = None
        self.model_name: str | None = None
        self.model_hash: str | None = None
        self.lock = asyncio.Lock()  # held while the GPU thread is in use
        self.jobs_done = 0
        self.sink: BatchSink | None = None
        self.on_free: Callable[[], None] = lambda: None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=thread_name)
        self._batch: Batch | None = None  # the batch it holds
        self._task: asyncio.Task[None] | None = None
        self.current: list[BatchJob] = []  # its jobs not yet handed to encoding
        self._token: Any = None
        self._running: set[str] = set()  # jobs of the pipeline call in flight
        self._cancelled: set[str] = set()
        self._stopping = False
        self._switching = 0  # model switches waiting or running
        self._loading = False
        self._calls_since_load = 0  # the first call after a load includes warm-up: not measured
        self._finishers: set[asyncio.Task[None]] = set()  # groups whose images are being encoded
        self._background: set[asyncio.Task[None]] = set()  # batch starts being reported

    # -- state --------------------------------------------------------------------------------

    @property
    def free(self) -> bool:
        return self._batch is None and not self._switching and not self._stopping

    def info(self) -> WorkerInfo:
        if self._batch is not None:
            state = WorkerState.LOADING if self._loading else WorkerState.BUSY
        elif self._switching:
            state = WorkerState.LOADING
        else:
            state = WorkerState.BUSY if self._stopping else WorkerState.IDLE  # stopping: takes nothing more
        return WorkerInfo(
            id=self.id,
            node=self.node,
            device=self.device,
            model=self.model_name,
            state=state,
            jobs=tuple(job.job_id for job in self.current),
            jobs_done=self.jobs_done,
            model_hash=self.model_hash,
        )

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run `fn` on the GPU thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    # -- models -------------------------------------------------------------------------------

    async def ensure_model(self, name: str) -> None:
        """Make `name` the loaded model (frees the old one first: a job's model, not a switch)."""
        if self.model is not None and self.model_name == name:
            return
        self._loading = True
        try:
            if self.model is not None:
                old, self.model, self.model_name, self.model_hash = self.model, None, None, None
                await self.call(self.runner.unload, old)
            model = await self.call(self.runner.load, name)
        finally:
            self._loading = False
        self.model, self.model_name = model, name
        self.model_hash = self.runner.model_hash(model)
        self._calls_since_load = 0

    async def switch_model(self, name: str) -> str | None:
        """Load `name` and check it with a tiny generation, then swap it in and free the old one.
        Waits for the running batch. Raises ModelSwitchError and keeps the old model on failure."""
        self._switching += 1
        try:
            async with self.lock:
                if self.model is not None and self.model_name == name:
                    return self.model_hash
                new = None
                try:
                    new = await self.call(self.runner.load, name)
                    await self.call(self.runner.check, new)
                except Exception as exc:
                    if new is not None:
                        with contextlib.suppress(Exception):
                            await self.call(self.runner.unload, new)
                    with contextlib.suppress(Exception):
                        await self.call(self.runner.free_memory)
                    raise ModelSwitchError(
                        WorkerProblem.MODEL_SWITCH_FAILED,
                        model=name,
                        detail=detail_of(exc),
                        kept=self.model_name,
                    ) from exc
                old, self.model, self.model_name = self.model, new, name
                self.model_hash = self.runner.model_hash(new)
                self._calls_since_load = 0
                if old is not None:
                    with contextlib.suppress(Exception):
                        await self.call(self.runner.unload, old)
                return self.model_hash
        finally:
            self._switching -= 1
            if self.free:
                self.on_free()

    # -- batches ------------------------------------------------------------------------------

    def submit(self, batch: Batch) -> None:
        # (a switch may have begun since the worker was seen free: the batch waits for it)
        if self._batch is not None:
            raise RuntimeError(f"worker {self.id} already holds batch {self._batch.id}")
        self._batch = batch
        self.current = list(batch.jobs)  # cancellable from now on
        self._cancelled.clear()
        self._task = asyncio.create_task(self._serve(batch), name=f"worker-{self.id}-{batch.id}")

    def cancel(self, job_id: str) -> bool:
        """Cancel a job the worker holds; the pipeline stops within one step."""
        if job_id not in {job.job_id for job in self.current}:
            return False
        self._cancelled.add(job_id)
        if job_id in self._running and self._token is not None:
            self._token.cancel()
        return True

    def _is_cancelled(self, job_id: str) -> bool:
        return job_id in self._cancelled

    async def stop(self) -> None:
        """Stop the pipeline in flight (its jobs are reported interrupted), free the model, end the thread."""
        self._stopping = True
        if self._token is not None:
            self._token.cancel()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        async with self.lock:
            await self._wait_finishers()
            if self._background:
                await asyncio.gather(*self._background, return_exceptions=True)
            if self.model is not None:
                model, self.model = self.model, None
                with contextlib.suppress(Exception):
                    await self.call(self.runner.unload, model)
        self._executor.shutdown(wait=True)

    async def _serve(self, batch: Batch) -> None:
        sink = self.sink
        assert sink is not None
        try:
            async with self.lock:
                if self._stopping:
                    raise _Stop
                await self._run_jobs(sink, batch)
        except _Stop:
            rest = [job.job_id for job in self.current if not self._is_cancelled(job.job_id)]
            if rest:
                with contextlib.suppress(Exception):
                    await sink.batch_interrupted(batch.id, rest)
        except Exception:  # a bug: the jobs must not hang
            log.exception("worker %s failed on jobs %s", self.id, list(batch.job_ids))
            for job in self.current:
                with contextlib.suppress(Exception):
                    await sink.job_failed(JobFailed(batch.id, job.job_id, Problem(WorkerProblem.INTERNAL)))
        finally:
            self.current = []
            self._batch = None
            self._task = None
            if self.free:
                self.on_free()

    async def _run_jobs(self, sink: BatchSink, batch: Batch) -> None:
        jobs = await self._drop_cancelled(sink, batch, list(batch.jobs))
        if not jobs:
            return
        try:
            await self.ensure_model(batch.model)
        except Exception as exc:
            log.warning("could not load model %s: %s", batch.model, exc)
            with contextlib.suppress(Exception):
                await self.call(self.runner.free_memory)
            problem = Problem(WorkerProblem.MODEL_NOT_LOADED, model=batch.model, detail=detail_of(exc))
            for job in jobs:
                await self._finish(sink, batch, job, problem)
            return
        # reported while the pipeline already runs (the row update cannot resurrect a finished job)
        started = asyncio.create_task(
            sink.batch_started(BatchStarted(batch.id, self.id, batch.model, self.model_hash))
        )
        self._background.add(started)
        started.add_done_callback(self._background.discard)
        pending = [jobs]
        while pending:
            group = await self._drop_cancelled(sink, batch, pending.pop(0))
            if not group:
                continue
            try:
                generated, seconds = await self._generate(sink, batch, group)
            except _CancelledBatch:
                rest = [job for job in group if not self._is_cancelled(job.job_id)]
                for job in group:
                    if self._is_cancelled(job.job_id):
                        await sink.job_cancelled(batch.id, job.job_id)
                if rest:
                    pending.insert(0, rest)
                continue
            except _Stop:
                raise
            except Exception as exc:
                out_of_memory = self.runner.is_out_of_memory(exc)
                if out_of_memory:
                    log.warning("out of memory on %s; freeing memory", [j.job_id for j in group])
                    with contextlib.suppress(Exception):
                        await self.call(self.runner.free_memory)
                if len(group) > 1:
                    ids = [j.job_id for j in group]
                    log.info("batch %s failed (%s); retrying its jobs one by one", ids, exc)
                    pending[0:0] = [[job] for job in group]
                else:
                    log.info("job %s failed: %r", group[0].job_id, exc)
                    await self._finish(
                        sink, batch, group[0], failure_problem(exc, out_of_memory=out_of_memory)
                    )
                continue
            if self._calls_since_load:
                sink.call_measured(CallMeasured(batch.id, tuple(j.job_id for j in group), seconds))
            self._calls_since_load += 1
            # Encoding and reporting overlap the next pipeline call: the GPU does not wait for PNGs.
            # From here on the group's jobs can no longer be cancelled.
            cancelled = {job.job_id for job in group if self._is_cancelled(job.job_id)}
            finishing = {job.job_id for job in group}
            self.current = [job for job in self.current if job.job_id not in finishing]
            task = asyncio.create_task(
                self._encode_group(
                    sink,
                    batch,
                    group,
                    generated,
                    seconds,
                    cancelled,
                    self.model_name,
                    self.model_hash,
                    started,
                )
            )
            self._finishers.add(task)
            task.add_done_callback(self._finishers.discard)
            await self._wait_finishers(MAX_FINISHING)

    async def _encode_group(
        self,
        sink: BatchSink,
        batch: Batch,
        group: list[BatchJob],
        generated: Generated,
        seconds: float,
        cancelled: set[str],
        model_name: str | None,
        model_hash: str | None,
        started: asyncio.Task[None],
    ) -> None:
        images, applied = generated.images, generated.applied
        shares = split_seconds(seconds, [len(imgs) for imgs in images])

        async def encode(
            job: BatchJob, job_images: list[Any], used: tuple[Applied, ...]
        ) -> EncodedImages | None:
            if job.job_id in cancelled:
                return None
            return await asyncio.to_thread(
                functools.partial(self.runner.encode, applied=used),
                job.request,
                job_images,
                model_name or batch.model,
                model_hash,
            )

        # the jobs' PNGs are encoded side by side (zlib lets go of the GIL), then reported in order
        results = await asyncio.gather(
            *(encode(job, imgs, used) for job, imgs, used in zip(group, images, applied, strict=True)),
            return_exceptions=True,
        )
        try:
            await started  # the rows say running before they say done
        except Exception:
            log.exception("reporting the start of %s failed", [job.job_id for job in group])
        for job, encoded, share, used in zip(group, results, shares, applied, strict=True):
            try:
                if job.job_id in cancelled:
                    await sink.job_cancelled(batch.id, job.job_id)
                elif isinstance(encoded, BaseException):
                    log.error("encoding the images of %s failed", job.job_id, exc_info=encoded)
                    problem = Problem(WorkerProblem.NOT_SAVED, detail=detail_of(encoded))
                    await sink.job_failed(JobFailed(batch.id, job.job_id, problem))
                else:
                    assert encoded is not None
                    result = JobResult(
                        batch_id=batch.id,
                        job_id=job.job_id,
                        images=tuple(
                            ImageResult(png, seed)
                            for png, seed in zip(encoded.images, encoded.seeds, strict=True)
                        ),
                        grid=encoded.grid,
                        gpu_seconds=share,
                        applied=combined(used),
                    )
                    self.jobs_done += 1
                    await sink.job_done(result)
            except Exception:
                log.exception("reporting the result of %s failed", job.job_id)
                with contextlib.suppress(Exception):
                    await sink.job_failed(JobFailed(batch.id, job.job_id, Problem(WorkerProblem.INTERNAL)))

    async def _wait_finishers(self, at_most: int = 0) -> None:
        """Wait until at most `at_most` groups are still being encoded."""
        while len(self._finishers) > at_most:
            await asyncio.wait(set(self._finishers), return_when=asyncio.FIRST_COMPLETED)

    async def _finish(self, sink: BatchSink, batch: Batch, job: BatchJob, problem: Problem) -> None:
        if self._is_cancelled(job.job_id):
            await sink.job_cancelled(batch.id, job.job_id)
        else:
            await sink.job_failed(JobFailed(batch.id, job.job_id, problem))

    async def _drop_cancelled(self, sink: BatchSink, batch: Batch, jobs: list[BatchJob]) -> list[BatchJob]:
        keep = []
        for job in jobs:
            if self._is_cancelled(job.job_id):
                await sink.job_cancelled(batch.id, job.job_id)
            else:
                keep.append(job)
        return keep

    async def _generate(self, sink: BatchSink, batch: Batch, jobs: list[BatchJob]) -> tuple[Generated, float]:
        if self._stopping:
            raise _Stop
        loop = asyncio.get_running_loop()
        token = self.runner.cancel_token()
        want_preview = batch.previews
        ids = tuple(job.job_id for job in jobs)
        last = time.monotonic()

        def on_progress(step: int, total: int, previews: Previews = ()) -> None:
            # At most one report per PROGRESS_INTERVAL (and the last step): each one wakes the
            # event loop, which then competes with the pipeline's Python code for the GIL.
            nonlocal last
            now = time.monotonic()
            if now - last < PROGRESS_INTERVAL and step < total:
                return
            last = now
            data: list[bytes | None] = [None] * len(jobs)
            if want_preview and callable(previews):
                previews = previews()
            if want_preview and previews:
                if len(previews) != len(jobs):  # one for the whole call: everyone sees it
                    previews = [previews[0]] * len(jobs)
                data = [None if p is None else encode_preview(p) for p in previews]
            report = BatchProgress(batch.id, ids, step, total, tuple(data))
            loop.call_soon_threadsafe(sink.batch_progress, report)

        def run() -> tuple[Generated, float]:
            start = time.perf_counter()
            result = self.runner.generate(
                self.model,
                [job.request for job in jobs],
                sources=[job.source for job in jobs],
                masks=[job.mask for job in jobs],
                on_progress=on_progress,
                cancel=token,
                want_preview=want_preview,
            )
            return Generated.of(result), time.perf_counter() - start

        self._token = token
        self._running = set(ids)
        try:
            if any(self._is_cancelled(job_id) for job_id in ids):
                token.cancel()
            generated, seconds = await self.call(run)
        except Exception as exc:
            if self._stopping:
                raise _Stop from exc
            # Runners raise the engine's Cancelled when their token stops a call.
            if isinstance(exc, Cancelled) or getattr(token, "cancelled", False):
                raise _CancelledBatch from exc
            raise
        finally:
            self._token = None
            self._running = set()
        if self._stopping:
            raise _Stop
        if len(generated.images) != len(jobs) or len(generated.applied) != len(jobs):
            raise RuntimeError(
                f"the pipeline returned {len(generated.images)} results for {len(jobs)} requests"
            )
        return generated, seconds


# -- the pool ------------------------------------------------------------------------------------


class LocalWorkerPool(WorkerPool):
    """`workers` in-process workers sharing one runner; each has its own GPU thread and model."""

    def __init__(self, runner: Runner, *, workers: int = 1, device: str = "local") -> None:
        if workers < 1:
            raise ValueError(f"a pool needs at least one worker, not {workers}")
        self.runner = runner
        node = socket.gethostname()
        self._workers = {
            f"local-{i}": LocalWorker(f"local-{i}", runner, node=node, device=device, thread_name=f"gpu{i}")
            for i in range(workers)
        }
        self._freed = asyncio.Event()
        self._sink: BatchSink | None = None
        self._stopping = False
        for worker in self._workers.values():
            worker.on_free = self._freed.set

    async def start(self, sink: BatchSink) -> None:
        self._sink = sink
        for worker in self._workers.values():
            worker.sink = sink

    async def stop(self) -> None:
        self._stopping = True
        self._freed.set()
        await asyncio.gather(*(worker.stop() for worker in self._workers.values()))

    def workers(self) -> list[WorkerInfo]:
        return [worker.info() for worker in self._workers.values()]

    def free_workers(self) -> list[WorkerInfo]:
        if self._stopping:
            return []
        return [worker.info() for worker in self._workers.values() if worker.free]

    async def wait_free(self) -> WorkerInfo | None:
        while not self._stopping:
            free = self.free_workers()
            if free:
                return free[0]
            self._freed.clear()
            await self._freed.wait()
        return None

    async def submit(self, worker_id: str, batch: Batch) -> None:
        if self._sink is None:
            raise RuntimeError("the pool is not started")
        if self._stopping:
            await self._sink.batch_interrupted(batch.id, batch.job_ids)
            return
        self._workers[worker_id].submit(batch)

    async def cancel(self, job_id: str) -> bool:
        return any(worker.cancel(job_id) for worker in self._workers.values())

    async def switch_model(self, name: str, *, worker_id: str | None = None) -> str | None:
        targets = [self._workers[worker_id]] if worker_id is not None else list(self._workers.values())
        results = await asyncio.gather(*(w.switch_model(name) for w in targets), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return results[0]  # type: ignore[return-value]

    def model_names(self) -> list[str]:
        return list(self.runner.model_names())
