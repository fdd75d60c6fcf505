"""Joining or starting Ray, and the names the cluster's pieces find each other by.

One machine (`[cluster] address = ""`): a local Ray is started in this process with `workers` worker
slots (the custom resource WORKER_RESOURCE; its GPUs, if any, are found by Ray). Several machines:
`ray start --head` where the bot runs, `ray start --address HEAD:6379` on each GPU machine, and
`address = "auto"`. Ray must be started from the main thread: it ties its processes to the
thread that started them.

Names: the dispatcher actor, the worker actors and the PostgreSQL channels all carry the
cluster's `name`, so clusters (one per test, say) can share a Ray and a server.
"""

from __future__ import annotations

import logging
from typing import Any

from generation.settings import ClusterSettings

log = logging.getLogger(__name__)

WORKER_RESOURCE = "imagine_worker"  # one GPU-worker slot on a host without GPUs (tests, CPU demo)
HEAD_RESOURCE = "imagine_head"  # unused by Ray itself: documents which node hosts the bot


def namespace(cluster: ClusterSettings) -> str:
    return cluster.name


def dispatcher_name(cluster: ClusterSettings) -> str:
    return f"{cluster.name}-dispatcher"


def worker_actor_name(cluster: ClusterSettings, worker_id: str) -> str:
    return f"{cluster.name}-worker-{worker_id}"


def channel(cluster: ClusterSettings, kind: str) -> str:
    """A PostgreSQL NOTIFY channel of this cluster: `submit` (bot -> dispatcher), `events` (back)."""
    return f"{cluster.name}_{kind}"


def connect(cluster: ClusterSettings, **init: Any) -> str:
    """Join the configured Ray (or start a local one); the cluster's GCS address."""
    import ray

    if not ray.is_initialized():
        options: dict[str, Any] = {"include_dashboard": False, "logging_level": "WARNING", **init}
        if cluster.address:
            ray.init(address=cluster.address, **options)
        else:
            slots = max(cluster.workers, 1)
            ray.init(resources={WORKER_RESOURCE: slots, **options.pop("resources", {})}, **options)
        log.info("Ray: %s", ray.get_runtime_context().gcs_address)
    return ray.get_runtime_context().gcs_address


def node_id() -> str:
    """This process's Ray node (where the dispatcher is placed: beside the bot and its artifacts)."""
    import ray

    return ray.get_runtime_context().get_node_id()
