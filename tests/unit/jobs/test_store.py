"""The job store through its `Store` protocol (a PostgreSQL store can take the same `store` fixture),
then what only SQLite has: migrations, and databases written by older versions."""

from __future__ import annotations

import json
import sqlite3

import pytest

from generation.jobs.store.base import Store
from generation.jobs.store.sqlite import MIGRATIONS_DIR, SQLiteStore
from generation.jobs.types import LEGACY_ERROR, Job, JobImage, JobOwner, JobStatus
from generation.problems import Problem
from generation.requests.request import GenerationRequest


@pytest.fixture(params=["sqlite"])
async def store(request, tmp_path):
    opened: Store = await SQLiteStore.open(tmp_path / "jobs.sqlite3")
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
        assert await store.schema_version() == len(list(MIGRATIONS_DIR.glob("*.sql"))) == 3
        old = await store.get_job("oldjob")
        assert old.grid_key == "/data/outputs/oldjob/grid.png"  # a path: the local artifact store reads it
        assert old.images == (JobImage(0, 3, "/data/outputs/oldjob/0.png"),)
        bad = await store.get_job("badjob")
        assert bad.error == Problem(LEGACY_ERROR, text="The generation failed: boom. Try again later.")
    finally:
        await store.close()
    again = await SQLiteStore.open(path)  # applied once, then left alone
    assert await again.schema_version() == 3
    await again.close()
