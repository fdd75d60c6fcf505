"""The things that flow through the job service: a job, its owner, its images, its status."""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from generation.requests.request import GenerationRequest

ID_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # url-safe, no 0/o/1/l look-alikes
ID_LENGTH = 10  # 32**10 ~ 1e15


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)


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
    path: Path


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
    error: str | None = None
    model_name: str | None = None
    model_hash: str | None = None
    grid_path: Path | None = None
    images: tuple[JobImage, ...] = ()
    parent_id: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    priority: int = 1  # 0: served before everyone else (a priority role)
    attempts: int = 0  # times started (a job resumed after a crash starts again)

    @property
    def user_id(self) -> int:
        return self.owner.user_id

    def replace(self, **changes: Any) -> Job:
        return replace(self, **changes)


def new_job_id() -> str:
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))
