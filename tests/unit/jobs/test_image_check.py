"""The job service runs the image check a job's meta asks for: after the worker's result, on the
checker's thread (not the event loop's, not the GPU worker's), before the job is announced done,
and records it with the job; a detector that fails never loses the job."""

from __future__ import annotations

import pytest

from generation.jobs.service import JobService
from generation.jobs.types import EventKind, JobOwner, JobStatus
from generation.safety.check import SafetyMode, meta_for
from generation.workers.fakes import FakeRunner
from generation.workers.local import LocalWorkerPool
from tests.helpers.detectors import FLAGGED, BrokenDetector, ColourDetector
from tests.helpers.service_env import make_settings, request

pytestmark = pytest.mark.timeout(60)

ALICE = JobOwner(1, 10, 20)


@pytest.fixture
async def service(tmp_path):
    runner = FakeRunner()
    opened = await JobService.open(make_settings(tmp_path), pool=LocalWorkerPool(runner))
    opened.runner = runner  # the test reads the worker's threads
    await opened.start()
    yield opened
    await opened.close()


async def test_a_blocked_job_is_done_with_its_check_recorded_before_the_event(service):
    detector = ColourDetector()
    service.use_detector(detector)
    events = service.events()
    red = await service.submit(request("a red circle", count=2), ALICE, meta=meta_for("block"))
    blue = await service.submit(request("a blue circle", count=1), ALICE, meta=meta_for("spoiler"))
    done = {}
    async with events:
        async for event in events:
            if event.kind is EventKind.DONE:
                done[event.job_id] = event.job
            if len(done) == 2:
                break
    check = done[red.id].image_check  # the done event carries it: delivery needs nothing more
    assert done[red.id].status is JobStatus.DONE
    assert check.mode is SafetyMode.BLOCK and check.flagged == (0, 1) and not check.failed
    assert check.images[0].scores[FLAGGED] == 0.91 and check.detector == "colour test detector"
    assert done[blue.id].image_check.flagged == () and done[blue.id].image_check.action is SafetyMode.OFF
    stored = await service.store.get_job(red.id)
    assert stored.image_check == check  # recorded with the job
    assert detector.calls == 3
    (thread,) = detector.threads
    assert thread.startswith("image-check") and thread not in service.runner.threads


async def test_a_job_that_asks_for_no_check_is_not_checked(service):
    detector = ColourDetector()
    service.use_detector(detector)
    job = await service.submit(request("a red circle"), ALICE, meta={"channel_id": 5})
    done = await service.wait(job.id, 20)
    assert done.status is JobStatus.DONE and done.image_check is None and detector.calls == 0
    assert (await service.store.get_job(job.id)).image_check is None


async def test_a_failing_detector_keeps_the_job_and_flags_its_images(service):
    service.use_detector(BrokenDetector())
    job = await service.submit(request("a blue circle", count=2), ALICE, meta=meta_for("block"))
    done = await service.wait(job.id, 20)
    assert done.status is JobStatus.DONE and len(done.images) == 2  # the job is not lost
    check = (await service.store.get_job(job.id)).image_check
    assert check.failed and "unreadable" in check.error
    assert check.blocked_indexes == {0, 1}  # the safe default under block: hidden
