"""Job events and their fan-out to subscribers.

Each subscriber has a bounded buffer. When it is full, `progress` and `position` events (the
oldest first) make room; terminal events (done, failed, cancelled) and the others are never
dropped for a slow reader. A subscription to one job ends after that job's terminal event; one to
every job (`job_id=None`) ends when the hub closes. Subscriptions are held weakly: a reader that
drops its iterator without closing it simply stops receiving.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import replace

from generation.jobs.types import EventKind, JobEvent

__all__ = ["DROPPABLE", "EventHub", "JobEvent", "Subscription"]

DROPPABLE = frozenset({EventKind.PROGRESS, EventKind.POSITION})


class Subscription:
    """An async iterator of events (also an async context manager that closes it)."""

    def __init__(
        self,
        hub: EventHub,
        job_id: str | None,
        *,
        previews: bool = False,
        maxsize: int = 256,
        backfill: Callable[[], Awaitable[JobEvent | None]] | None = None,
    ) -> None:
        self.job_id = job_id
        self.previews = previews
        self.maxsize = max(4, maxsize)
        self.dropped = 0
        self._hub = hub
        self._buffer: deque[JobEvent] = deque()
        self._wakeup = asyncio.Event()
        self._closed = False
        self._ended = False
        self._backfill = backfill

    def wants(self, event: JobEvent) -> bool:
        return self.job_id is None or self.job_id == event.job_id

    def put(self, event: JobEvent) -> None:
        if self._closed:
            return
        if not self.previews and event.preview is not None:
            event = _without_preview(event)
        if len(self._buffer) >= self.maxsize and not self._make_room(event):
            self.dropped += 1
            return
        self._buffer.append(event)
        self._wakeup.set()

    def _make_room(self, event: JobEvent) -> bool:
        for i, old in enumerate(self._buffer):
            if old.kind in DROPPABLE:
                del self._buffer[i]
                self.dropped += 1
                return True
        if event.kind in DROPPABLE:
            return False
        if len(self._buffer) >= self.maxsize * 16:  # only terminal events left: bound memory anyway
            self._buffer.popleft()
            self.dropped += 1
        return True

    def close(self) -> None:
        self._closed = True
        self._hub._discard(self)
        self._wakeup.set()

    async def aclose(self) -> None:
        self.close()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> JobEvent:
        if self._backfill is not None:
            backfill, self._backfill = self._backfill, None
            event = await backfill()
            if not self._buffer:
                if event is None:  # no such job
                    self.close()
                    raise StopAsyncIteration
                self._buffer.append(event)
        while True:
            if self._buffer:
                event = self._buffer.popleft()
                if self.job_id is not None and event.terminal:
                    self.close()
                    self._ended = True
                    self._buffer.clear()
                return event
            if self._closed or self._ended:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()

    async def get(self, timeout: float | None = None) -> JobEvent | None:
        """The next event, or None when the subscription ended or `timeout` passed."""
        try:
            async with asyncio.timeout(timeout):
                return await self.__anext__()
        except (StopAsyncIteration, TimeoutError):
            return None

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class EventHub:
    def __init__(self, maxsize: int = 256) -> None:
        self.maxsize = maxsize
        self._subs: weakref.WeakSet[Subscription] = weakref.WeakSet()
        self._closed = False

    def subscribe(
        self,
        job_id: str | None = None,
        *,
        previews: bool = False,
        backfill: Callable[[], Awaitable[JobEvent | None]] | None = None,
    ) -> Subscription:
        sub = Subscription(self, job_id, previews=previews, maxsize=self.maxsize, backfill=backfill)
        if self._closed:
            sub.close()
        else:
            self._subs.add(sub)
        return sub

    def publish(self, event: JobEvent) -> None:
        for sub in list(self._subs):
            if sub.wants(event):
                sub.put(event)

    def wants_previews(self, job_ids: set[str]) -> bool:
        return any(sub.previews and (sub.job_id is None or sub.job_id in job_ids) for sub in list(self._subs))

    def close(self) -> None:
        self._closed = True
        for sub in list(self._subs):
            sub.close()

    def _discard(self, sub: Subscription) -> None:
        self._subs.discard(sub)


def _without_preview(event: JobEvent) -> JobEvent:
    return replace(event, preview=None)
