"""The service: fairness, limits, batching, events, failures, cancel, pause, model switching.

Most tests drive a `FakeRunner` (no torch, milliseconds per job) on a `LocalWorkerPool`; the ones
about pixels, the event loop and broken checkpoints use the real tiny model through the default
runner. Refusals and failures are Problems: the tests check their codes and fields, and that the
bot words them as before (bot.ui.text.describe).
"""

from __future__ import annotations

import asyncio
import io
import shutil
import time

import numpy as np
import pytest
from PIL import Image

from bot.ui.text import describe
from generation.jobs.events import EventHub, JobEvent
from generation.jobs.problems import Refusal
from generation.jobs.service import JobService, ModelSwitchError, SubmitRefused
from generation.jobs.types import EventKind, JobOwner, JobStatus
from generation.settings import QueueSettings
from generation.workers.fakes import FakeRunner
from generation.workers.local import LocalWorkerPool
from generation.workers.protocol import WorkerProblem
from generation.workers.runner import PipelineRunner
from tests.helpers.service_env import make_settings, request

pytestmark = pytest.mark.timeout(60)

ALICE, BOB, CAROL = JobOwner(1, 10, 20), JobOwner(2, 10, 20), JobOwner(3, 10, 20)


@pytest.fixture
async def open_scheduler(tmp_path):
    opened = []

    async def factory(*, runner=None, start=True, real=False, workers=1, **settings_kw):
        settings = make_settings(tmp_path, **settings_kw)
        if real:
            runner = PipelineRunner(settings)
        runner = runner or FakeRunner()
        service = await JobService.open(settings, pool=LocalWorkerPool(runner, workers=workers))
        opened.append(service)
        if start:
            await service.start()
        return service, runner

    yield factory
    for service in opened:
        await service.close()


async def wait_all(service, jobs, timeout=20):
    return [await service.wait(job.id, timeout) for job in jobs]


async def test_single_job_round_trip(open_scheduler, tmp_path):
    service, runner = await open_scheduler()
    events = service.events()
    job = await service.submit(request(count=2, seed=7), ALICE, meta={"message_id": 5})
    assert len(job.id) == 10 and job.id.isalnum() and job.id.islower()
    assert job.status is JobStatus.QUEUED and job.model_name == "tiny" and job.request.model == "tiny"
    done = await service.wait(job.id, 10)
    assert done.status is JobStatus.DONE
    assert [(im.index, im.seed) for im in done.images] == [(0, 7), (1, 8)]
    assert [im.key for im in done.images] == [f"{job.id}/0.png", f"{job.id}/1.png"]
    assert done.grid_key == f"{job.id}/grid.png"
    for key in [done.grid_key, *(im.key for im in done.images)]:
        assert (await service.read_artifact(key)).startswith(b"\x89PNG")
        assert (tmp_path / "outputs" / key).is_file()  # the default store: files in outputs_dir
    stored = await service.get_job(job.id)
    assert stored.status is JobStatus.DONE and stored.images == done.images
    assert stored.meta == {"message_id": 5} and stored.model_hash == "0123456789" and stored.attempts == 1
    kinds = []
    while (event := await events.get(1)) is not None:
        kinds.append(event.kind)
        if event.kind == "done":
            break
    assert kinds[0] == EventKind.QUEUED and kinds[1] == EventKind.STARTED and kinds[-1] == EventKind.DONE
    assert EventKind.PROGRESS in kinds
    assert runner.threads == {"gpu0_0"}  # every model call on the one GPU thread
    # a finished job's subscription gives its terminal event at once
    late = [e.kind async for e in service.events(job.id)]
    assert late == ["done"]
    assert [e async for e in service.events("nosuchjob")] == []


async def test_random_seed_is_resolved_and_unknown_model_refused(open_scheduler):
    service, _ = await open_scheduler(start=False)
    job = await service.submit(request(seed=-1), ALICE)
    assert job.request.seed >= 0
    with pytest.raises(SubmitRefused) as refused:
        await service.submit(request(model="nope"), ALICE)
    assert refused.value.code == Refusal.UNKNOWN_MODEL
    assert refused.value.fields == {"model": "nope", "names": ["tiny", "other"]}
    assert "no model called nope; the models are: tiny, other" in describe(refused.value)
    with pytest.raises(SubmitRefused) as refused:
        await service.submit(request(""), ALICE)
    assert "prompt is empty" in describe(refused.value)


