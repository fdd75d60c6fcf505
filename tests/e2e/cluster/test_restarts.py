"""The dispatcher SIGKILLed mid-run, then the bot process: nothing is lost, nothing charged twice.

The bot is a separate process (tests/helpers/cluster_child.py) joined to the test run's Ray; the
dispatcher is the detached actor it started. Ray restarts the killed dispatcher, which rebuilds its
queue from PostgreSQL; the killed bot is replaced by a ClusterService in this process, which
finds every job done.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from pathlib import Path

import pytest

from generation.cluster import runtime
from generation.jobs import quotas
from generation.jobs.types import JobStatus
from generation.settings import QueueSettings, QuotaSettings
from tests.helpers.cluster_env import cluster_running, cluster_settings

pytestmark = pytest.mark.timeout(180)

CHILD = Path(__file__).resolve().parents[2] / "helpers" / "cluster_child.py"
JOBS = 8


async def read_until(child: asyncio.subprocess.Process, wanted, lines: list[str], log: Path) -> None:
    """Read the child's lines until `wanted(lines)` holds."""
    assert child.stdout is not None
    async with asyncio.timeout(60):
        while not wanted(lines):
            line = await child.stdout.readline()
            assert line, f"the bot process died; see {log}:\n{log.read_text()[-3000:]}"
            lines.append(line.decode().strip())


async def test_dispatcher_then_bot_killed_mid_run(tmp_path, pg_url, ray_session):
    import ray

    name = f"t{uuid.uuid4().hex[:10]}"
    settings = cluster_settings(
        tmp_path,
        pg_url,
        workers=1,
        name=name,
        queue=QueueSettings(per_user=50, batch_size=2),
        quota=QuotaSettings(daily_seconds=3600),  # as the bot process has them
    )
    log = tmp_path / "child.log"
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(CHILD),
        ray_session,
        pg_url,
        name,
        str(tmp_path),
        str(JOBS),
        stdout=asyncio.subprocess.PIPE,
        stderr=log.open("ab"),
        cwd=CHILD.parents[2],
    )
    lines: list[str] = []
    try:
        await read_until(child, lambda ls: sum(line.startswith("STARTED") for line in ls) >= 1, lines, log)
        dispatcher = ray.get_actor(runtime.dispatcher_name(settings.cluster), namespace=name)
        first = await dispatcher.pid.remote()
        os.kill(first, signal.SIGKILL)  # mid-batch: its jobs are left "running" in the database
        done_before = sum(line.startswith("DONE") for line in lines)
        # Ray restarts it; it queues the jobs again and the bot hears of more of them ending
        await read_until(
            child, lambda ls: sum(line.startswith("DONE") for line in ls) > done_before + 1, lines, log
        )
    finally:
        child.kill()  # SIGKILL the bot too, mid-run
        await child.wait()
    submitted = [line.split()[1] for line in lines if line.startswith("SUBMITTED")]
    assert len(submitted) == JOBS

    async with cluster_running(tmp_path, pg_url, settings=settings) as service:  # the bot, restarted
        assert await service.dispatcher.pid.remote() != first
        finished = [await service.wait(job_id, 60) for job_id in submitted]
        charges = await service.store.charges(submitted)
        day = quotas.day_key(time.time(), settings.quota.reset_hour_utc)
        books = {user: await service.store.quota_rows(user, day) for user in (1, 2)}

    assert [job.status for job in finished] == [JobStatus.DONE] * JOBS  # nothing lost
    assert charges == {job_id: 1 for job_id in submitted}  # nothing charged twice
    assert max(job.attempts for job in finished) == 2  # the batch the dispatcher died under ran again
    for user, (used, reserved, *_) in books.items():
        mine = [job.gpu_seconds for job in finished if job.owner.user_id == user]
        assert used == pytest.approx(sum(mine)) and reserved == 0  # charged what ran, nothing held
