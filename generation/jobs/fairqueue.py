"""The fair queue: one sub-queue per user, served round-robin. Pure: no I/O, no clock, no asyncio.

Serving order is start-time fair queuing with a unit cost per job. Every user with waiting jobs has
a *tag* (how many turns they have had, in virtual time); the user with the smallest tag is served
next (ties: who became active first), and each job served moves its user's tag on by one. A user
who becomes active starts at the current virtual time, never behind it, so nobody can save turns
up while idle, and a user with ten jobs waiting delays a newcomer by at most one job.

Priority classes are strict: every waiting job of class 0 (owners with a priority role) is served
before any job of class 1, each class round-robin within itself.

The worker takes a *batch* at a time (`take_batch`): the first job in fair order, plus compatible
txt2img jobs (or edits, see `estimates.shares_calls`) found among the next few in fair order, up
to `batch_size` images. Jobs keep the model they were submitted for; to avoid reloading a
checkpoint per job, the loaded model's jobs may go ahead of a job for another model found within
the scan window, but each time a job is passed over that way it counts, and after `patience`
such turns it is served next whatever its model.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field

from generation.jobs.estimates import estimate_units, image_count, shares_calls
from generation.requests.request import GenerationRequest

PRIORITY = 0  # owners with a priority role
NORMAL = 1

# Images per pipeline call: a number, or a function of the batch's lead job (its size decides:
# generation.jobs.batching.images_per_pass).
BatchSize = int | Callable[["QueueItem"], int]


@dataclass
class QueueItem:
    job_id: str
    user_id: int
    priority: int = NORMAL
    model: str | None = None
    batch_key: Hashable = None
    images: int = 1
    units: float = 1.0  # estimated work, see estimate_units()
    batchable: bool = True  # txt2img jobs (and some edits: estimates.shares_calls) may share a call
    seq: int = 0  # arrival order, set by the queue
    skipped: int = 0  # turns lost to jobs for the loaded model

    @classmethod
    def for_request(
        cls, job_id: str, user_id: int, request: GenerationRequest, *, priority: int = NORMAL
    ) -> QueueItem:
        """An item for `request` (its model already resolved into `request.model`)."""
        return cls(
            job_id=job_id,
            user_id=user_id,
            priority=priority,
            model=request.model,
            batch_key=request.batch_key(),
            images=image_count(request),
            units=estimate_units(request),
            batchable=shares_calls(request),
        )


@dataclass
class _UserQueue:
    key: tuple[int, int]  # (priority, user_id)
    tag: int  # virtual start of this user's next turn
    activated: int  # when the user last became active (tie-break)
    jobs: deque[QueueItem] = field(default_factory=deque)


class FairQueue:
    """Waiting jobs, one FIFO per (priority class, user), served round-robin."""

    def __init__(self) -> None:
        self._users: dict[tuple[int, int], _UserQueue] = {}
        self._items: dict[str, QueueItem] = {}
        self._vtime: dict[int, int] = {}  # per priority class: the tag of the last turn served
        self._last_tag: dict[tuple[int, int], int] = {}  # tags of users now idle
        self._seq = 0

    # -- contents -----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._items

    def get(self, job_id: str) -> QueueItem | None:
        return self._items.get(job_id)

    def user_count(self, user_id: int) -> int:
        return sum(len(q.jobs) for (_, uid), q in self._users.items() if uid == user_id)

    def user_jobs(self, user_id: int) -> list[QueueItem]:
        return [item for item in self.order() if item.user_id == user_id]

    def push(self, item: QueueItem) -> None:
        if item.job_id in self._items:
            raise ValueError(f"job {item.job_id} is already queued")
        self._seq += 1
        item.seq = self._seq
        key = (item.priority, item.user_id)
        queue = self._users.get(key)
        if queue is None:
            vtime = self._vtime.get(item.priority, 0)
            tag = max(self._last_tag.pop(key, 0), vtime)
            queue = self._users[key] = _UserQueue(key, tag, self._seq)
        queue.jobs.append(item)
        self._items[item.job_id] = item

    def remove(self, job_id: str) -> QueueItem | None:
        """Take a job out without it counting as a turn (a cancel)."""
        item = self._items.pop(job_id, None)
        if item is None:
            return None
        key = (item.priority, item.user_id)
        queue = self._users[key]
        queue.jobs.remove(item)
        if not queue.jobs:
            self._deactivate(queue)
        return item

    # -- order --------------------------------------------------------------------------------

    def order(self) -> list[QueueItem]:
        """Every waiting job in the order it would be served if nothing else arrived."""
        result: list[QueueItem] = []
        for priority in sorted({key[0] for key in self._users}):
            heap = [
                (q.tag, q.activated, i, 0, q)
                for i, q in enumerate(self._users.values())
                if q.key[0] == priority
            ]
            heapq.heapify(heap)
            while heap:
                tag, activated, i, index, queue = heapq.heappop(heap)
                result.append(queue.jobs[index])
                if index + 1 < len(queue.jobs):
                    heapq.heappush(heap, (tag + 1, activated, i, index + 1, queue))
        return result

    def peek(self) -> QueueItem | None:
        order = self.order()
        return order[0] if order else None

    def position(self, job_id: str) -> int | None:
        """1 = served next."""
        for i, item in enumerate(self.order(), 1):
            if item.job_id == job_id:
                return i
        return None

    # -- serving ------------------------------------------------------------------------------

    def take(self, job_ids: Iterable[str]) -> list[QueueItem]:
        """Serve these jobs: each takes its user's turn (even one taken out of order into a batch)."""
        taken = []
        for job_id in job_ids:
            item = self._items.pop(job_id)
            key = (item.priority, item.user_id)
            queue = self._users[key]
            queue.jobs.remove(item)
            self._vtime[item.priority] = max(self._vtime.get(item.priority, 0), queue.tag)
            queue.tag += 1
            if not queue.jobs:
                self._deactivate(queue)
            taken.append(item)
        return taken

    def plan_batch(
        self,
        *,
        loaded_model: str | None = None,
        batch_size: BatchSize = 1,
        scan: int = 8,
        patience: int = 3,
    ) -> list[QueueItem]:
        """The jobs the next pipeline call should run, lead job first (nothing is taken)."""
        order = self.order()
        if not order:
            return []
        window = order[: max(1, scan)]
        lead = order[0]
        if loaded_model is not None and lead.model != loaded_model:
            for i, item in enumerate(window):
                if item.model == loaded_model:
                    if all(ahead.skipped < patience for ahead in window[:i]):
                        lead = item
                    break
        batch = [lead]
        limit = batch_size(lead) if callable(batch_size) else batch_size
        if lead.batchable:
            images = lead.images
            for item in window:
                if images >= limit:
                    break
                if (
                    item is not lead
                    and item.batchable
                    and item.batch_key == lead.batch_key
                    and images + item.images <= limit
                ):
                    batch.append(item)
                    images += item.images
        return batch

    def take_batch(
        self,
        *,
        loaded_model: str | None = None,
        batch_size: BatchSize = 1,
        scan: int = 8,
        patience: int = 3,
    ) -> list[QueueItem]:
        """Plan the next batch and take it; jobs ahead of it that were passed over for the loaded
        model's sake count a skipped turn."""
        batch = self.plan_batch(
            loaded_model=loaded_model, batch_size=batch_size, scan=scan, patience=patience
        )
        if not batch:
            return []
        ids = {item.job_id for item in batch}
        for item in self.order():
            if item is batch[0]:
                break
            if item.job_id not in ids and item.model != batch[0].model:
                item.skipped += 1
        return self.take(item.job_id for item in batch)

    def _deactivate(self, queue: _UserQueue) -> None:
        del self._users[queue.key]
        if queue.tag > self._vtime.get(queue.key[0], 0):
            self._last_tag[queue.key] = queue.tag
        # forget idle users whose tags the virtual clock has caught up with
        if len(self._last_tag) > 4096:
            for key in [k for k, t in self._last_tag.items() if t <= self._vtime.get(k[0], 0)]:
                del self._last_tag[key]