async def test_round_robin_ten_jobs_against_one(open_scheduler):
    service, runner = await open_scheduler(queue=QueueSettings(per_user=10, batch_size=1))
    events = service.events()
    runner.gate.clear()  # Alice's first job will be running while the rest arrive
    alice = [await service.submit(request(f"a{n}"), ALICE) for n in range(10)]
    await asyncio.sleep(0.05)
    bob = await service.submit(request("b"), BOB)
    assert [j.id for j in service.queue()][:2] == [bob.id, alice[1].id]
    assert service.position(bob.id)[0] == 1
    runner.gate.set()
    await wait_all(service, [*alice, bob])
    started = []
    while len(started) < 11:
        event = await events.get(5)
        if event.kind == "started":
            started.append(event.job_id)
    assert started.index(bob.id) <= 1


async def test_paused_queue_serves_the_single_job_no_later_than_second(open_scheduler):
    service, runner = await open_scheduler(queue=QueueSettings(per_user=10, batch_size=1))
    await service.pause()
    assert service.paused
    alice = [await service.submit(request(f"a{n}"), ALICE) for n in range(10)]
    bob = await service.submit(request("b"), BOB)
    await asyncio.sleep(0.1)
    assert runner.calls == [] and (await service.get_job(bob.id)).status is JobStatus.QUEUED
    await service.resume()
    await wait_all(service, [*alice, bob])
    assert [c[0] for c in runner.calls].index("b") <= 1


async def test_limits_are_refused_with_their_messages(open_scheduler):
    service, _ = await open_scheduler(start=False, queue=QueueSettings(per_user=2, total=3))
    first = await service.submit(request("a lighthouse at dusk"), ALICE)
    second = await service.submit(request("a cat"), ALICE)
    with pytest.raises(SubmitRefused) as refused:
        await service.submit(request("a dog"), ALICE)
    assert refused.value.code == Refusal.TOO_MANY_WAITING
    assert (refused.value.fields["count"], refused.value.fields["limit"]) == (2, 2)
    assert [j["id"] for j in refused.value.fields["waiting"]] == [first.id, second.id]
    message = describe(refused.value)
    assert "2 jobs waiting" in message and "limit is 2" in message
    assert first.id in message and second.id in message and "a lighthouse at dusk" in message
    await service.submit(request("b"), BOB)
    with pytest.raises(SubmitRefused) as refused:
        await service.submit(request("c"), CAROL)
    assert refused.value.code == Refusal.QUEUE_FULL and refused.value.fields["limit"] == 3
    assert "queue is full: 3 jobs are waiting" in describe(refused.value) and "limit is 3" in describe(
        refused.value
    )
    assert len(service.queue()) == 3


async def test_compatible_jobs_share_one_call_and_positions_update(open_scheduler):
    service, runner = await open_scheduler(queue=QueueSettings(batch_size=4))
    runner.gate.clear()
    blocker = await service.submit(request("blocker", steps=3), CAROL)
    await asyncio.sleep(0.05)
    watch = service.events()
    jobs = [
        await service.submit(request("a", seed=1), ALICE),
        await service.submit(request("b", seed=2, count=2), BOB),
        await service.submit(request("c", seed=3, width=128), CAROL),  # another size: not batched
        await service.submit(request("d", seed=4), ALICE),
    ]
    # Carol's blocker used her turn: her second job comes after Alice's second
    assert [j.id for j in service.queue()] == [jobs[0].id, jobs[1].id, jobs[3].id, jobs[2].id]
    pos, eta = service.position(jobs[2].id)
    assert pos == 4 and eta > 0
    runner.gate.set()
    results = await wait_all(service, [blocker, *jobs])
    assert all(j.status is JobStatus.DONE for j in results)
    assert runner.calls == [["blocker"], ["a", "b", "d"], ["c"]]
    assert [len(j.images) for j in results] == [1, 1, 2, 1, 1]
    positions = {}
    while (event := await watch.get(0.2)) is not None:
        if event.kind == "position":
            positions.setdefault(event.job_id, []).append(event.position)
    assert positions[jobs[2].id][-1] == 1  # moved up to first when the batch before it started


