"""The things that flow through the job service: a job, its owner, its images, its status, its events.

"Terminal" is defined once: `TERMINAL_EVENTS` (the event kinds after which a job has no more
events) and `FINISHED_STATUSES` (the statuses of a job that ended) name the same three outcomes.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from generation.requests.applied import Applied
from generation.requests.request import GenerationRequest

if TYPE_CHECKING:
    from generation.problems import Problem
    from generation.safety.check import ImageCheck

ID_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # url-safe, no 0/o/1/l look-alikes
ID_LENGTH = 10  # 32**10 ~ 1e15

LEGACY_ERROR = "legacy"  # the problem code of an error stored as plain text by an older version


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in FINISHED_STATUSES


class EventKind(enum.StrEnum):
    QUEUED = "queued"  # accepted (position and ETA)
    RESUMED = "resumed"  # queued again at start, left unfinished by an earlier process
    POSITION = "position"  # its place in the queue changed
    STARTED = "started"  # a worker started it (ETA: until it ends)
    PROGRESS = "progress"  # a step done (and maybe a preview)
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_EVENTS


TERMINAL_EVENTS: frozenset[EventKind] = frozenset({EventKind.DONE, EventKind.FAILED, EventKind.CANCELLED})
FINISHED_STATUSES: frozenset[JobStatus] = frozenset(JobStatus(kind.value) for kind in TERMINAL_EVENTS)


@dataclass(frozen=True)
class JobOwner:
    user_id: int
    guild_id: int | None = None
    channel_id: int | None = None
    role_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class JobImage:
    index: int
    seed: int
    key: str  # in the artifact store (generation.jobs.artifacts), e.g. "<job_id>/0.png"


@dataclass(frozen=True)
class Job:
    id: str
    owner: JobOwner
    request: GenerationRequest
    status: JobStatus
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    gpu_seconds: float = 0.0
    error: Problem | None = None  # why it failed
    model_name: str | None = None
    model_hash: str | None = None
    grid_key: str | None = None  # artifact key of the grid ("<job_id>/grid.png")
    images: tuple[JobImage, ...] = ()
    parent_id: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    priority: int = 1  # 0: served before everyone else (a priority role)
    attempts: int = 0  # times started (a job resumed after a crash starts again)
    image_check: ImageCheck | None = None  # the image check's decision and scores (generation.safety)
    # What its images were made with (LoRAs, embeddings, VAE, clip skip) and what was left out and
    # why, as its worker reported it; None until done (and for jobs done before this was kept).
    applied: Applied | None = None

    @property
    def user_id(self) -> int:
        return self.owner.user_id

    def replace(self, **changes: Any) -> Job:
        return replace(self, **changes)


def new_job_id() -> str:
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


@dataclass(frozen=True)
class JobEvent:
    job_id: str
    kind: EventKind
    position: int | None = None  # 1 = next
    eta: float | None = None  # seconds until it starts (queued) or ends (running)
    step: int | None = None
    total: int | None = None
    preview: bytes | None = None  # PNG bytes of a small preview
    problem: Problem | None = None  # why it failed (a front end words it)
    job: Job | None = None  # the job's row at started/done/failed/cancelled (and queued/resumed)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", EventKind(self.kind))  # a plain string is checked here

    @property
    def terminal(self) -> bool:
        return self.kind.terminal
