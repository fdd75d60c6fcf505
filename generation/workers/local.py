"""The GPU loop: one worker owns the loaded model and runs pipelines on one dedicated thread.

The event loop never runs a pipeline: every model operation (load, check, generate, unload) goes
to a single-thread executor, so the bot stays responsive and the model is only ever touched from
one thread. The worker asks its host (the scheduler) for the next batch, runs it, and reports each
job's outcome back; the host owns the queue, the database and the events.

A finished call's images are saved (PNG encoding, on helper threads) and recorded while the next
call already runs, and progress is reported at most every PROGRESS_INTERVAL, so the GPU waits
for neither. What can go wrong stays with the job it concerns: when a batch of several jobs
fails, its jobs are retried one by one so only the bad one fails; on CUDA out-of-memory the
worker frees what it can (gc, `torch.cuda.empty_cache()`) and goes on. Cancelling one job of a
running batch stops the pipeline within one step; the batch's other jobs run again at once
without it.

Everything that needs torch or diffusers sits behind the `Runner` protocol: `PipelineRunner` is
the real one (generation.models, generation.engine, generation.images, imported lazily, so this
module stays torch-free at import time); tests inject runners that fail on purpose.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import io
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from generation.jobs.quotas import split_seconds
from generation.progress import Cancelled, CancelToken
from generation.requests.request import GenerationRequest

if TYPE_CHECKING:
    from generation.jobs.types import Job
    from generation.settings import Settings

log = logging.getLogger(__name__)

# Previews of a progress report: one image per request, or a function that renders them on demand.
Previews = Sequence[Any] | Callable[[], Sequence[Any]]

CHECK_REQUEST = GenerationRequest(
    prompt="a test", width=64, height=64, steps=1, count=1, seed=0, cfg_scale=7.0
)


# -- the runner: what touches the model ----------------------------------------------------------


@dataclass(frozen=True)
class Saved:
    """Where a job's images went (the shape of generation.images.SavedImages)."""

    grid: Path | None
    images: list[Path]
    seeds: list[int]


class Runner(Protocol):
    """The model side of the worker. Every method but `model_names` and `cancel_token` is called
    on the worker's GPU thread (`save` on a helper thread), never on the event loop."""

    def model_names(self) -> list[str]: ...

    def load(self, name: str) -> Any: ...

    def check(self, model: Any) -> None:
        """A tiny generation that proves the model works; raises when it does not."""

    def generate(
        self,
        model: Any,
        requests: Sequence[GenerationRequest],
        *,
        on_progress: Callable[[int, int, Previews], None] | None,
        cancel: Any,
        want_preview: bool,
    ) -> list[list[Any]]:
        """One list of images per request; `on_progress(step, total, previews)` from the GPU
        thread, `previews` one image per request (or empty when none were asked for), or a
        function returning them, called only for the reports the worker keeps."""

    def unload(self, model: Any) -> None: ...

    def model_hash(self, model: Any) -> str | None: ...

    def save(
        self,
        job_id: str,
        request: GenerationRequest,
        images: list[Any],
        model_name: str,
        model_hash: str | None,
    ) -> Saved: ...

    def cancel_token(self) -> Any: ...

    def is_out_of_memory(self, exc: BaseException) -> bool: ...

    def free_memory(self) -> None: ...