async def test_a_failing_job_fails_alone_and_the_loop_goes_on(open_scheduler):
    from generation.jobs.quotas import QuotaSettings

    service, runner = await open_scheduler(
        queue=QueueSettings(batch_size=4), quota=QuotaSettings(daily_seconds=1000)
    )
    await service.pause()
    good = await service.submit(request("good", seed=1), ALICE)
    bad = await service.submit(request("FAIL", seed=2), BOB)
    other = await service.submit(request("other", seed=3), CAROL)
    assert await service.store.reservation_of(bad.id) > 0
    await service.resume()
    good, bad, other = await wait_all(service, [good, bad, other])
    assert (good.status, bad.status, other.status) == (JobStatus.DONE, JobStatus.FAILED, JobStatus.DONE)
    assert bad.error.code == WorkerProblem.SOURCE_UNREADABLE and "FAIL.png" in bad.error.fields["detail"]
    assert "source image could not be read" in describe(bad.error) and "FAIL.png" in describe(bad.error)
    assert runner.calls[0] == ["good", "FAIL", "other"] and len(runner.calls) == 4  # then one by one
    assert await service.store.reservation_of(bad.id) is None  # released
    assert await service.store.charge_of(bad.id) is None
    assert await service.store.charge_of(good.id) is not None
    # out of memory: memory freed, a message to act on, the next job still runs
    oom = await service.submit(request("OOM"), ALICE)
    oom = await service.wait(oom.id, 10)
    assert oom.status is JobStatus.FAILED and oom.error.code == WorkerProblem.OUT_OF_MEMORY
    assert "ran out of memory" in describe(oom.error) and runner.freed >= 1
    after = await service.wait((await service.submit(request("after"), ALICE)).id, 10)
    assert after.status is JobStatus.DONE
    # saving fails (disk full): that job fails, its batch mate is done
    await service.pause()
    nosave = await service.submit(request("NOSAVE"), ALICE)
    mate = await service.submit(request("mate"), BOB)
    await service.resume()
    nosave, mate = await wait_all(service, [nosave, mate])
    assert nosave.status is JobStatus.FAILED and nosave.error.code == WorkerProblem.NOT_SAVED
    assert "could not be saved: No space left" in describe(nosave.error)
    assert mate.status is JobStatus.DONE


async def test_cancel_queued_and_running(open_scheduler):
    service, runner = await open_scheduler(queue=QueueSettings(batch_size=1))
    runner.gate.clear()
    running = await service.submit(request("running"), ALICE)
    queued = await service.submit(request("queued"), ALICE)
    await asyncio.sleep(0.05)
    assert [j.id for j in service.running()] == [running.id]
    assert not await service.cancel(queued.id, by_user=BOB.user_id)  # not Bob's
    assert await service.cancel(queued.id, by_user=ALICE.user_id)
    assert (await service.get_job(queued.id)).status is JobStatus.CANCELLED  # at once
    assert not await service.cancel(queued.id)  # already finished
    t0 = time.monotonic()
    assert await service.cancel(running.id, by_user=BOB.user_id, admin=True)
    cancelled = await service.wait(running.id, 5)
    assert cancelled.status is JobStatus.CANCELLED and time.monotonic() - t0 < 1
    runner.gate.set()
    nxt = await service.wait((await service.submit(request("next"), ALICE)).id, 5)
    assert nxt.status is JobStatus.DONE
    assert runner.calls == [["running"], ["next"]]


async def test_cancelling_one_job_of_a_batch_reruns_the_others(open_scheduler):
    service, runner = await open_scheduler(queue=QueueSettings(batch_size=4))
    await service.pause()
    a = await service.submit(request("a"), ALICE)
    b = await service.submit(request("b"), BOB)
    runner.gate.clear()
    await service.resume()
    await asyncio.sleep(0.05)
    assert await service.cancel(b.id)
    runner.gate.set()
    a, b = await wait_all(service, [a, b])
    assert a.status is JobStatus.DONE and b.status is JobStatus.CANCELLED
    assert runner.calls == [["a", "b"], ["a"]]


