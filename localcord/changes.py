"""A change notification to wait on: every part calls ``notify()`` when something a test may
be waiting for happened (a REST call answered, a gateway frame, a message or callback stored)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

POLL_SECONDS = 0.02  # also re-check this often, so conditions on the bot's own state work too

Waiter = tuple[Callable[[], Any], "asyncio.Future[Any]"]


class Changes:
    def __init__(self, explain: Callable[[], str] = lambda: "") -> None:
        self._explain = explain  # appended to timeout messages (the recent calls)
        self._waiters: list[Waiter] = []

    def notify(self) -> None:
        """Re-check every waiter now; resolve those whose check holds (or raised)."""
        for entry in list(self._waiters):
            check, fut = entry
            if fut.done():
                self._remove(entry)
                continue
            try:
                result = check()
            except Exception as exc:
                fut.set_exception(exc)
                self._remove(entry)
                continue
            if result is not None and result is not False:
                fut.set_result(result)
                self._remove(entry)

    async def wait_for(
        self, check: Callable[[], T | None], timeout: float = 5.0, what: str = "a condition"
    ) -> T:
        """Wait until ``check()`` returns something other than None/False and return it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = check()
            if result is not None and result is not False:
                return result
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"timed out after {timeout}s waiting for {what}; {self._explain()}")
            fut: asyncio.Future[Any] = loop.create_future()
            entry = (check, fut)
            self._waiters.append(entry)
            try:
                return await asyncio.wait_for(asyncio.shield(fut), min(left, POLL_SECONDS))
            except TimeoutError:
                pass
            finally:
                self._remove(entry)
                if not fut.done():
                    fut.cancel()

    def cancel_all(self) -> None:
        for _, fut in self._waiters:
            if not fut.done():
                fut.cancel()
        self._waiters.clear()

    def _remove(self, entry: Waiter) -> None:
        if entry in self._waiters:
            self._waiters.remove(entry)
