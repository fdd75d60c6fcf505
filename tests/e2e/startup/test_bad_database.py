"""`python -m bot` against a database it cannot use: another program's schema, a locked file,
garbage, a truncated copy, a folder. Each exits within 10 s with one line that names the file and
what to do, and leaves the file's bytes as they were."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from generation.jobs.store.sqlite import SQLiteStore

ROOT = Path(__file__).resolve().parents[3]
DEADLINE = 10.0


async def good_database(path: Path) -> None:
    store = await SQLiteStore.open(path)
    for i in range(100):  # some pages, so that cutting the file short loses some
        await store.set_state(f"key {i}", "x" * 500)
    await store.close()


async def broken(kind: str, path: Path) -> list[sqlite3.Connection]:
    """Make the broken database; returns connections to keep open while the bot starts."""
    if kind == "another_schema":
        other = sqlite3.connect(path)
        other.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        other.execute("PRAGMA user_version = 99")
        other.commit()
        other.close()
    elif kind == "locked":
        await good_database(path)
        locker = sqlite3.connect(path, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")  # another copy of the bot, in the middle of a write
        return [locker]
    elif kind == "garbage":
        path.write_bytes(bytes(range(256)) * 64)
    elif kind == "truncated":
        await good_database(path)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 3])
    elif kind == "directory":
        path.mkdir()
        (path / "inside.txt").write_text("not a database")
    return []


def fingerprint(path: Path) -> str:
    if path.is_dir():
        return "dir:" + ",".join(sorted(p.name + fingerprint(p) for p in path.iterdir()))
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("kind", "says"),
    [
        ("another_schema", "has schema version 99, and this bot knows versions up to"),
        ("locked", "is locked by another program"),
        ("garbage", "is not an SQLite database"),
        ("truncated", "is cut short"),
        ("directory", "is a folder: set paths.database to a file"),
    ],
)
async def test_a_bad_database_stops_the_start_with_one_line(tmp_path, kind, says):
    database = tmp_path / "bot.sqlite3"
    keep = await broken(kind, database)
    before = fingerprint(database)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[paths]\ndatabase = "{database}"\nmodels_dir = "{tmp_path / "models"}"\n'
        f'outputs_dir = "{tmp_path / "outputs"}"\n'
    )
    env = {
        **os.environ,
        "DISCORD_TOKEN": "not.a.token",  # the database stops the start before any login
        "DISCORD_API_BASE": "http://127.0.0.1:9/api/v10",
        "DISCORD_GATEWAY_URL": "ws://127.0.0.1:9/gateway",
        "HF_HUB_OFFLINE": "1",
    }
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bot", "--config", str(config)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=DEADLINE * 3,  # a hang fails below, not here
        )
    finally:
        for connection in keep:
            connection.close()
    elapsed = time.monotonic() - started
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and elapsed < DEADLINE, (done.returncode, elapsed, done.stderr)
    assert len(lines) == 1 and not done.stdout, done.stderr
    assert str(database) in lines[0] and says in lines[0], lines[0]
    assert fingerprint(database) == before  # the file as it was
