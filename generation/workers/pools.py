"""Building the worker pool a configuration asks for (the one place that picks a pool class).

Whoever starts the job service (the bot, the demo, the benchmarks) builds its pool here and hands
it over: the service itself knows only the `WorkerPool` protocol, so it stays torch-free.
"""

from __future__ import annotations

from typing import Any

from generation.settings import Settings
from generation.workers.local import LocalWorkerPool
from generation.workers.protocol import WorkerPool


def build_pool(settings: Settings, *, runner: Any = None) -> WorkerPool:
    """The configured pool: one in-process worker running `runner` (default: the real pipeline)."""
    if runner is None:
        from generation.workers.runner import PipelineRunner  # the torch side, only when it runs

        runner = PipelineRunner(settings)
    return LocalWorkerPool(runner, device=settings.models.device)
