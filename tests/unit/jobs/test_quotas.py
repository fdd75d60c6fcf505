"""Quotas: budgets, reset times, reserve at submit, charge once when done, release otherwise."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import re

import pytest

from bot.ui.text import describe, quota_line, reset_phrase
from generation.jobs import quotas
from generation.jobs.problems import Refusal
from generation.jobs.service import JobService, SubmitRefused
from generation.jobs.store.sqlite import migrations
from generation.jobs.types import JobOwner, JobStatus
from generation.settings import QueueSettings, QuotaSettings
from generation.workers.fakes import FakeRunner
from tests.helpers.service_env import make_settings, request

pytestmark = pytest.mark.timeout(60)

# 64x64, 2 steps, 1 image = (2 + 2) * 64*64/512**2 = 1/16 unit; at 40 s a unit: 2.5 s a job
QUEUE = QueueSettings(per_user=10, batch_size=4, initial_step_seconds=40.0)


def utc(*args: int) -> float:
    return dt.datetime(*args, tzinfo=dt.UTC).timestamp()


def test_days_resets_and_their_description():
    now = utc(2024, 5, 1, 20, 48, 0)
    assert quotas.day_key(now) == "2024-05-01"
    assert quotas.day_key(now, reset_hour_utc=21) == "2024-04-30"
    assert quotas.next_reset(now) == utc(2024, 5, 2, 0, 0)
    assert quotas.next_reset(now, 21) == utc(2024, 5, 1, 21, 0)

    def describe_reset(now: float, at: float) -> str:  # the bot words when a quota day ends
        return reset_phrase(at - now, at)

    assert describe_reset(now, quotas.next_reset(now)) == "in 3 h 12 min (00:00 UTC)"
    assert describe_reset(now, quotas.next_reset(now, 21)) == "in 12 min (21:00 UTC)"
    assert describe_reset(now, now + 3600) == "in 1 h (21:48 UTC)"


def test_budgets_roles_unlimited_and_overrides():
    settings = QuotaSettings(
        daily_seconds=600,
        role_seconds={"5": 1200.0, "6": 300.0},
        unlimited_roles=("7",),
        unlimited_users=("42",),
    )
    assert quotas.base_budget(settings, 1) == 600
    assert quotas.base_budget(settings, 1, [6]) == 600  # the largest applies
    assert quotas.base_budget(settings, 1, [5, 6]) == 1200
    assert math.isinf(quotas.base_budget(settings, 1, [7]))
    assert math.isinf(quotas.base_budget(settings, 42))
    assert quotas.base_budget(settings, 1, [5], override=60) == 60
    assert math.isinf(quotas.base_budget(QuotaSettings(daily_seconds=0), 1))
    assert quotas.split_seconds(6.0, [1, 2]) == [2.0, 4.0]
    assert quotas.split_seconds(6.0, [2, 2]) == [3.0, 3.0]


def test_refusal_message():
    now = utc(2024, 5, 1, 20, 48, 0)
    status = quotas.status(
        QuotaSettings(daily_seconds=100),
        user_id=1,
        role_ids=(),
        now=now,
        used=80,
        reserved=15,
        granted=0,
        override=None,
    )
    assert quotas.refusal(status, 5, now) is None
    refused = quotas.refusal(status, 12, now)
    assert isinstance(refused, SubmitRefused) and refused.code == Refusal.QUOTA_EXCEEDED
    assert refused.fields == {
        "needed": 12,
        "remaining": 5,
        "limit": 100,
        "reserved": 15,
        "resets_at": utc(2024, 5, 2, 0, 0),
        "resets_in": 3 * 3600 + 12 * 60,
    }
    message = describe(refused)
    assert "needs about 12 s" in message and "5 s left of your 100 s daily budget" in message
    assert "15 s held by your waiting jobs" in message and "resets in 3 h 12 min (00:00 UTC)" in message


def test_the_quota_line():
    now = utc(2024, 5, 1, 20, 48, 0)

    def line(**kw) -> str:
        values = {"used": 80, "reserved": 15, "granted": 0, "override": None} | kw
        return quota_line(
            quotas.status(QuotaSettings(daily_seconds=100), user_id=1, role_ids=(), now=now, **values), now
        )

    assert line() == (
        "80 s of 100 s GPU time used today, 15 s held by waiting jobs; 5 s left. "
        "Resets in 3 h 12 min (00:00 UTC)."
    )
    assert (
        line(reserved=0) == "80 s of 100 s GPU time used today; 20 s left. Resets in 3 h 12 min (00:00 UTC)."
    )
    assert line(override=math.inf) == "Unlimited GPU time (80 s used today)."


@pytest.fixture
async def service(tmp_path):
    settings = make_settings(tmp_path, queue=QUEUE, quota=QuotaSettings(daily_seconds=10))
    runner = FakeRunner(step_seconds=0.02)
    service = await JobService.open(settings, runner=runner)
    await service.start()
    yield service
    await service.close()


async def test_reserve_refuse_grant_and_override(service):
    owner = JobOwner(1)
    await service.pause()
    jobs = [await service.submit(request(f"j{n}"), owner) for n in range(4)]
    status = await service.quota_status(owner)
    assert status.reserved == pytest.approx(10) and status.used == 0 and status.remaining == pytest.approx(0)
    with pytest.raises(SubmitRefused) as refused:
        await service.submit(request("too much"), owner)
    assert refused.value.code == Refusal.QUOTA_EXCEEDED
    assert (refused.value.fields["needed"], refused.value.fields["limit"]) == (3, 10)
    assert re.search(
        r"needs about 3 s.*0 s left of your 10 s daily budget.*resets in", describe(refused.value)
    )
    await service.submit(request("someone else"), JobOwner(2))  # budgets are per user
    await service.grant_quota(1, 5)
    assert (await service.quota_status(owner)).limit == 15
    extra = await service.submit(request("granted"), owner)
    assert await service.cancel(extra.id)  # cancelling releases the reservation
    assert (await service.quota_status(owner)).reserved == pytest.approx(10)
    await service.set_quota(1, math.inf)
    assert (await service.quota_status(owner)).unlimited
    unlimited = await service.submit(request("unlimited"), owner)
    assert await service.store.reservation_of(unlimited.id) is None
    await service.set_quota(1, 20)
    assert (await service.quota_status(owner)).limit == 25  # override + today's grant
    await service.set_quota(1, None)
    assert (await service.quota_status(owner)).limit == 15
    await service.resume()
    for job in jobs:
        await service.wait(job.id, 10)


async def test_charges_split_a_batch_by_images_and_release_reservations(service):
    owner_a, owner_b = JobOwner(1), JobOwner(2)
    await service.pause()
    a = await service.submit(request("a", count=1), owner_a)
    b = await service.submit(request("b", count=2), owner_b)
    assert await service.store.reservation_of(b.id) == pytest.approx(5)
    await service.resume()
    a, b = await service.wait(a.id, 10), await service.wait(b.id, 10)
    assert a.started_at == b.started_at  # one batch
    charge_a, charge_b = await service.store.charge_of(a.id), await service.store.charge_of(b.id)
    assert charge_a > 0 and charge_b == pytest.approx(2 * charge_a)
    assert (a.gpu_seconds, b.gpu_seconds) == (charge_a, charge_b)
    status = await service.quota_status(owner_b)
    assert status.used == pytest.approx(charge_b) and status.reserved == 0
    # a failed job releases its reservation and is not charged
    bad = await service.submit(request("FAIL"), owner_a)
    assert (await service.quota_status(owner_a)).reserved > 0
    bad = await service.wait(bad.id, 10)
    assert bad.status is JobStatus.FAILED
    assert (await service.quota_status(owner_a)).reserved == 0
    assert await service.store.charge_of(bad.id) is None
    # charging is idempotent: finishing a done job again changes nothing
    again = await service.store.finish_done(
        a.id, finished_at=0, gpu_seconds=99, grid_key=None, images=[], charge_day="2000-01-01"
    )
    assert again is False and await service.store.charge_of(a.id) == charge_a


async def test_a_resumed_job_is_charged_once(tmp_path):
    settings = make_settings(tmp_path, queue=QUEUE, quota=QuotaSettings(daily_seconds=100))
    first = await JobService.open(settings, runner=FakeRunner())
    owner = JobOwner(1)
    queued = await first.submit(request("queued"), owner)
    running = await first.submit(request("running"), owner)
    # the process "crashed" with `running` started: its row says running, nothing charged yet
    await first.store.mark_running([running.id], started_at=1.0, model_name="tiny", model_hash=None)
    await first.close()

    second = await JobService.open(settings, runner=FakeRunner())
    assert await second.store.schema_version() == len(migrations()) == 5  # applied once, then left alone
    events = second.events()
    await second.start()
    resumed = []
    while len(resumed) < 2:
        event = await events.get(5)
        if event.kind == "resumed":
            resumed.append(event.job_id)
    assert sorted(resumed) == sorted([queued.id, running.id])
    done = [await second.wait(job_id, 10) for job_id in resumed]
    assert all(j.status is JobStatus.DONE for j in done)
    assert {j.id: j.attempts for j in done} == {queued.id: 1, running.id: 2}
    # each charged once, with its own time, and nothing else charged to the user
    assert [await second.store.charge_of(j.id) for j in done] == [j.gpu_seconds for j in done]
    status = await second.quota_status(owner)
    assert status.reserved == 0 and status.used == pytest.approx(sum(j.gpu_seconds for j in done))
    await asyncio.sleep(0)
    await second.close()
