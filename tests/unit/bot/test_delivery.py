"""Delivery's pure parts: which jobs are the bot's, token expiry, statuses from events."""

from __future__ import annotations

import time

from bot.delivery import Status, status_from
from bot.meta import TOKEN_LIFETIME, DeliveryMeta
from generation.jobs.events import JobEvent
from tests.helpers.jobs import make_job


def test_token_expiry_and_statuses():
    job = make_job()
    assert not DeliveryMeta.of(job).reachable  # no channel, no token: not a bot job
    fresh = DeliveryMeta.of(job.replace(meta={"channel_id": 5, "token": "t", "token_time": time.time()}))
    assert fresh.reachable and fresh.token_usable()
    old = DeliveryMeta.of(
        job.replace(meta={"channel_id": 5, "token": "t", "token_time": time.time() - TOKEN_LIFETIME})
    )
    assert old.reachable and not old.token_usable()
    running = status_from(JobEvent("j", "progress", step=1, total=4, preview=b"png"), None)
    assert running == Status("running", step=1, total=4, preview=b"png")
    later = status_from(JobEvent("j", "progress", step=2, total=4), running)
    assert later is not None and later.preview == b"png"  # keeps the last preview
    assert status_from(JobEvent("j", "done", job=job), later).final
