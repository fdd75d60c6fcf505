"""Building the worker pool a configuration asks for (the one place that picks a pool class).

Whoever starts the job service (the bot, the demo, the benchmarks) builds its pool here and hands
it over: the service itself knows only the `WorkerPool` protocol, so it stays torch-free. With
`[cluster] mode = "ray"` the pool lives in the cluster's dispatcher (generation.cluster), and a
front end opens a `ClusterService` instead: `open_service` picks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from generation.settings import Settings
from generation.workers.local import LocalWorkerPool
from generation.workers.protocol import WorkerPool

if TYPE_CHECKING:
    from generation.jobs.service import JobService


def build_pool(settings: Settings, *, runner: Any = None) -> WorkerPool:
    """The configured pool: one in-process worker running `runner` (default: the real pipeline)."""
    if runner is None:
        from generation.workers.runner import PipelineRunner  # the torch side, only when it runs

        runner = PipelineRunner(settings)
    return LocalWorkerPool(runner, device=settings.models.device)


async def open_service(settings: Settings) -> JobService:
    """The job service the configuration asks for: in this process with its local worker (the
    default), or a ClusterService driving the Ray cluster's dispatcher (`[cluster] mode = "ray"`;
    Ray and asyncpg are imported only then)."""
    if settings.cluster.mode == "ray":
        from generation.cluster.client import ClusterService

        return await ClusterService.open(settings)
    from generation.jobs.service import JobService
    from generation.jobs.store import open_store

    store = await open_store(settings)  # first: a bad database stops the start before anything slow
    try:
        pool = build_pool(settings)
    except BaseException:
        await store.close()
        raise
    return await JobService.open(settings, pool=pool, store=store)
