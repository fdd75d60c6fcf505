"""Opening a database that cannot be this store's: a StoreOpenError naming the file, nothing written,
nothing left running (the start-up tests in tests/e2e/startup run the bot against each case)."""

from __future__ import annotations

import sqlite3

import pytest

from generation.jobs.problems import StoreOpenError, StoreProblem
from generation.jobs.service import JobService
from generation.jobs.store.sqlite import SQLiteStore, migrations
from generation.workers.fakes import FakeRunner
from tests.helpers.service_env import make_settings

KNOWN = len(migrations())  # the newest schema version this code knows


async def test_another_programs_tables_and_a_newer_schema_are_refused_untouched(tmp_path):
    path = tmp_path / "other.sqlite3"
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE notes (body TEXT)")
    other.commit()
    other.close()
    before = path.read_bytes()
    with pytest.raises(StoreOpenError) as info:
        await SQLiteStore.open(path)
    assert info.value.code == StoreProblem.FOREIGN_SCHEMA and info.value.fields == {
        "path": str(path),
        "tables": ["notes"],
    }
    assert path.read_bytes() == before  # not switched to WAL, no tables of ours added

    newer = tmp_path / "newer.sqlite3"
    store = await SQLiteStore.open(newer)
    await store._db.execute(f"PRAGMA user_version = {KNOWN + 5}")
    await store.close()
    with pytest.raises(StoreOpenError) as info:
        await SQLiteStore.open(newer)
    assert (info.value.code, info.value.fields["version"], info.value.fields["known"]) == (
        StoreProblem.NEWER_SCHEMA,
        KNOWN + 5,
        KNOWN,
    )


async def test_an_empty_file_is_a_new_database(tmp_path):
    path = tmp_path / "empty.sqlite3"
    path.touch()
    store = await SQLiteStore.open(path)
    assert await store.schema_version() == KNOWN
    await store.close()


class BrokenState:
    """A store that opened but whose first read fails (as another program's schema did)."""

    def __init__(self) -> None:
        self.closed = False

    async def state(self, key, default=None):
        raise sqlite3.OperationalError("no such table: state")

    async def close(self) -> None:
        self.closed = True


async def test_the_service_closes_its_store_when_opening_fails(tmp_path):
    store = BrokenState()
    with pytest.raises(sqlite3.OperationalError):
        await JobService.open(make_settings(tmp_path), runner=FakeRunner(), store=store)
    assert store.closed  # else its thread keeps the process from exiting (the hang at start)
