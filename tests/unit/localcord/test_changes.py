"""Waiting on changes: a notify wakes waiters, errors in a check surface, timeouts explain."""

from __future__ import annotations

import asyncio

import pytest

from localcord import changes as changes_module
from localcord.changes import Changes


@pytest.fixture
def slow_poll(monkeypatch):
    """Re-check only on notify() within a test's time (the 20 ms poll would hide a missing notify)."""
    monkeypatch.setattr(changes_module, "POLL_SECONDS", 30.0)


async def test_notify_wakes_a_waiter_whose_check_now_holds(slow_poll):
    changes = Changes()
    box: list[str] = []
    waiter = asyncio.create_task(changes.wait_for(lambda: box[0] if box else None, 2.0))
    await asyncio.sleep(0.05)
    assert not waiter.done()
    box.append("done")
    await asyncio.sleep(0.05)
    assert not waiter.done()  # nobody said so yet
    changes.notify()
    assert await asyncio.wait_for(waiter, 1.0) == "done"


async def test_false_and_none_mean_not_yet_but_zero_is_a_result():
    changes = Changes()
    answers = iter([None, False, 0])
    assert await changes.wait_for(lambda: next(answers), 2.0) == 0


async def test_an_error_in_the_check_reaches_the_waiter(slow_poll):
    changes = Changes()
    calls = []

    def check():
        calls.append(1)
        if len(calls) > 1:
            raise KeyError("gone")
        return None

    waiter = asyncio.create_task(changes.wait_for(check, 2.0))
    await asyncio.sleep(0)
    changes.notify()
    with pytest.raises(KeyError):
        await asyncio.wait_for(waiter, 1.0)


async def test_a_timeout_says_what_was_awaited_and_explains():
    changes = Changes(explain=lambda: "recent calls:\n  <Call #0 GET /x -> 200>")
    with pytest.raises(TimeoutError, match=r"waiting for the thing; recent calls:\n  <Call #0"):
        await changes.wait_for(lambda: None, 0.05, "the thing")


async def test_cancel_all_ends_pending_waits():
    changes = Changes()
    waiter = asyncio.create_task(changes.wait_for(lambda: None, 5.0))
    await asyncio.sleep(0.005)
    changes.cancel_all()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(waiter, 1.0)