async def test_pause_and_resume(open_scheduler):
    service, _ = await open_scheduler()
    await service.pause()
    job = await service.submit(request(), ALICE)
    await asyncio.sleep(0.1)
    assert (await service.get_job(job.id)).status is JobStatus.QUEUED and service.position(job.id)[0] == 1
    await service.resume()
    assert not service.paused
    assert (await service.wait(job.id, 5)).status is JobStatus.DONE


async def test_a_pause_outlasts_a_restart(open_scheduler):
    first, _ = await open_scheduler()
    await first.pause()
    job = await first.submit(request(), ALICE)
    await first.close()
    again, _ = await open_scheduler()  # the same database
    assert again.paused
    await asyncio.sleep(0.1)
    assert (await again.get_job(job.id)).status is JobStatus.QUEUED
    await again.resume()
    assert (await again.wait(job.id, 5)).status is JobStatus.DONE
    await again.close()
    assert not (await open_scheduler())[0].paused


async def test_model_switch_keeps_the_old_model_when_the_new_one_is_broken(open_scheduler, tmp_path):
    runner = FakeRunner(models=("tiny", "other", "broken"), broken={"broken"})
    service, runner = await open_scheduler(runner=runner)
    await service.wait((await service.submit(request(), ALICE)).id, 5)
    assert service.loaded_model == "tiny"
    with pytest.raises(ModelSwitchError) as failed:
        await service.switch_model("broken")
    assert failed.value.code == WorkerProblem.MODEL_SWITCH_FAILED
    assert failed.value.fields == {
        "model": "broken",
        "detail": "broken.safetensors is corrupt",
        "kept": "tiny",
    }
    assert "broken.safetensors is corrupt; tiny stays active" in describe(failed.value)
    with pytest.raises(ModelSwitchError) as failed:
        await service.switch_model("nope")
    assert failed.value.code == Refusal.UNKNOWN_MODEL and "no model called nope" in describe(failed.value)
    assert service.active_model == "tiny" and service.loaded_model == "tiny"
    # a queued job keeps the model it asked for; new jobs get the new active model
    await service.pause()
    old = await service.submit(request("old"), ALICE)
    assert await service.switch_model("other") == "other"
    assert service.active_model == "other" and runner.unloads == ["tiny"]
    new = await service.submit(request("new"), BOB)
    assert (old.model_name, new.model_name) == ("tiny", "other")
    await service.resume()
    old, new = await wait_all(service, [old, new])
    assert (old.model_name, new.model_name) == ("tiny", "other")
    assert await service.store.state("active_model") == "other"


async def test_meta_lookups_and_guild_settings(open_scheduler):
    service, _ = await open_scheduler()
    job = await service.submit(request(), ALICE, parent_id="parent1234")
    await service.update_meta(job.id, message_id=1, channel_id=2)
    await service.update_meta(job.id, message_id=3)
    await service.wait(job.id, 5)
    stored = await service.get_job(job.id)
    assert stored.meta == {"message_id": 3, "channel_id": 2} and stored.parent_id == "parent1234"
    assert [j.id for j in await service.children("parent1234")] == [job.id]
    second = await service.submit(request(), ALICE)
    assert [j.id for j in await service.user_jobs(ALICE.user_id)] == [second.id, job.id]
    assert await service.user_jobs(BOB.user_id) == []
    assert await service.get_job("nosuchjob") is None
    assert await service.guild_setting(10, "banned_words", []) == []
    await service.set_guild_setting(10, "banned_words", ["x", "y"])
    assert await service.guild_setting(10, "banned_words") == ["x", "y"]
    await service.set_guild_setting(10, "banned_words", None)
    assert await service.guild_setting(10, "banned_words", "gone") == "gone"
    await service.set_user_settings(7, {"cfg": 5.5})
    assert await service.user_settings(7) == {"cfg": 5.5} and await service.user_settings(8) == {}


