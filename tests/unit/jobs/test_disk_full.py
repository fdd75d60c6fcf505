"""A full disk while jobs run: a job whose outcome cannot be recorded still leaves the running set
and its event goes out; the outcome is written once the store takes writes again, charged once.
Submitting meanwhile is refused with its own code. The store and the artifact folder are the real
ones, wrapped to refuse writes on demand (tests/helpers/faults.py)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from bot.ui.text import describe
from generation.jobs.problems import Refusal, StoreProblem, StoreWriteFailed
from generation.jobs.service import JobService, SubmitRefused
from generation.jobs.types import EventKind, JobOwner, JobStatus
from generation.settings import QuotaSettings
from generation.workers.fakes import FakeRunner
from generation.workers.local import LocalWorkerPool
from generation.workers.protocol import WorkerProblem
from tests.helpers.faults import FlakyArtifacts, FlakyStore, FullDisk
from tests.helpers.service_env import make_settings, request

pytestmark = pytest.mark.timeout(60)

ALICE = JobOwner(1, 10, 20)


@dataclass
class Env:
    service: JobService
    runner: FakeRunner
    database: FullDisk  # the database's disk
    files: FullDisk  # the images' disk


@pytest.fixture
async def env(tmp_path):
    settings = make_settings(tmp_path, quota=QuotaSettings(daily_seconds=1000))
    runner = FakeRunner()
    service = await JobService.open(settings, pool=LocalWorkerPool(runner))
    env = Env(service, runner, FullDisk(), FullDisk())
    service.store = FlakyStore(service.store, env.database)
    service.artifacts = FlakyArtifacts(service.artifacts, env.files)
    service.pending.interval = 0.05
    await service.start()
    yield env
    await service.close()


async def row(service, job_id):
    return await service.store.get_job(job_id)


async def until_recorded(service, timeout=10.0):
    async with asyncio.timeout(timeout):
        while len(service.pending):
            await asyncio.sleep(0.02)


async def test_saving_and_recording_fail_the_job_leaves_running_and_is_recorded_later(env):
    service = env.service
    events = service.events()
    env.runner.gate.clear()
    job = await service.submit(request("a red square"), ALICE)
    reserved = await service.store.reservation_of(job.id)
    await asyncio.sleep(0.1)
    env.database.full = env.files.full = True  # the images cannot be saved, nor the failure recorded
    env.runner.gate.set()
    failed = await service.wait(job.id, 10)
    assert failed.status is JobStatus.FAILED and failed.error.code == WorkerProblem.NOT_SAVED
    assert "could not be saved: [Errno 28] No space left on device" in describe(failed.error)
    assert service.running() == [] and service.queue() == []
    assert (await service.get_job(job.id)).status is JobStatus.FAILED  # what front ends read
    assert (await row(service, job.id)).status is JobStatus.RUNNING  # not written yet
    kinds = []
    while (event := await events.get(1)) is not None and event.kind != EventKind.FAILED:
        kinds.append(event.kind)
    assert event is not None and event.job_id == job.id and EventKind.STARTED in kinds

    env.database.full = env.files.full = False
    await until_recorded(service)
    stored = await row(service, job.id)
    assert stored.status is JobStatus.FAILED and stored.error == failed.error
    assert reserved > 0 and await service.store.reservation_of(job.id) is None  # released
    assert await service.store.charge_of(job.id) is None


async def test_a_done_job_the_store_refuses_is_delivered_and_charged_once_later(env):
    service = env.service
    env.runner.gate.clear()
    job = await service.submit(request("a blue circle", count=2), ALICE)
    await asyncio.sleep(0.1)
    env.database.full = True  # the images' disk has room; the database's has none
    env.runner.gate.set()
    done = await service.wait(job.id, 10)
    assert done.status is JobStatus.DONE and len(done.images) == 2
    assert (await service.read_artifact(done.images[1].key)).startswith(b"\x89PNG")
    assert (await service.get_job(job.id)).images == done.images
    assert [j.id for j in await service.user_jobs(ALICE.user_id)] == [job.id]
    assert (await service.user_jobs(ALICE.user_id))[0].status is JobStatus.DONE
    assert await service.store.charge_of(job.id) is None  # not yet
    await service.update_meta(job.id, delivered=True)  # the front end's write waits behind it

    env.database.full = False
    await until_recorded(service)
    stored = await row(service, job.id)
    assert stored.status is JobStatus.DONE and stored.images == done.images
    assert stored.meta["delivered"] is True
    charge = await service.store.charge_of(job.id)
    assert charge == pytest.approx(done.gpu_seconds)
    # a retry that ran again changes nothing: one charge, one status
    assert not await service.store.finish_done(
        job.id, finished_at=1.0, gpu_seconds=99.0, grid_key=None, images=(), charge_day="x"
    )
    status = await service.quota_status(ALICE)
    assert status.used == pytest.approx(charge) and await service.store.charge_of(job.id) == charge


async def test_submitting_and_admin_writes_on_a_full_disk_are_refused_by_name(env):
    service = env.service
    env.database.full = True
    with pytest.raises(SubmitRefused) as refused:
        await service.submit(request(), ALICE)
    assert refused.value.code == Refusal.STORE_UNAVAILABLE
    assert "cannot store new jobs right now" in describe(refused.value)
    assert service.queue() == [] and await service.user_jobs(ALICE.user_id) == []
    with pytest.raises(StoreWriteFailed) as info:
        await service.pause()
    assert info.value.code == StoreProblem.WRITE_FAILED and not service.paused
    assert "could not save that right now" in describe(info.value)
