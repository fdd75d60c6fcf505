"""A full disk on demand: the real SQLite store and artifact folder, wrapped so that every write
fails while `disk.full` is set, as SQLite and the OS fail them (reads keep working, as they do).

    disk = FullDisk()
    service.store = FlakyStore(service.store, disk)
    service.artifacts = FlakyArtifacts(service.artifacts, disk)
    disk.full = True
"""

from __future__ import annotations

import errno
import sqlite3
from dataclasses import dataclass
from typing import Any

STORE_WRITES = frozenset(
    {
        "insert_job",
        "mark_running",
        "mark_queued",
        "finish_done",
        "finish_unsuccessful",
        "requeue_unfinished",
        "update_meta",
        "add_grant",
        "set_override",
        "set_guild_setting",
        "set_state",
        "set_user_settings",
    }
)


@dataclass
class FullDisk:
    full: bool = False
    refused: int = 0  # writes refused so far


class FlakyStore:
    """The store, whose writes raise SQLITE_FULL while the disk is full."""

    def __init__(self, store: Any, disk: FullDisk) -> None:
        self._store = store
        self._disk = disk

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if name not in STORE_WRITES:
            return attr

        async def write(*args: Any, **kwargs: Any) -> Any:
            if self._disk.full:
                self._disk.refused += 1
                raise sqlite3.OperationalError("database or disk is full")
            return await attr(*args, **kwargs)

        return write


class FlakyArtifacts:
    """The artifact store, whose puts raise ENOSPC while the disk is full."""

    def __init__(self, artifacts: Any, disk: FullDisk) -> None:
        self._artifacts = artifacts
        self._disk = disk

    def __getattr__(self, name: str) -> Any:
        return getattr(self._artifacts, name)

    async def put(self, key: str, data: bytes) -> None:
        if self._disk.full:
            self._disk.refused += 1
            raise OSError(errno.ENOSPC, "No space left on device")
        await self._artifacts.put(key, data)
