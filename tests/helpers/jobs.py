"""A finished job to derive from or render, for unit tests (no service, no database)."""

from __future__ import annotations

import time

from generation.jobs.types import Job, JobImage, JobOwner, JobStatus
from generation.requests.request import GenerationRequest


def make_job(request: GenerationRequest | None = None, *, depth: int = 0, count: int = 4) -> Job:
    """Job `abcdefgh23` of user 11: `count` images of a 64x64 request with seeds from 100 on,
    made by the model `tiny`; `depth` upscales behind it (in the bot's meta)."""
    request = request or GenerationRequest("a red circle", width=64, height=64, seed=100, count=count)
    images = tuple(JobImage(i, request.seed + i, f"abcdefgh23/{i}.png") for i in range(request.count))
    return Job(
        id="abcdefgh23",
        owner=JobOwner(11, 22, 33),
        request=request,
        status=JobStatus.DONE,
        created_at=time.time(),
        grid_key="abcdefgh23/grid.png",
        images=images,
        model_name="tiny",
        meta={"depth": depth},
    )
