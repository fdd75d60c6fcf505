"""A cluster for one test: the session's Ray and PostgreSQL, a dispatcher and workers of its own.

    async with cluster_running(tmp_path, pg_url, workers=3) as service:   # a ClusterService
        job = await service.submit(request(), JobOwner(1))

Workers run `FakeRunner`s (generation.workers.fakes) unless `runner` says otherwise; each test's
cluster has its own name, so its actors and channels are its own, and they are shut down after
it. `worker_stats(service)` asks every worker actor what it loaded and which batches it ran.
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from pathlib import Path
from typing import Any

from generation.cluster.client import ClusterService
from generation.cluster.worker import RunnerSpec, fake_runner
from generation.settings import ClusterSettings, QueueSettings, QuotaSettings, Settings, StoreSettings
from tests.helpers.service_env import make_settings


def cluster_settings(
    tmp: Path,
    pg_url: str,
    *,
    workers: int = 2,
    model_wait: float = 30.0,
    queue: QueueSettings | None = None,
    quota: QuotaSettings | None = None,
    name: str | None = None,
    base: Settings | None = None,
) -> Settings:
    base = base or make_settings(tmp, queue=queue or QueueSettings(per_user=20, batch_size=1), quota=quota)
    return base.replace(
        cluster=ClusterSettings(
            mode="ray",
            workers=workers,
            name=name or f"t{uuid.uuid4().hex[:10]}",
            model_wait=model_wait,
            heartbeat=0.5,
        ),
        store=StoreSettings(url=pg_url),
    )


@contextlib.asynccontextmanager
async def cluster_running(
    tmp: Path, pg_url: str, *, runner: RunnerSpec | None = None, settings: Settings | None = None, **kw: Any
):
    settings = settings or cluster_settings(tmp, pg_url, **kw)
    service = await ClusterService.open(settings, runner=runner or fake_runner())
    try:
        await service.start()
        yield service
    finally:
        await service.shutdown_cluster()
        await service.close()


def worker_actor(service: ClusterService, worker_id: str) -> Any:
    import ray

    from generation.cluster import runtime

    cluster = service.settings.cluster
    return ray.get_actor(runtime.worker_actor_name(cluster, worker_id), namespace=runtime.namespace(cluster))


async def worker_stats(service: ClusterService) -> dict[str, dict[str, Any]]:
    """Per worker id: {"loads": [models], "batches": [job ids per batch], "calls": [prompts per
    pipeline call], "pid": its process}."""
    return {worker.id: await worker_actor(service, worker.id).stats.remote() for worker in service.workers()}


def with_queue(settings: Settings, **changes: Any) -> Settings:
    return settings.replace(queue=dataclasses.replace(settings.queue, **changes))
