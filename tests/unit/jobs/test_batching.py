"""The GPU batch: images per UNet pass sized by pixels, and the queue filling passes with it."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from generation.jobs.batching import images_per_pass
from generation.jobs.fairqueue import FairQueue, QueueItem
from generation.jobs.service import JobService
from generation.jobs.types import JobOwner, JobStatus
from generation.settings import ModelSettings, QueueSettings, Settings
from generation.workers.fakes import FakeRunner
from generation.workers.local import LocalWorkerPool
from tests.helpers.service_env import make_settings, request


def settings(batch_size: int = 8, batch_pixels: int = 8 * 512 * 512) -> Settings:
    queue = QueueSettings(batch_size=batch_size)
    return Settings(queue=queue, models=ModelSettings(batch_pixels=batch_pixels))


def test_images_per_pass_follows_the_pixels():
    s = settings()
    assert images_per_pass(s, 512, 512) == 8
    assert images_per_pass(s, 1024, 1024) == 2
    assert images_per_pass(s, 768, 768) == 3  # 2097152 // 589824
    assert images_per_pass(s, 2048, 2048) == 1  # one job's images always go, even past the budget
    assert images_per_pass(s, 128, 128) == 8  # never more than queue.batch_size
    assert images_per_pass(settings(batch_pixels=0), 1024, 1024) == 8  # 0: batch_size alone
    assert images_per_pass(settings(batch_size=4), 512, 512) == 4


def test_the_shipped_defaults_keep_four_images_at_the_cpu_size():
    s = Settings()
    assert images_per_pass(s, 128, 128) == s.queue.batch_size == 4
    assert images_per_pass(s, 1024, 1024) == 2


def item(job_id: str, user: int, images: int = 1) -> QueueItem:
    return QueueItem(job_id=job_id, user_id=user, model="m", batch_key="k", images=images)


def test_the_queue_asks_the_lead_job_for_its_pass_size():
    queue = FairQueue()
    for n in range(6):
        queue.push(item(f"j{n}", n))
    asked = []

    def per_pass(lead: QueueItem) -> int:
        asked.append(lead.job_id)
        return 3

    assert [i.job_id for i in queue.take_batch(batch_size=per_pass)] == ["j0", "j1", "j2"]
    assert asked == ["j0"]
    assert [i.job_id for i in queue.take_batch(batch_size=2)] == ["j3", "j4"]


@pytest.mark.timeout(60)
async def test_the_service_sizes_passes_by_pixels(tmp_path):
    base = make_settings(tmp_path, queue=QueueSettings(per_user=10, batch_size=4))
    # 64x64 jobs with room for two of them per pass: five single-image jobs go 2 + 2 + 1
    s = base.replace(models=dataclasses.replace(base.models, batch_pixels=2 * 64 * 64))
    runner = FakeRunner()
    service = await JobService.open(s, pool=LocalWorkerPool(runner))
    try:
        runner.gate.clear()
        await service.start()
        blocker = await service.submit(request("blocker"), JobOwner(99, 1, 1))
        await asyncio.sleep(0.05)
        jobs = [await service.submit(request(f"p{n}", seed=n), JobOwner(n + 1, 1, 1)) for n in range(5)]
        runner.gate.set()
        done = [await service.wait(job.id, 20) for job in [blocker, *jobs]]
        assert all(job.status is JobStatus.DONE for job in done)
        assert runner.calls == [["blocker"], ["p0", "p1"], ["p2", "p3"], ["p4"]]
    finally:
        await service.close()
