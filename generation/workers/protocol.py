"""The seam between the job service and GPU workers: what a worker receives, what it reports.

The job service owns the queue, the database and the events; a `WorkerPool` owns the workers and
their models. The service hands a free worker a `Batch` (the jobs' requests, and source images and
inpaint masks as bytes: a worker never reads paths or a shared disk); the pool reports back to a
`BatchSink` on the event loop: the batch started (on which model), progress, and exactly one
outcome per job (done with its PNG bytes, failed with a Problem, cancelled, or interrupted because
the pool stops).

Everything here is plain data and async calls, so a pool whose workers live in other processes
or on other machines is another class behind the same protocol: nothing is shared but bytes, and
every state the service keeps can be rebuilt from its database and `workers()`.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from generation.problems import Problem
from generation.requests.applied import Applied
from generation.requests.request import GenerationRequest

# -- what a worker receives -----------------------------------------------------------------------


@dataclass(frozen=True)
class BatchJob:
    job_id: str
    request: GenerationRequest
    source: bytes | None = None  # the source image (img2img, upscale, the edits) as encoded bytes
    mask: bytes | None = None  # an inpaint's mask (`request.edit.mask`) as encoded bytes, white repaints


@dataclass(frozen=True)
class Batch:
    """Jobs for one worker, run on `model`; compatible txt2img jobs share pipeline calls."""

    id: str
    model: str
    jobs: tuple[BatchJob, ...]
    attempt: int = 1  # 1 the first time; a pool that sends a batch again after losing a worker counts up
    previews: bool = False  # someone watches these jobs with previews: render them

    @property
    def job_ids(self) -> tuple[str, ...]:
        return tuple(job.job_id for job in self.jobs)


# -- what a worker reports ------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchStarted:
    batch_id: str
    worker_id: str
    model: str
    model_hash: str | None


@dataclass(frozen=True)
class BatchProgress:
    """A step of a pipeline call running `job_ids` (a batch's jobs, or some of them)."""

    batch_id: str
    job_ids: tuple[str, ...]
    step: int
    total: int
    previews: tuple[bytes | None, ...] = ()  # PNG bytes per job (empty: none rendered)


@dataclass(frozen=True)
class CallMeasured:
    """A pipeline call's GPU seconds (not the first call after a load, which includes warm-up)."""

    batch_id: str
    job_ids: tuple[str, ...]
    seconds: float


@dataclass(frozen=True)
class ImageResult:
    png: bytes  # with the A1111 `parameters` text chunk
    seed: int


@dataclass(frozen=True)
class JobResult:
    batch_id: str
    job_id: str
    images: tuple[ImageResult, ...]
    grid: bytes | None  # PNG of the grid (None: none made)
    gpu_seconds: float  # the job's share of its pipeline call
    # What the job's images were made with (LoRAs, embeddings, VAE, clip skip) and what was left
    # out and why; None: the runner does not say. Each PNG's infotext records its own image's.
    applied: Applied | None = None


@dataclass(frozen=True)
class JobFailed:
    batch_id: str
    job_id: str
    problem: Problem


class WorkerState(enum.StrEnum):
    IDLE = "idle"  # takes a batch
    BUSY = "busy"  # running a batch
    LOADING = "loading"  # switching models


@dataclass(frozen=True)
class WorkerInfo:
    id: str
    node: str  # the machine it runs on
    device: str
    model: str | None  # the loaded model
    state: WorkerState
    jobs: tuple[str, ...] = ()  # the jobs it is working on
    jobs_done: int = 0
    model_hash: str | None = None
    models: tuple[str, ...] = ()  # what it can load, when its pool knows (a cluster's: its own folder)

    @property
    def free(self) -> bool:
        return self.state is WorkerState.IDLE


class WorkerProblem(enum.StrEnum):
    """Codes of a job's failure on a worker (the Problem's fields in the comments)."""

    OUT_OF_MEMORY = "out_of_memory"
    SOURCE_UNREADABLE = "source_unreadable"  # detail
    MASK_UNREADABLE = "mask_unreadable"  # detail: an inpaint's mask is missing or not an image
    MODEL_NOT_LOADED = "model_not_loaded"  # model, detail
    MODEL_UNUSABLE = "model_unusable"  # detail
    INVALID_REQUEST = "invalid_request"  # detail
    GENERATION_FAILED = "generation_failed"  # detail
    NOT_SAVED = "images_not_saved"  # detail
    INTERNAL = "internal_error"
    MODEL_SWITCH_FAILED = "model_switch_failed"  # model, detail, kept (the model that stays, or None)
    WORKERS_LOST = "workers_lost"  # attempts: the job's worker died under it that many times (a cluster)


def detail_of(exc: BaseException, limit: int = 300) -> str:
    """An exception's text for a problem's `detail` field (its class name when empty), bounded."""
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ModelSwitchError(Problem):
    """The model could not be switched to; the old one stays. Codes: WorkerProblem.MODEL_SWITCH_FAILED,
    or the job service's Refusal.UNKNOWN_MODEL (model, names) for a model that does not exist."""


class BatchSink(Protocol):
    """Where a pool reports, on the event loop. Each job of a submitted batch gets exactly one of
    job_done, job_failed, job_cancelled or batch_interrupted."""

    async def batch_started(self, started: BatchStarted) -> None: ...

    def batch_progress(self, progress: BatchProgress) -> None: ...

    def call_measured(self, measured: CallMeasured) -> None: ...

    async def job_done(self, result: JobResult) -> None: ...

    async def job_failed(self, failed: JobFailed) -> None: ...

    async def job_cancelled(self, batch_id: str, job_id: str) -> None: ...

    async def batch_interrupted(self, batch_id: str, job_ids: Sequence[str]) -> None:
        """The pool is stopping: these jobs did not finish and should run again later."""

    async def batch_lost(self, batch_id: str, job_ids: Sequence[str]) -> None:
        """The worker holding these jobs died (a pool of worker processes reports it): they go back
        to the front of the queue at once."""


class WorkerPool(abc.ABC):
    """GPU workers, each with its own loaded model, serving one batch at a time."""

    @abc.abstractmethod
    async def start(self, sink: BatchSink) -> None:
        """Start the workers; reports go to `sink` from now on."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Interrupt the batches in flight (reported as interrupted), free the models, end the workers."""

    @abc.abstractmethod
    def workers(self) -> list[WorkerInfo]: ...

    def free_workers(self) -> list[WorkerInfo]:
        return [worker for worker in self.workers() if worker.free]

    @abc.abstractmethod
    async def wait_free(self) -> WorkerInfo | None:
        """A worker that takes a batch now, once there is one (None: the pool is stopping)."""

    @abc.abstractmethod
    async def submit(self, worker_id: str, batch: Batch) -> None:
        """Give a free worker a batch; returns once it is accepted (outcomes come to the sink)."""

    @abc.abstractmethod
    async def cancel(self, job_id: str) -> bool:
        """Stop a job a worker holds (within a step); False when no worker holds it."""

    @abc.abstractmethod
    async def switch_model(self, name: str, *, worker_id: str | None = None) -> str | None:
        """Load `name` and check it with a tiny generation on one worker (or every one), then free
        the old model; waits for the batch in flight. Returns the model's hash. Raises
        ModelSwitchError, and that worker keeps its old model."""

    @abc.abstractmethod
    def model_names(self) -> list[str]:
        """The models the workers can load."""

    def loaded_models(self) -> dict[str, str | None]:
        """What each worker has loaded, by worker id."""
        return {worker.id: worker.model for worker in self.workers()}

    @property
    def capacity(self) -> int:
        """How many batches run side by side."""
        return len(self.workers())
