"""The job store through its `Store` protocol, on SQLite and on PostgreSQL (a real server the test
run starts: tests/helpers/cluster_fixtures.py), then what only one of them has: SQLite's
migrations of databases written by older versions, PostgreSQL's submit keys and previews."""

from __future__ import annotations

import dataclasses
import json
import sqlite3

import pytest

from generation.jobs.store.base import Store
from generation.jobs.store.sqlite import MIGRATIONS_DIR, SQLiteStore
from generation.jobs.types import LEGACY_ERROR, Job, JobImage, JobOwner, JobStatus
from generation.problems import Problem
from generation.requests.applied import Applied, EmbeddingUse, LoraUse, Note, VaeUse
from generation.requests.request import GenerationRequest
from generation.safety.check import SafetyMode, Scores, decide


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request, tmp_path):
    if request.param == "postgres":
        from generation.cluster.localpg import create_database, drop_database
        from generation.jobs.store.postgres import PostgresStore

        server = request.getfixturevalue("postgres_server")  # (pg_url is async: not from here)
        name = f"store_{tmp_path.name[-40:].lower()}".replace("-", "_")
        opened: Store = await PostgresStore.open(await create_database(server, name))
        yield opened
        await opened.close()
        await drop_database(server, name)
    else:
        opened = await SQLiteStore.open(tmp_path / "jobs.sqlite3")
        yield opened
        await opened.close()


def job(job_id: str, *, user: int = 1, created: float = 100.0, **kw) -> Job:
    values = {
        "id": job_id,
        "owner": JobOwner(user, 10, 20, (5, 6)),
        "request": GenerationRequest("a red square", width=64, height=64, seed=7, model="tiny"),
        "status": JobStatus.QUEUED,
        "created_at": created,
        "model_name": "tiny",
    }
    return Job(**(values | kw))


async def test_jobs_round_trip_and_lookups(store):
    first = await store.insert_job(job("aaaa", meta={"channel_id": 5}, parent_id="pppp"), reserve_seconds=3.0)
    await store.insert_job(job("bbbb", created=101.0, priority=0))
    await store.insert_job(job("cccc", user=2, created=102.0, parent_id="pppp"))
    got = await store.get_job("aaaa")
    assert got == first and got.owner.role_ids == (5, 6) and got.request == first.request
    assert await store.get_job("nope") is None
    assert [j.id for j in await store.user_jobs(1)] == ["bbbb", "aaaa"]  # newest first
    assert [j.id for j in await store.user_jobs(1, 1)] == ["bbbb"]
    assert [j.id for j in await store.children("pppp")] == ["aaaa", "cccc"]
    assert await store.update_meta("aaaa", {"message_id": 9}) == {"channel_id": 5, "message_id": 9}
    assert (await store.get_job("aaaa")).meta == {"channel_id": 5, "message_id": 9}
    assert await store.update_meta("nope", {"x": 1}) is None
    assert await store.reservation_of("aaaa") == 3.0 and await store.reservation_of("bbbb") is None


async def test_a_clashing_id_gets_a_fresh_one(store):
    await store.insert_job(job("same"))
    again = await store.insert_job(job("same", user=2))
    assert again.id != "same" and (await store.get_job(again.id)).owner.user_id == 2


