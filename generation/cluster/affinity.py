"""Which jobs a free worker takes: its own checkpoint's first, a model switch only when it must.

Pure (no I/O, no clock). The dispatcher calls `choose_batch` for a free worker with the fair order
of the waiting jobs. The *lead* is the first job in fair order the worker may take:
  - a job for the model the worker holds;
  - any job, for a worker holding no model (loading it evicts nothing);
  - a job for a model no worker holds, unless an empty worker could load it instead;
  - a job that is `urgent`: it waited past the configured bound (`[cluster] model_wait`), or a lost
    worker dropped it.
Every other job waits for a worker holding its model, so with two checkpoints on two workers,
neither reloads. The batch is then filled like the one-worker queue does (FairQueue.plan_batch):
compatible txt2img jobs (same batch key) found soon after the lead in fair order, up to
`batch_size` images. Jobs a worker cannot load (not in its models folder) are never its.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from generation.jobs.fairqueue import QueueItem


@dataclass(frozen=True)
class WorkerView:
    id: str
    model: str | None  # the model it holds (or is loading for the batch it was given)
    models: frozenset[str] | None = None  # what it can load (None: not known, anything)

    def can_load(self, model: str | None) -> bool:
        return model is None or self.models is None or model in self.models


def choose_batch(
    order: Sequence[QueueItem],
    worker: WorkerView,
    others: Sequence[WorkerView],
    *,
    urgent: Callable[[QueueItem], bool],
    batch_size: int,
    scan: int,
) -> list[QueueItem]:
    """The lead job for `worker` and its batch mates (empty: nothing here is this worker's now).
    `others` are the cluster's other live workers, busy or free."""

    def eligible(item: QueueItem) -> bool:
        if not worker.can_load(item.model):
            return False
        if item.model == worker.model or worker.model is None or urgent(item):
            return True
        if any(other.model == item.model for other in others):
            return False  # a worker holding it will take it
        # nobody holds it: an empty worker loads it without evicting a model
        return not any(other.model is None and other.can_load(item.model) for other in others)

    at = next((i for i, item in enumerate(order) if eligible(item)), None)
    if at is None:
        return []
    lead = order[at]
    batch = [lead]
    if lead.batchable:
        images = lead.images
        for item in order[at + 1 : at + max(1, scan)]:
            if images >= batch_size:
                break
            if item.batchable and item.batch_key == lead.batch_key and images + item.images <= batch_size:
                batch.append(item)
                images += item.images
    return batch
