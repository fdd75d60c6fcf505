"""A full disk while a job runs, through localcord: the job's message says it failed (not stuck at
"Generating"), the job leaves the running set, a new /imagine is told the bot cannot store jobs
right now, and once the disk has room the outcome is recorded, charged once."""

from __future__ import annotations

import asyncio

import pytest

from generation.jobs.types import JobStatus
from tests.helpers.bot_env import bot_running, fake_runner, job_id_of
from tests.helpers.discord_answers import answer, assert_nothing_refused
from tests.helpers.faults import FlakyArtifacts, FlakyStore, FullDisk


@pytest.fixture
async def env(tmp_path):
    async with bot_running(tmp_path, runner=fake_runner, daily_seconds=600.0) as env:
        env.disk = FullDisk()
        env.service.store = FlakyStore(env.service.store, env.disk)
        env.service.artifacts = FlakyArtifacts(env.service.artifacts, env.disk)
        env.service.pending.interval = 0.1
        yield env


async def until(check, timeout=10.0):
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


async def test_a_job_on_a_full_disk_is_answered_and_recorded_once_there_is_room(env):
    server, service, runner = env.server, env.service, env.runner
    runner.gate.clear()
    ix = await server.slash("imagine", {"prompt": "a red circle"})
    job_id = job_id_of(await ix.wait_original(lambda m: "Generating" in m.content))
    env.disk.full = True  # saving the images fails, and so does recording that
    runner.gate.set()
    failed = await ix.wait_original(lambda m: "Failed" in m.content, timeout=10)
    assert "could not be saved" in failed.content and "No space left on device" in failed.content
    assert not failed.custom_ids()  # no cancel button left on a job that ended
    assert service.running() == [] and (await service.get_job(job_id)).status is JobStatus.FAILED

    refused = await answer(server, await server.slash("imagine", {"prompt": "a blue square"}))
    assert "cannot store new jobs right now" in refused.content and refused.ephemeral
    assert (await service.store.get_job(job_id)).status is JobStatus.RUNNING  # nothing written yet

    env.disk.full = False
    await until(lambda: recorded(service, job_id, JobStatus.FAILED))
    stored = await service.store.get_job(job_id)
    assert stored.meta["delivered"] is True  # delivery's own write went through too
    assert await service.store.reservation_of(job_id) is None
    assert await service.store.charge_of(job_id) is None
    assert len(await service.user_jobs(server.default_user.id)) == 1  # the refused one was never stored
    assert_nothing_refused(server)


async def test_a_result_the_database_refuses_is_posted_then_recorded_and_charged_once(env):
    server, service, runner = env.server, env.service, env.runner
    runner.gate.clear()
    ix = await server.slash("imagine", {"prompt": "a green star"})
    job_id = job_id_of(await ix.wait_original(lambda m: "Generating" in m.content))
    env.service.artifacts._disk = FullDisk()  # the images' disk has room; the database's has none
    env.disk.full = True
    runner.gate.set()
    message = await env.result(ix)
    assert job_id_of(message) == job_id and message.attachments
    upscale = await server.click(f"img:u:{job_id}:0", message, user="mod")  # its buttons answer meanwhile
    assert "cannot store new jobs right now" in (await answer(server, upscale)).content

    env.disk.full = False
    await until(lambda: recorded(service, job_id, JobStatus.DONE))
    charge = await service.store.charge_of(job_id)
    assert charge is not None and charge > 0
    status = await service.quota_status((await service.get_job(job_id)).owner)
    assert status.used == pytest.approx(charge)  # charged once
    await service.pending.flush()  # nothing left to write twice
    assert await service.store.charge_of(job_id) == charge


async def recorded(service, job_id, status) -> bool:
    stored = await service.store.get_job(job_id)
    return stored.status is status and not len(service.pending)