async def test_running_done_charged_once_and_released(store):
    await store.insert_job(job("aaaa"), reserve_seconds=3.0)
    await store.mark_running(["aaaa"], started_at=200.0, model_name="tiny", model_hash="0123456789")
    running = await store.get_job("aaaa")
    assert (running.status, running.attempts, running.started_at) == (JobStatus.RUNNING, 1, 200.0)
    images = [JobImage(0, 7, "aaaa/0.png"), JobImage(1, 8, "aaaa/1.png")]
    assert await store.finish_done(
        "aaaa", finished_at=210.0, gpu_seconds=2.5, grid_key="aaaa/grid.png", images=images, charge_day="d1"
    )
    done = await store.get_job("aaaa")
    assert (done.status, done.grid_key, done.images, done.gpu_seconds) == (
        JobStatus.DONE,
        "aaaa/grid.png",
        tuple(images),
        2.5,
    )
    assert await store.charge_of("aaaa") == 2.5 and await store.reservation_of("aaaa") is None
    # finishing again changes nothing: charged once
    assert not await store.finish_done(
        "aaaa", finished_at=0, gpu_seconds=99, grid_key=None, images=[], charge_day="d1"
    )
    assert await store.charge_of("aaaa") == 2.5
    assert await store.quota_rows(1, "d1") == (2.5, 0, 0, None, False)
    assert await store.recent_done(5) == [(done.request, 2.5)]
    assert [j.id for j in await store.finished_between(205.0, 211.0)] == ["aaaa"]
    assert await store.finished_between(0, 205.0) == []
    assert [j.id for j in await store.user_jobs(1, statuses=[JobStatus.QUEUED])] == []


async def test_what_a_job_applied_is_kept_with_it(store):
    applied = Applied(
        loras=(LoraUse("detail", "detail.safetensors", 0.7, 0.5, "abcdef123456"),),
        embeddings=(EmbeddingUse("shinyemb", "shinyemb.safetensors", "0123456789ab", 2),),
        vae=VaeUse("other-vae.safetensors", "fedcba9876", "request"),
        clip_skip=2,
        notes=(Problem(Note.OTHER_NETWORK, kind="hypernet", name="x"),),
    )
    await store.insert_job(job("aaaa"))
    assert (await store.get_job("aaaa")).applied is None
    images = [JobImage(0, 7, "aaaa/0.png")]
    assert await store.finish_done(
        "aaaa",
        finished_at=9.0,
        gpu_seconds=1.0,
        grid_key=None,
        images=images,
        charge_day="d1",
        applied=applied,
    )
    done = await store.get_job("aaaa")
    assert done.applied == applied and done.applied.notes[0].fields == {"kind": "hypernet", "name": "x"}
    assert (await store.get_jobs(["aaaa"]))[0].applied == applied


async def test_failures_keep_their_problem_and_release_the_reservation(store):
    await store.insert_job(job("aaaa"), reserve_seconds=3.0)
    await store.insert_job(job("bbbb"), reserve_seconds=2.0)
    problem = Problem("source_unreadable", detail="no artifact 'x/0.png'")
    assert await store.finish_unsuccessful("aaaa", JobStatus.FAILED, finished_at=5.0, error=problem)
    assert await store.finish_unsuccessful("bbbb", JobStatus.CANCELLED, finished_at=6.0)
    failed, cancelled = await store.get_job("aaaa"), await store.get_job("bbbb")
    assert failed.status is JobStatus.FAILED and failed.error == problem
    assert failed.error.fields == {"detail": "no artifact 'x/0.png'"}
    assert cancelled.status is JobStatus.CANCELLED and cancelled.error is None
    assert await store.quota_rows(1, "d1") == (0, 0, 0, None, False)
    assert not await store.finish_unsuccessful("aaaa", JobStatus.CANCELLED, finished_at=7.0)
    assert await store.charge_of("aaaa") is None


async def test_unfinished_jobs_are_queued_again_in_submit_order(store):
    for n, created in enumerate([3.0, 1.0, 2.0]):
        await store.insert_job(job(f"j{n}", created=created))
    await store.mark_running(["j0"], started_at=9.0, model_name="tiny", model_hash=None)
    await store.mark_running(["j2"], started_at=9.0, model_name="tiny", model_hash=None)
    await store.mark_queued(["j2"])  # a stopping service put it back
    assert (await store.get_job("j2")).status is JobStatus.QUEUED
    again = await store.requeue_unfinished()
    assert [j.id for j in again] == ["j1", "j2", "j0"]
    assert all(j.status is JobStatus.QUEUED and j.started_at is None for j in again)
    assert [j.attempts for j in again] == [0, 1, 1]


