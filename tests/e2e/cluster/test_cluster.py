"""The cluster on the session's Ray and PostgreSQL with FakeRunner workers: several workers share
the queue fairly and batch, each keeps its checkpoint, a worker killed mid-batch loses nothing,
and a running job can be cancelled without its batch mates."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from generation.cluster.worker import fake_runner
from generation.jobs.types import EventKind, JobOwner, JobStatus
from generation.settings import QueueSettings
from tests.helpers.cluster_env import cluster_running, worker_actor, worker_stats
from tests.helpers.service_env import request

pytestmark = pytest.mark.timeout(120)

ALICE, BOB, CAROL = JobOwner(1), JobOwner(2), JobOwner(3)


async def wait_all(service, jobs, timeout=60):
    return [await service.wait(job.id, timeout) for job in jobs]


async def test_three_workers_share_the_queue_in_fair_order_and_batch(tmp_path, pg_url, ray_session):
    queue = QueueSettings(per_user=10, batch_size=2, batch_window=8)
    async with cluster_running(
        tmp_path, pg_url, workers=3, queue=queue, runner=fake_runner(step_seconds=0.05)
    ) as service:
        await service.pause()  # everyone's jobs are in before the first batch is planned
        jobs = {
            owner.user_id: [
                await service.submit(request(f"u{owner.user_id} job {n}", seed=n, steps=4), owner)
                for n in range(4)
            ]
            for owner in (ALICE, BOB, CAROL)
        }
        await asyncio.sleep(0.5)  # the dispatcher hears of them all
        await service.resume()
        finished = await wait_all(service, [job for user in jobs.values() for job in user])
        stats = await worker_stats(service)

    assert all(job.status is JobStatus.DONE for job in finished)
    # round robin over the users, whatever order they submitted in
    fair = [jobs[user][n].id for n in range(4) for user in (1, 2, 3)]
    batches = [batch for worker in stats.values() for batch in worker["batches"]]
    by_id = {job.id: job for job in finished}
    served = sorted(batches, key=lambda batch: by_id[batch[0]].started_at)
    assert [job_id for batch in served for job_id in batch] == fair
    assert all(len(batch) == 2 for batch in batches)  # compatible jobs shared pipeline calls
    assert len(stats) == 3 and all(worker["batches"] for worker in stats.values())  # spread over all three
    if os.geteuid() == 0:  # (allowed to) the workers took back the normal priority from Ray's 15
        assert {worker["priority"] for worker in stats.values()} == {0}


async def test_each_worker_keeps_its_checkpoint(tmp_path, pg_url, ray_session):
    """Two checkpoints, two workers, jobs for both interleaved: after the first of each, no worker
    loads a model again."""
    async with cluster_running(
        tmp_path, pg_url, workers=2, model_wait=60.0, runner=fake_runner(models=("a", "b"), step_seconds=0.02)
    ) as service:
        warm = [
            await service.submit(request("warm a", model="a"), ALICE),
            await service.submit(request("warm b", model="b"), BOB),
        ]
        assert all(job.status is JobStatus.DONE for job in await wait_all(service, warm))
        before = await worker_stats(service)
        jobs = [
            await service.submit(request(f"job {n}", model="ab"[n % 2], seed=n), (ALICE, BOB)[n // 2 % 2])
            for n in range(12)
        ]
        finished = await wait_all(service, jobs)
        after = await worker_stats(service)

    assert all(job.status is JobStatus.DONE for job in finished)
    assert sorted(load for worker in before.values() for load in worker["loads"]) == ["a", "b"]
    assert {w: s["loads"] for w, s in after.items()} == {
        w: s["loads"] for w, s in before.items()
    }  # no loads since
    model_of = {job.id: job.request.model for job in finished}
    for worker_id, worker in after.items():
        served = {
            model_of[job_id]
            for batch in worker["batches"][len(before[worker_id]["batches"]) :]
            for job_id in batch
        }
        assert served <= set(before[worker_id]["loads"])  # only its own checkpoint's jobs


async def test_a_worker_killed_mid_batch_loses_nothing_and_comes_back(tmp_path, pg_url, ray_session):
    queue = QueueSettings(per_user=10, batch_size=4)
    async with cluster_running(
        tmp_path, pg_url, workers=1, queue=queue, runner=fake_runner(step_seconds=0.05)
    ) as service:
        seen = []
        events = service.events(previews=True)  # (live previews: rendered on the worker, kept in a table)
        await service.pause()
        jobs = [
            await service.submit(request(f"job {n}", seed=n, steps=20), (ALICE, BOB)[n % 2]) for n in range(3)
        ]
        await asyncio.sleep(0.5)
        await service.resume()
        while (event := await events.get(30)) is not None:
            seen.append(event)
            if event.kind is EventKind.PROGRESS and event.step >= 3:
                break  # the batch is well under way
        (worker,) = service.workers()
        first_pid = (await worker_stats(service))[worker.id]["pid"]
        os.kill(first_pid, signal.SIGKILL)
        finished = await wait_all(service, jobs)
        while (event := await events.get(1.0)) is not None:
            seen.append(event)
        stats = await worker_stats(service)
        charges = await service.store.charges([job.id for job in jobs])

    assert all(job.status is JobStatus.DONE and job.attempts == 2 for job in finished)
    assert charges == {job.id: 1 for job in jobs}  # charged once
    assert stats[worker.id]["pid"] != first_pid  # Ray brought the worker back...
    assert [len(batch) for batch in stats[worker.id]["batches"]] == [3]  # ...and it ran the batch again
    ends = [e.job_id for e in seen if e.terminal]
    assert sorted(ends) == sorted(job.id for job in jobs)  # each job ended once: delivered once
    previews = [e.preview for e in seen if e.kind is EventKind.PROGRESS and e.preview is not None]
    assert previews and all(p.startswith(b"\x89PNG") for p in previews)  # progress came with previews


async def test_cancel_a_running_job_its_batch_mates_finish(tmp_path, pg_url, ray_session):
    queue = QueueSettings(per_user=10, batch_size=4)
    async with cluster_running(tmp_path, pg_url, workers=1, queue=queue, runner=fake_runner()) as service:
        (worker,) = service.workers()
        actor = worker_actor(service, worker.id)
        await actor.hold.remote(True)  # every step waits: the batch is caught mid-step
        await service.pause()
        jobs = [await service.submit(request(f"job {n}", seed=n, steps=5), ALICE) for n in range(3)]
        events = service.events(jobs[1].id)
        await asyncio.sleep(0.5)
        await service.resume()
        assert (await events.get(30)).kind is EventKind.POSITION
        while (event := await events.get(30)) is not None and event.kind is not EventKind.STARTED:
            pass
        assert event is not None
        assert await service.cancel(jobs[1].id, by_user=ALICE.user_id)
        cancelled = [e async for e in events]
        # a job that cannot share the batch is sent to the worker as its next one: cancel it there
        nxt = await service.submit(request("next one", steps=6), BOB)
        async with asyncio.timeout(30):
            while (await service.store.get_job(nxt.id)).status is not JobStatus.RUNNING:
                await asyncio.sleep(0.05)
        assert await service.cancel(nxt.id, admin=True)
        await actor.hold.remote(False)
        finished = await wait_all(service, [*jobs, nxt])
        stats = await worker_stats(service)

    assert [e.kind for e in cancelled] == [EventKind.CANCELLED]  # not one step more of it
    done, cancelled_ = JobStatus.DONE, JobStatus.CANCELLED
    assert [job.status for job in finished] == [done, cancelled_, done, cancelled_]
    prompts = [job.request.prompt for job in jobs]
    # the pipeline stopped inside its first step; the mates ran again without it; the next batch
    # never ran
    assert stats[worker.id]["calls"] == [prompts, [prompts[0], prompts[2]]]


async def test_an_end_whose_notify_was_lost_is_still_published_once(tmp_path, pg_url, ray_session):
    """A job finished in the table with no NOTIFY (a dispatcher killed between its commit and its
    notify): the bot process finds it on its next look at the jobs it waits on."""
    async with cluster_running(tmp_path, pg_url, workers=1) as service:
        await service.pause()
        job = await service.submit(request("quiet"), ALICE, key="interaction:1")
        assert (await service.submit(request("quiet"), ALICE, key="interaction:1")).id == job.id  # once
        events = service.events(job.id)
        assert (await events.get(5)).kind is EventKind.POSITION  # waiting, as the table says
        await service.store.claim([job.id], started_at=1.0, model_name="tiny")
        assert await service.store.finish_done(
            job.id, finished_at=2.0, gpu_seconds=0.5, grid_key=None, images=[], charge_day="d1", attempt=1
        )
        kinds = [event.kind async for event in events]
        await service.resume()
        again = await service.events(job.id).get(1.0)  # a late subscriber gets the end from the row
        finished_too = await service.store.user_jobs(ALICE.user_id)

    assert kinds[-1] is EventKind.DONE and kinds.count(EventKind.DONE) == 1
    assert [j.id for j in finished_too] == [job.id]  # the repeated submit wrote nothing more
    assert again.kind is EventKind.DONE and again.job.gpu_seconds == 0.5


async def test_workers_follow_the_nodes_that_join_and_leave(tmp_path, pg_url, ray_nodes):
    """A GPU machine joins: the dispatcher places a worker on it (GPUs first, `workers = 1` here, so
    the CPU slot's worker is retired); it leaves: its worker is retired and one is placed again."""

    async def placed(service, check, what):
        async with asyncio.timeout(30):
            while not check(service.workers()):
                await asyncio.sleep(0.1)
        return service.workers()

    async def runs_on(service, worker_id):
        job = await service.submit(request(f"on {worker_id}"), ALICE)
        assert (await service.wait(job.id, 30)).status is JobStatus.DONE
        return job.id in [j for batch in (await worker_stats(service))[worker_id]["batches"] for j in batch]

    async with cluster_running(tmp_path, pg_url, workers=1) as service:
        (first,) = service.workers()
        assert first.device == "cpu" and await runs_on(service, first.id)
        node = ray_nodes.add_node(num_cpus=0, num_gpus=1)  # a GPU machine joins
        try:
            (gpu,) = await placed(service, lambda ws: [w.device for w in ws] == ["cuda:0"], "a GPU worker")
            assert gpu.id != first.id and await runs_on(service, gpu.id)
        finally:
            ray_nodes.remove_node(node)  # ...and leaves
        (again,) = await placed(service, lambda ws: [w.device for w in ws] == ["cpu"], "a CPU worker")
        assert await runs_on(service, again.id)