async def test_previews_only_for_subscribers_who_want_them(open_scheduler):
    service, _ = await open_scheduler()
    plain, with_previews = service.events(), service.events(previews=True)
    job = await service.submit(request(steps=3), ALICE)
    await service.wait(job.id, 5)
    got_plain = [e async for e in _until_done(plain)]
    got_previews = [e async for e in _until_done(with_previews)]
    assert all(e.preview is None for e in got_plain)
    previews = [e.preview for e in got_previews if e.kind == "progress"]
    assert previews and all(p.startswith(b"\x89PNG") for p in previews)


async def _until_done(sub):
    while (event := await sub.get(1)) is not None:
        yield event
        if event.kind == "done":
            return


async def test_slow_subscribers_drop_progress_never_terminal_events():
    hub = EventHub(maxsize=4)
    sub = hub.subscribe(None)
    for step in range(10):
        hub.publish(JobEvent("j", "progress", step=step))
    hub.publish(JobEvent("j", "done"))
    for n in range(5):
        hub.publish(JobEvent(f"k{n}", "failed"))
    kinds = [(await sub.get(0)).kind for _ in range(6)]
    assert kinds == ["done", "failed", "failed", "failed", "failed", "failed"]
    assert sub.dropped == 10
    one = hub.subscribe("j")
    hub.publish(JobEvent("j", "done"))
    hub.publish(JobEvent("j", "done"))
    assert [e.kind async for e in one] == ["done"]  # ends after the terminal event
    hub.close()
    assert [e.kind async for e in sub] == ["done", "done"]  # what was buffered, then the end


# -- the real tiny model --------------------------------------------------------------------------


@pytest.fixture
def models_dir(tmp_path, tiny_model_dir):
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copytree(tiny_model_dir, folder / "tiny")  # the registry skips links leading outside
    return folder


async def test_batched_results_equal_unbatched_pixels(open_scheduler, models_dir, tiny_loaded):
    from generation.pipelines.engine import generate

    # Bit-exact equality needs the batch-invariant UNet (the default matches to within rounding).
    service, _ = await open_scheduler(
        real=True, models_dir=models_dir, queue=QueueSettings(batch_size=4), batch_invariant=True
    )
    await service.pause()
    jobs = [
        await service.submit(request("a red square", seed=11), ALICE),
        await service.submit(request("a blue circle", seed=22, count=2), BOB),
    ]
    await service.resume()
    jobs = await wait_all(service, jobs, 60)
    assert all(j.status is JobStatus.DONE for j in jobs)
    assert jobs[0].started_at == jobs[1].started_at  # one pipeline call
    for job in jobs:
        alone = generate(tiny_loaded, [job.request], batch_invariant=True)[0]
        for image, expected in zip(job.images, alone, strict=True):
            png = await service.read_artifact(image.key)
            assert np.array_equal(
                np.asarray(Image.open(io.BytesIO(png)).convert("RGB")), np.asarray(expected)
            )


async def test_the_event_loop_keeps_ticking_during_generation(open_scheduler, models_dir):
    service, _ = await open_scheduler(real=True, models_dir=models_dir)
    await service.wait((await service.submit(request(), ALICE)).id, 60)  # model loaded
    job = await service.submit(request(width=128, height=128, steps=16, count=2), ALICE)
    ticks = []

    async def ticker():
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0.01)

    task = asyncio.create_task(ticker())
    started = time.monotonic()
    await service.wait(job.id, 60)
    task.cancel()
    elapsed, gaps = time.monotonic() - started, np.diff(ticks)
    print(f"generation {elapsed:.2f} s, {len(ticks)} ticks, longest gap {gaps.max() * 1000:.0f} ms")
    assert elapsed > 0.15 and len(ticks) > 10
    # blocked, the loop would not tick for the whole generation; running on the GPU thread it
    # ticks every 10 ms give or take the OS service on a busy machine
    assert gaps.max() < min(0.3, elapsed / 3), f"the loop stalled for {gaps.max():.3f} s"