async def test_quota_grants_overrides_and_settings(store):
    await store.add_grant(1, "d1", 30.0, 1.0)
    await store.add_grant(1, "d1", 15.0, 2.0)
    await store.add_grant(1, "d2", 99.0, 3.0)
    assert await store.quota_rows(1, "d1") == (0, 0, 45.0, None, False)
    await store.set_override(1, 60.0, 4.0, remove=False)
    assert await store.quota_rows(1, "d1") == (0, 0, 45.0, 60.0, True)
    await store.set_override(1, None, 5.0, remove=False)  # unlimited
    assert await store.quota_rows(1, "d1") == (0, 0, 45.0, None, True)
    await store.set_override(1, None, 6.0, remove=True)
    assert await store.quota_rows(1, "d1") == (0, 0, 45.0, None, False)
    assert await store.guild_setting(10, "words", []) == []
    await store.set_guild_setting(10, "words", ["a", "b"])
    assert await store.guild_setting(10, "words") == ["a", "b"]
    await store.set_guild_setting(10, "words", None)
    assert await store.guild_setting(10, "words", "gone") == "gone"
    assert await store.state("active_model", "tiny") == "tiny"
    await store.set_state("active_model", "other")
    await store.set_state("active_model", "third")
    assert await store.state("active_model") == "third"


async def test_user_settings_replace_and_delete(store):
    assert await store.user_settings(1) == {}
    await store.set_user_settings(1, {"steps": 30, "remix": True}, 5.0)
    await store.set_user_settings(2, {"style": "ink"}, 5.0)
    assert await store.user_settings(1) == {"steps": 30, "remix": True}
    await store.set_user_settings(1, {"sampler": "DDIM"}, 6.0)  # replaces, not merges
    assert await store.user_settings(1) == {"sampler": "DDIM"}
    await store.set_user_settings(1, {}, 7.0)
    assert await store.user_settings(1) == {}
    assert await store.user_settings(2) == {"style": "ink"}


async def test_claim_numbers_attempts_and_a_late_attempt_is_discarded(store):
    """The dispatcher's guard: a claim starts only queued jobs and counts the attempt; a finish
    that names an attempt lands only while it is the job's latest, and charges once."""
    await store.insert_job(job("aaaa"), reserve_seconds=3.0)
    await store.insert_job(job("bbbb", created=101.0))
    assert await store.claim(["aaaa", "bbbb", "nope"], started_at=5.0, model_name="tiny") == {
        "aaaa": 1,
        "bbbb": 1,
    }
    assert await store.claim(["aaaa"], started_at=6.0, model_name="tiny") == {}  # running already
    await store.mark_queued(["aaaa"])  # its worker was lost: back to the queue
    assert await store.claim(["aaaa"], started_at=7.0, model_name="tiny") == {"aaaa": 2}
    late = {"grid_key": None, "images": [JobImage(0, 7, "aaaa/0.png")], "charge_day": "d1"}
    assert not await store.finish_done("aaaa", finished_at=8.0, gpu_seconds=9.0, attempt=1, **late)
    assert not await store.finish_unsuccessful("aaaa", JobStatus.FAILED, finished_at=8.0, attempt=1)
    assert (await store.get_job("aaaa")).status is JobStatus.RUNNING
    assert await store.charge_of("aaaa") is None and await store.reservation_of("aaaa") == 3.0
    assert await store.finish_done("aaaa", finished_at=9.0, gpu_seconds=2.0, attempt=2, **late)
    assert not await store.finish_done("aaaa", finished_at=9.5, gpu_seconds=4.0, attempt=2, **late)
    assert await store.charge_of("aaaa") == 2.0 and await store.quota_rows(1, "d1") == (
        2.0,
        0,
        0,
        None,
        False,
    )
    done = await store.get_job("aaaa")
    assert (done.status, done.attempts, done.images) == (JobStatus.DONE, 2, (JobImage(0, 7, "aaaa/0.png"),))