class PipelineRunner:
    """The real runner: checkpoints from the models directory, the engine, PNGs in outputs_dir."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._registry: Any = None

    @property
    def registry(self) -> Any:
        if self._registry is None:
            from generation.models import ModelRegistry

            self._registry = ModelRegistry(self.settings.paths.models_dir, self.settings.models.hub_models)
        return self._registry

    def model_names(self) -> list[str]:
        return list(self.registry.names())

    def load(self, name: str) -> Any:
        from generation.models import load_model

        entry = self.registry.get(name)
        return load_model(entry, self.settings.models, registry=self.registry)

    def check(self, model: Any) -> None:
        self.generate(
            model,
            [CHECK_REQUEST.replace(model=model.name)],
            on_progress=None,
            cancel=None,
            want_preview=False,
        )

    def generate(self, model, requests, *, on_progress, cancel, want_preview):
        from generation.pipelines.engine import generate

        callback = None
        if on_progress is not None:

            def callback(progress: Any) -> None:
                # Previews stay lazy: rendered only if the worker keeps this step's report.
                on_progress(progress.step, progress.total, lambda: progress.previews)

        return generate(
            model,
            list(requests),
            on_progress=callback,
            cancel=cancel,
            want_preview=want_preview,
            settings=self.settings.models,
        )

    def unload(self, model: Any) -> None:
        from generation.models import unload_model

        unload_model(model)

    def model_hash(self, model: Any) -> str | None:
        return getattr(model, "short_hash", None)

    def save(self, job_id, request, images, model_name, model_hash) -> Saved:
        from generation.images.saving import save_job_images

        saved = save_job_images(
            self.settings.paths.outputs_dir, job_id, request, images, model_name, model_hash
        )
        return Saved(saved.grid, list(saved.images), list(saved.seeds))

    def cancel_token(self) -> CancelToken:
        return CancelToken()

    def is_out_of_memory(self, exc: BaseException) -> bool:
        return is_out_of_memory(exc)

    def free_memory(self) -> None:
        free_memory()


def is_out_of_memory(exc: BaseException) -> bool:
    return type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower()


def free_memory() -> None:
    gc.collect()
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def encode_preview(image: Any) -> bytes | None:
    """PNG bytes of a preview (a PIL image, or bytes already)."""
    if image is None or isinstance(image, bytes):
        return image
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def failure_message(exc: BaseException) -> str:
    """What went wrong, put so the user can act on it."""
    if is_out_of_memory(exc):
        return (
            "The GPU ran out of memory on this job. Try fewer images, a smaller size or no hires fix, "
            "or try again when the queue is quieter."
        )
    name = type(exc).__name__
    text = str(exc).strip() or name
    if len(text) > 300:
        text = text[:297] + "..."
    if name == "ValidationError":
        return text
    if isinstance(exc, FileNotFoundError | IsADirectoryError) or name in (
        "UnidentifiedImageError",
        "DecompressionBombError",
    ):
        return f"The source image could not be read ({text}). Attach a PNG or JPEG image and try again."
    if name in ("ModelNotFound", "ModelLoadError") or "model" in name.lower():
        return f"The model could not be used: {text}"
    return f"The generation failed: {text}. Try other settings, or try again later."


MAX_FINISHING = 2  # groups saved in the background while the next pipeline call runs
PROGRESS_INTERVAL = 0.25  # seconds between progress reports of a pipeline call


class ModelSwitchError(Exception):
    """The new model could not be loaded or checked; the old one stays active."""


# -- the worker ----------------------------------------------------------------------------------


class Host(Protocol):
    """What the worker needs from the scheduler."""

    async def next_batch(self, loaded_model: str | None) -> list[Job] | None: ...

    async def batch_started(self, jobs: list[Job], model_name: str, model_hash: str | None) -> None: ...

    def batch_progress(
        self, jobs: list[Job], step: int, total: int, previews: list[bytes | None]
    ) -> None: ...

    def want_preview(self, jobs: list[Job]) -> bool: ...

    def batch_measured(self, jobs: list[Job], seconds: float) -> None: ...

    async def job_done(self, job: Job, saved: Saved, seconds: float) -> None: ...

    async def job_failed(self, job: Job, message: str) -> None: ...

    async def job_cancelled(self, job: Job) -> None: ...

    async def jobs_interrupted(self, jobs: list[Job]) -> None: ...


class _Stop(Exception):
    """The worker is closing: the jobs go back to the queue for the next start."""


class Worker:
    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.model: Any = None
        self.model_name: str | None = None
        self.model_hash: str | None = None
        self.lock = asyncio.Lock()  # held while the GPU thread is in use
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gpu")
        self._token: Any = None
        self._running: set[str] = set()  # jobs of the pipeline call in flight
        self._cancelled: set[str] = set()
        self._stopping = False
        self.current: list[Job] = []  # the batch being worked on
        self._calls_since_load = 0  # the first call after a load includes warm-up: not measured
        self._finishers: set[asyncio.Task[None]] = set()  # groups whose images are being saved
        self._background: set[asyncio.Task[None]] = set()  # batch starts being recorded

    # -- the thread ---------------------------------------------------------------------------

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run `fn` on the GPU thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    # -- models -------------------------------------------------------------------------------

    async def ensure_model(self, name: str) -> None:
        """Make `name` the loaded model (frees the old one first: a job's model, not a switch)."""
        if self.model is not None and self.model_name == name:
            return
        if self.model is not None:
            old, self.model, self.model_name, self.model_hash = self.model, None, None, None
            await self.call(self.runner.unload, old)
        model = await self.call(self.runner.load, name)
        self.model, self.model_name = model, name
        self.model_hash = self.runner.model_hash(model)
        self._calls_since_load = 0

    async def switch_model(self, name: str) -> str | None:
        """Load `name` and check it with a tiny generation, then swap it in and free the old one.
        Waits for the running batch. Raises ModelSwitchError and keeps the old model on failure."""
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
                kept = f"; {self.model_name} stays active" if self.model_name else ""
                raise ModelSwitchError(f"Could not switch to {name}: {_short(exc)}{kept}.") from exc
            old, self.model, self.model_name = self.model, new, name
            self.model_hash = self.runner.model_hash(new)
            self._calls_since_load = 0
            if old is not None:
                with contextlib.suppress(Exception):
                    await self.call(self.runner.unload, old)
            return self.model_hash

    # -- cancel / stop ------------------------------------------------------------------------

    def cancel(self, job_id: str) -> bool:
        """Cancel a job the worker holds; the pipeline stops within one step."""
        if job_id not in {job.id for job in self.current}:
            return False
        self._cancelled.add(job_id)
        if job_id in self._running and self._token is not None:
            self._token.cancel()
        return True

    def is_cancelled(self, job_id: str) -> bool:
        return job_id in self._cancelled

    async def stop(self) -> None:
        """Stop the pipeline in flight (its jobs go back to the queue), free the model, end the thread."""
        self._stopping = True
        if self._token is not None:
            self._token.cancel()
        async with self.lock:
            await self._wait_finishers()
            if self._background:
                await asyncio.gather(*self._background, return_exceptions=True)
            if self.model is not None:
                model, self.model = self.model, None
                with contextlib.suppress(Exception):
                    await self.call(self.runner.unload, model)
        self._executor.shutdown(wait=True)

    # -- the loop -----------------------------------------------------------------------------

    async def serve(self, host: Host) -> None:
        while not self._stopping:
            jobs = await host.next_batch(self.model_name)
            if jobs is None or self._stopping:
                if jobs:
                    await host.jobs_interrupted(jobs)
                return
            self.current = list(jobs)
            self._cancelled.clear()
            try:
                async with self.lock:
                    await self._run_jobs(host, jobs)
            except _Stop:
                return
            except Exception:  # a bug: keep serving, the jobs must not hang
                log.exception("the worker failed on jobs %s", [j.id for j in jobs])
                for job in self.current:
                    with contextlib.suppress(Exception):
                        await host.job_failed(job, "Something went wrong on our side; the error was logged.")
            finally:
                self.current = []

    async def _run_jobs(self, host: Host, jobs: list[Job]) -> None:
        jobs = await self._drop_cancelled(host, jobs)
        if not jobs:
            return
        model_name = jobs[0].model_name or jobs[0].request.model
        try:
            await self.ensure_model(model_name)
        except Exception as exc:
            log.warning("could not load model %s: %s", model_name, exc)
            with contextlib.suppress(Exception):
                await self.call(self.runner.free_memory)
            message = (
                f"The model {model_name} could not be loaded: {_short(exc)}. "
                "Ask an admin, or pick another model."
            )
            for job in jobs:
                await self._finish(host, job, message)
            return
        # recorded while the pipeline already runs (the row update cannot resurrect a finished job)
        started = asyncio.create_task(host.batch_started(jobs, self.model_name, self.model_hash))
        self._background.add(started)
        started.add_done_callback(self._background.discard)
        pending = [jobs]
        while pending:
            group = await self._drop_cancelled(host, pending.pop(0))
            if not group:
                continue
            try:
                images, seconds = await self._generate(host, group)
            except _Stop:
                await host.jobs_interrupted([j for j in self.current if not self.is_cancelled(j.id)])
                raise
            except _CancelledBatch:
                rest = [job for job in group if not self.is_cancelled(job.id)]
                for job in group:
                    if self.is_cancelled(job.id):
                        await host.job_cancelled(job)
                if rest:
                    pending.insert(0, rest)
                continue
            except Exception as exc:
                if self.runner.is_out_of_memory(exc):
                    log.warning("out of memory on %s; freeing memory", [j.id for j in group])
                    with contextlib.suppress(Exception):
                        await self.call(self.runner.free_memory)
                if len(group) > 1:
                    log.info("batch %s failed (%s); retrying its jobs one by one", [j.id for j in group], exc)
                    pending[0:0] = [[job] for job in group]
                else:
                    log.info("job %s failed: %r", group[0].id, exc)
                    await self._finish(host, group[0], failure_message(exc))
                continue
            if self._calls_since_load:
                host.batch_measured(group, seconds)
            self._calls_since_load += 1
            # Saving and recording overlap the next pipeline call: the GPU does not wait for PNGs.
            # From here on the group's jobs can no longer be cancelled.
            cancelled = {job.id for job in group if self.is_cancelled(job.id)}
            finishing = {job.id for job in group}
            self.current = [job for job in self.current if job.id not in finishing]
            task = asyncio.create_task(
                self._save_group(
                    host, group, images, seconds, cancelled, self.model_name, self.model_hash, started
                )
            )
            self._finishers.add(task)
            task.add_done_callback(self._finishers.discard)
            await self._wait_finishers(MAX_FINISHING)

    async def _save_group(
        self,
        host: Host,
        group: list[Job],
        images: list[list[Any]],
        seconds: float,
        cancelled: set[str],
        model_name: str | None,
        model_hash: str | None,
        started: asyncio.Task[None],
    ) -> None:
        shares = split_seconds(seconds, [len(imgs) for imgs in images])

        async def save(job: Job, job_images: list[Any]) -> Saved | None:
            if job.id in cancelled:
                return None
            return await asyncio.to_thread(
                self.runner.save, job.id, job.request, job_images, model_name, model_hash
            )

        # the jobs' PNGs are encoded side by side (zlib lets go of the GIL), then recorded in order
        results = await asyncio.gather(
            *(save(job, job_images) for job, job_images in zip(group, images, strict=True)),
            return_exceptions=True,
        )
        try:
            await started  # the rows say running before they say done
        except Exception:
            log.exception("recording the start of %s failed", [job.id for job in group])
        for job, saved, share in zip(group, results, shares, strict=True):
            try:
                if job.id in cancelled:
                    await host.job_cancelled(job)
                elif isinstance(saved, BaseException):
                    log.error("saving the images of %s failed", job.id, exc_info=saved)
                    await host.job_failed(job, f"The images could not be saved: {_short(saved)}. Try again.")
                else:
                    await host.job_done(job, saved, share)
            except Exception:
                log.exception("recording the result of %s failed", job.id)
                with contextlib.suppress(Exception):
                    await host.job_failed(job, "Something went wrong on our side; the error was logged.")

    async def _wait_finishers(self, at_most: int = 0) -> None:
        """Wait until at most `at_most` groups are still being saved."""
        while len(self._finishers) > at_most:
            await asyncio.wait(set(self._finishers), return_when=asyncio.FIRST_COMPLETED)

    async def _finish(self, host: Host, job: Job, message: str) -> None:
        if self.is_cancelled(job.id):
            await host.job_cancelled(job)
        else:
            await host.job_failed(job, message)

    async def _drop_cancelled(self, host: Host, jobs: list[Job]) -> list[Job]:
        keep = []
        for job in jobs:
            if self.is_cancelled(job.id):
                await host.job_cancelled(job)
            else:
                keep.append(job)
        return keep

    async def _generate(self, host: Host, jobs: list[Job]) -> tuple[list[list[Any]], float]:
        if self._stopping:
            raise _Stop
        loop = asyncio.get_running_loop()
        token = self.runner.cancel_token()
        want_preview = host.want_preview(jobs)

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
                data = [encode_preview(p) for p in previews]
            loop.call_soon_threadsafe(host.batch_progress, jobs, step, total, data)

        def run() -> tuple[list[list[Any]], float]:
            start = time.perf_counter()
            result = self.runner.generate(
                self.model,
                [job.request for job in jobs],
                on_progress=on_progress,
                cancel=token,
                want_preview=want_preview,
            )
            return result, time.perf_counter() - start

        self._token = token
        self._running = {job.id for job in jobs}
        try:
            if any(self.is_cancelled(job.id) for job in jobs):
                token.cancel()
            images, seconds = await self.call(run)
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
        if len(images) != len(jobs):
            raise RuntimeError(f"the pipeline returned {len(images)} results for {len(jobs)} requests")
        return images, seconds


class _CancelledBatch(Exception):
    pass


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."
