"""A bot process of the cluster, for the test that kills it (and the dispatcher) with SIGKILL.

    python tests/helpers/cluster_child.py RAY_ADDRESS PG_URL NAME ROOT JOBS [--step-seconds S]

Joins the test run's Ray, opens a ClusterService (cluster NAME, FakeRunner workers taking S seconds
a step), submits JOBS jobs for two users and prints `SUBMITTED <id>`, then `STARTED <id>` and
`DONE <id>` as its events come, until it is killed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from generation.cluster.client import ClusterService
from generation.cluster.worker import fake_runner
from generation.jobs.types import EventKind, JobOwner
from generation.settings import QueueSettings, QuotaSettings
from tests.helpers.cluster_env import cluster_settings
from tests.helpers.service_env import request


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("address")
    parser.add_argument("pg_url")
    parser.add_argument("name")
    parser.add_argument("root", type=Path)
    parser.add_argument("jobs", type=int)
    parser.add_argument("--step-seconds", type=float, default=0.1)
    args = parser.parse_args()

    import ray

    ray.init(address=args.address, logging_level="WARNING")
    settings = cluster_settings(
        args.root,
        args.pg_url,
        workers=1,
        name=args.name,
        queue=QueueSettings(per_user=50, batch_size=2),
        quota=QuotaSettings(daily_seconds=3600),  # quotas on: reservations and charges are written
    )
    service = await ClusterService.open(settings, runner=fake_runner(step_seconds=args.step_seconds))
    events = service.events()
    await service.start()
    for n in range(args.jobs):
        job = await service.submit(request(f"job {n}", seed=n, steps=5), JobOwner(1 + n % 2))
        print("SUBMITTED", job.id, flush=True)
    async for event in events:
        if event.kind in (EventKind.STARTED, EventKind.DONE):
            print(event.kind.upper(), event.job_id, flush=True)


if __name__ == "__main__":
    asyncio.run(main())