async def test_unfinished_counts_and_several_jobs_at_once(store):
    for n, (user, created) in enumerate([(1, 3.0), (2, 1.0), (1, 2.0), (1, 4.0)]):
        await store.insert_job(job(f"j{n}", user=user, created=created))
    await store.claim(["j3"], started_at=5.0, model_name=None)
    await store.finish_unsuccessful("j0", JobStatus.CANCELLED, finished_at=6.0)
    assert [j.id for j in await store.unfinished()] == ["j1", "j2", "j3"]  # submit order, none changed
    assert (await store.get_job("j3")).status is JobStatus.RUNNING
    assert await store.queued_counts(1) == (1, 2) and await store.queued_counts(3) == (0, 2)
    assert [j.id for j in await store.get_jobs(["j2", "nope", "j0", "j2"])] == ["j2", "j0"]
    assert await store.get_jobs([]) == []


async def test_the_image_check_is_written_with_the_done_job(store):
    check = decide(
        SafetyMode.BLOCK,
        [Scores({"FEMALE_BREAST_EXPOSED": 0.9}), Scores({"FACE_FEMALE": 0.4})],
        threshold=0.5,
        labels=("FEMALE_BREAST_EXPOSED",),
        detector="nudenet 3.4.2 320n",
    )
    await store.insert_job(job("aaaa"))
    await store.insert_job(job("bbbb", created=101.0))
    images = [JobImage(0, 7, "aaaa/0.png"), JobImage(1, 8, "aaaa/1.png")]
    done = dict(finished_at=210.0, gpu_seconds=1.0, grid_key=None, images=images, charge_day="d1")
    assert await store.finish_done("aaaa", **done, image_check=check)
    assert await store.finish_done("bbbb", **done)
    got = await store.get_job("aaaa")
    assert got.image_check == check and got.image_check.blocked_indexes == {0}
    assert (await store.get_job("bbbb")).image_check is None  # not checked
    assert [j.image_check for j in await store.finished_between(0, 300)] == [check, None]
    late = dataclasses.replace(check, mode=SafetyMode.OFF)
    assert not await store.finish_done("aaaa", **done, image_check=late)  # finished: the check stands
    assert (await store.get_job("aaaa")).image_check == check


# -- SQLite only ----------------------------------------------------------------------------------


async def test_a_version_1_database_is_migrated_and_its_old_rows_still_read(tmp_path):
    """A database an older version wrote (file paths, text errors) opens, migrates and reads back.
    (The one place outside the store with SQL: it writes rows as version 1 did.)"""
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript((MIGRATIONS_DIR / "0001_initial.sql").read_text())
    db.execute("PRAGMA user_version = 1")
    request = json.dumps(GenerationRequest("old", seed=3, model="tiny").to_dict())
    db.execute(
        "INSERT INTO jobs (id, user_id, request, status, created_at, grid_path, error)"
        " VALUES (?,?,?,?,?,?,?)",
        ("oldjob", 1, request, "done", 1.0, "/data/outputs/oldjob/grid.png", None),
    )
    db.execute(
        "INSERT INTO images (job_id, idx, seed, path) VALUES ('oldjob', 0, 3, '/data/outputs/oldjob/0.png')"
    )
    db.execute(
        "INSERT INTO jobs (id, user_id, request, status, created_at, error) VALUES (?,?,?,?,?,?)",
        ("badjob", 1, request, "failed", 2.0, "The generation failed: boom. Try again later."),
    )
    db.commit()
    db.close()

    store = await SQLiteStore.open(path)
    try:
        assert await store.schema_version() == len(list(MIGRATIONS_DIR.glob("*.sql"))) == 5
        old = await store.get_job("oldjob")
        assert old.grid_key == "/data/outputs/oldjob/grid.png"  # a path: the local artifact store reads it
        assert old.images == (JobImage(0, 3, "/data/outputs/oldjob/0.png"),)
        bad = await store.get_job("badjob")
        assert bad.error == Problem(LEGACY_ERROR, text="The generation failed: boom. Try again later.")
        assert old.applied is None  # done before what was applied was kept
    finally:
        await store.close()
    again = await SQLiteStore.open(path)  # applied once, then left alone
    assert await again.schema_version() == 5
    await again.close()