async def test_switching_to_a_corrupt_checkpoint_keeps_the_old_model(open_scheduler, models_dir):
    (models_dir / "broken.safetensors").write_bytes(b"\x00" * 64 + b"not a checkpoint")
    service, _ = await open_scheduler(real=True, models_dir=models_dir)
    assert service.model_names() == ["broken", "tiny"]
    assert await service.switch_model("tiny") == "tiny"
    with pytest.raises(ModelSwitchError) as failed:
        await service.switch_model("broken")
    assert failed.value.fields["model"] == "broken" and failed.value.fields["kept"] == "tiny"
    assert describe(failed.value).startswith("Could not switch to broken")
    assert describe(failed.value).endswith("tiny stays active.")
    assert service.active_model == "tiny" and service.loaded_model == "tiny"
    job = await service.wait((await service.submit(request(), ALICE)).id, 60)
    assert job.status is JobStatus.DONE and job.model_name == "tiny"


# -- several workers ------------------------------------------------------------------------------


async def test_two_workers_share_the_queue_fairly_and_their_etas_count_both(open_scheduler):
    # 64x64, 2 steps = 1/16 unit; at 40 s a unit (nothing measured yet) a job is 2.5 s of work
    queue = QueueSettings(per_user=10, batch_size=1, initial_step_seconds=40.0)
    service, runner = await open_scheduler(workers=2, queue=queue)
    assert [w.id for w in service.workers()] == ["local-0", "local-1"]
    events = service.events()
    await service.pause()
    jobs = {}
    for owner, name in [(ALICE, "a1"), (ALICE, "a2"), (ALICE, "a3"), (BOB, "b1"), (BOB, "b2"), (CAROL, "c1")]:
        jobs[name] = await service.submit(request(name), owner)
    order = [jobs[n].id for n in ("a1", "b1", "c1", "a2", "b2", "a3")]  # each user's first before any second
    assert [j.id for j in service.queue()] == order
    # both workers idle: the first two start at once, the next two after one job, the last two after two
    waits = [service.position(job_id)[1] for job_id in order]
    assert waits == pytest.approx([0, 0, 2.5, 2.5, 5, 5])

    runner.gate.clear()  # each worker holds its first job
    await service.resume()
    for _ in range(200):
        if len(service.running()) == 2:
            break
        await asyncio.sleep(0.01)
    assert {j.id for j in service.running()} == {jobs["a1"].id, jobs["b1"].id}
    held = {w.id: w.jobs for w in service.workers()}
    assert sorted(held.values()) == sorted([(jobs["a1"].id,), (jobs["b1"].id,)])  # one on each worker
    # four waiting behind two busy workers: the third waits one job longer than the first, not two
    waiting = [service.position(job_id)[1] for job_id in order[2:]]
    assert waiting[0] == pytest.approx(waiting[1], abs=0.5) and 1.5 < waiting[0] <= 2.5
    assert waiting[2] - waiting[0] == pytest.approx(2.5, abs=0.5)
    assert waiting[3] - waiting[1] == pytest.approx(2.5, abs=0.5)

    assert await service.cancel(jobs["b1"].id)  # a cancel reaches the worker that holds the job
    assert (await service.wait(jobs["b1"].id, 5)).status is JobStatus.CANCELLED
    runner.gate.set()
    finished = await wait_all(service, list(jobs.values()))
    assert [j.status for j in finished].count(JobStatus.DONE) == 5
    assert runner.threads >= {"gpu0_0", "gpu1_0"}  # both workers ran pipelines
    assert all(w.jobs_done >= 1 for w in service.workers())
    started = []
    while (event := await events.get(0.2)) is not None:
        if event.kind is EventKind.STARTED:
            started.append(event.job_id)
    assert set(started[:3]) == set(order[:3])  # every user's first job before anyone's second
    assert set(started) == set(order)


async def test_a_model_switch_reaches_every_worker(open_scheduler):
    service, runner = await open_scheduler(workers=2)
    assert await service.switch_model("other") == "other"
    assert service.pool.loaded_models() == {"local-0": "other", "local-1": "other"}
    assert service.loaded_model == "other" and runner.checks == 2
    job = await service.wait((await service.submit(request(), ALICE)).id, 5)
    assert job.status is JobStatus.DONE and job.model_name == "other"
