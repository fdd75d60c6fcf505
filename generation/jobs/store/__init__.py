"""The job store: the `Store` protocol (base.py), SQLite (sqlite.py, the default) and PostgreSQL
(postgres.py, for the cluster); `open_store` opens the one the settings name."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from generation.jobs.store.base import Store
    from generation.settings import Settings


async def open_store(settings: Settings) -> Store:
    """`[store] url` names a PostgreSQL server, else SQLite at `paths.database` (asyncpg is
    imported only for PostgreSQL)."""
    if settings.store.postgres:
        from generation.jobs.store.postgres import PostgresStore

        return await PostgresStore.open(settings.store.url)
    from generation.jobs.store.sqlite import SQLiteStore

    return await SQLiteStore.open(settings.paths.database)