# -- PostgreSQL only ------------------------------------------------------------------------------


@pytest.fixture
async def pg_store(pg_url):
    from generation.jobs.store.postgres import PostgresStore

    opened = await PostgresStore.open(pg_url)
    yield opened
    await opened.close()


async def test_postgres_submit_is_idempotent_on_its_key_and_notifies_on_commit(pg_store, pg_url):
    import asyncio

    import asyncpg

    heard: list[str] = []
    listener = await asyncpg.connect(pg_url)
    await listener.add_listener("t_submit", lambda *args: heard.append(args[3]))
    try:
        first = await pg_store.submit_job(job("aaaa"), reserve_seconds=3.0, key="ix:1", notify="t_submit")
        again = await pg_store.submit_job(job("bbbb"), reserve_seconds=3.0, key="ix:1", notify="t_submit")
        other = await pg_store.submit_job(job("aaaa", user=2), key="ix:2", notify="t_submit")
        for _ in range(100):
            if len(heard) >= 2:
                break
            await asyncio.sleep(0.02)
    finally:
        await listener.close()
    assert again.id == first.id == "aaaa" and other.id != "aaaa"  # the same key: the same job
    assert [j.id for j in await pg_store.unfinished()] == ["aaaa", other.id]
    assert await pg_store.quota_rows(1, "d1") == (0, 3.0, 0, None, False)  # reserved once
    assert heard == ["aaaa", other.id]  # the retried submit announced nothing


async def test_postgres_concurrent_finishes_charge_once(pg_store, pg_url):
    """Two writers finishing the same job at the same moment (a dispatcher and a late one):
    one lands, the other is refused by the row's guard, and one charge row exists."""
    import asyncio

    from generation.jobs.store.postgres import PostgresStore

    second = await PostgresStore.open(pg_url)
    try:
        for n in range(10):
            await pg_store.insert_job(job(f"j{n}"), reserve_seconds=1.0)
        await pg_store.claim([f"j{n}" for n in range(10)], started_at=1.0, model_name="tiny")
        results = await asyncio.gather(
            *(
                writer.finish_done(
                    f"j{n}", finished_at=2.0, gpu_seconds=1.5, grid_key=None, images=[], charge_day="d1"
                )
                for n in range(10)
                for writer in (pg_store, second)
            )
        )
    finally:
        await second.close()
    assert sum(results) == 10
    assert await pg_store.charges([f"j{n}" for n in range(10)]) == {f"j{n}": 1 for n in range(10)}
    assert await pg_store.quota_rows(1, "d1") == (15.0, 0, 0, None, False)


async def test_postgres_previews_are_kept_while_a_job_runs(pg_store):
    await pg_store.insert_job(job("aaaa"))
    await pg_store.put_preview("aaaa", 1, 4, b"first", 1.0)
    await pg_store.put_preview("aaaa", 2, 4, b"second", 2.0)
    assert await pg_store.preview("aaaa") == b"second"
    await pg_store.finish_unsuccessful("aaaa", JobStatus.CANCELLED, finished_at=3.0)
    assert await pg_store.preview("aaaa") is None
    await pg_store.put_preview("aaaa", 3, 4, b"late", 4.0)  # a finished job keeps none
    assert await pg_store.preview("aaaa") is None


async def test_postgres_migrates_once_when_processes_open_it_together(pg_url):
    import asyncio

    from generation.jobs.store.postgres import MIGRATIONS_DIR, PostgresStore

    stores = await asyncio.gather(*(PostgresStore.open(pg_url) for _ in range(3)))
    try:
        versions = {await s.schema_version() for s in stores}
    finally:
        await asyncio.gather(*(s.close() for s in stores))
    assert versions == {len(list(MIGRATIONS_DIR.glob("*.sql")))}
