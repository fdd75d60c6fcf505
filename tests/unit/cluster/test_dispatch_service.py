"""The dispatcher's job service without Ray: DispatchService on a store shared with "bot
processes" (jobs written straight into it) and the in-process worker pool."""

from __future__ import annotations

import asyncio

import pytest

from generation.cluster.service import MAX_ATTEMPTS, DispatchService
from generation.jobs.types import Job, JobOwner, JobStatus, new_job_id
from generation.workers.fakes import FakeRunner
from generation.workers.local import LocalWorkerPool
from generation.workers.protocol import WorkerProblem
from tests.helpers.service_env import make_settings, request

pytestmark = pytest.mark.timeout(60)


def written(prompt: str, user: int = 1, *, created: float = 1.0, model: str = "tiny") -> Job:
    """A job as a bot process writes it."""
    return Job(
        id=new_job_id(),
        owner=JobOwner(user),
        request=request(prompt, model=model).resolve_seed(),
        status=JobStatus.QUEUED,
        created_at=created,
        model_name=model,
    )


@pytest.fixture
async def dispatch(tmp_path):
    runner = FakeRunner()
    service = await DispatchService.open(make_settings(tmp_path), pool=LocalWorkerPool(runner, workers=2))
    yield service, runner
    await service.close()


async def test_it_runs_what_others_wrote_once_and_skips_what_they_finished(dispatch):
    service, runner = dispatch
    first, gone, second = written("first"), written("gone", 2), written("second")
    for job in (first, gone, second):
        await service.store.insert_job(job)
    await service.store.finish_unsuccessful(gone.id, JobStatus.CANCELLED, finished_at=2.0)
    await service.start()  # (start queues the unfinished ones)
    assert await service.adopt([first.id, second.id]) == 0  # heard of again: already queued
    done = [await service.wait(job.id, 20) for job in (first, second)]
    assert [job.status for job in done] == [JobStatus.DONE] * 2 and all(j.attempts == 1 for j in done)
    late = written("late")
    await service.store.insert_job(late)
    assert await service.adopt() == 1 and await service.adopt() == 0
    assert (await service.wait(late.id, 20)).status is JobStatus.DONE
    assert await service.adopt([first.id]) == 0  # finished: never queued again
    assert sorted(p for call in runner.calls for p in call) == ["first", "late", "second"]


async def test_a_job_finished_elsewhere_while_it_waited_is_not_run(dispatch):
    service, runner = dispatch
    runner.gate.clear()  # the workers hold their first jobs
    blockers = [written(f"blocker {n}", 1 + n) for n in range(2)]
    waiting = written("waiting", 3)
    for job in (*blockers, waiting):
        await service.store.insert_job(job)
    events = service.events(waiting.id)
    await service.start()
    # a bot process cancels it in the store (its dispatcher call failed): the claim then skips it
    assert await service.store.finish_unsuccessful(waiting.id, JobStatus.CANCELLED, finished_at=3.0)
    runner.gate.set()
    for job in blockers:
        assert (await service.wait(job.id, 20)).status is JobStatus.DONE
    assert "waiting" not in [p for call in runner.calls for p in call]
    assert waiting.id not in service._jobs and (await service.store.get_job(waiting.id)).attempts == 0
    kinds = []
    while (event := await events.get(0.3)) is not None:
        kinds.append(event.kind)
    assert not any(kind.terminal for kind in kinds)  # its end was announced by whoever cancelled it


async def test_lost_jobs_go_first_and_a_job_that_keeps_losing_workers_fails(dispatch):
    service, runner = dispatch
    runner.gate.clear()
    jobs = [written(f"job {n}", 1 + n, created=1.0 + n) for n in range(3)]
    for job in jobs:
        await service.store.insert_job(job)
    await service.start()
    running = [j for j in service._jobs.values() if j.status is JobStatus.RUNNING]
    while len(running) < 2:  # both workers hold a job
        await asyncio.sleep(0.01)
        running = [j for j in service._jobs.values() if j.status is JobStatus.RUNNING]
    lost = running[0]
    reports = service.pool._sink  # what a pool of worker processes reports on a death
    await reports.batch_lost(service._flight_of[lost.id], [lost.id])
    assert service.fair.peek().job_id == lost.id  # before the one that was waiting
    assert (await service.store.get_job(lost.id)).status is JobStatus.QUEUED
    for attempt in range(2, MAX_ATTEMPTS + 1):  # it keeps killing its worker
        service._jobs[lost.id] = service._jobs[lost.id].replace(status=JobStatus.RUNNING, attempts=attempt)
        await service.store.claim([lost.id], started_at=5.0, model_name="tiny")
        await reports.batch_lost("gone", [lost.id])
    failed = await service.store.get_job(lost.id)
    assert failed.status is JobStatus.FAILED and failed.error.code == WorkerProblem.WORKERS_LOST
    runner.gate.set()
