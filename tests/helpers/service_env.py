"""Helpers for the service tests, and the subprocess the restart test kills.

As a module: `make_settings(tmp_path, ...)` and `request(...)`; the runners are
generation.workers.fakes' (`FakeRunner`, and `Slowed` to slow the real pipeline per step).

As a script (`python tests/helpers/service_env.py DB MODELS OUTPUTS N`): opens a service on the real
tiny model, submits N jobs one at a time (batch size 1) and prints `SUBMITTED <id>` /
`STARTED <id>` / `DONE <id>` lines as it goes, forever; the test kills it with SIGKILL.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from generation.requests.request import GenerationRequest
from generation.settings import ModelSettings, PathSettings, QueueSettings, QuotaSettings, Settings


def make_settings(
    root: Path,
    *,
    models_dir: Path | None = None,
    default: str = "tiny",
    queue: QueueSettings | None = None,
    quota: QuotaSettings | None = None,
    batch_invariant: bool = False,
) -> Settings:
    root = Path(root)
    return Settings(
        paths=PathSettings(
            models_dir=models_dir or root / "models",
            outputs_dir=root / "outputs",
            database=root / "jobs.sqlite3",
        ),
        models=ModelSettings(
            default=default, device="cpu", dtype="float32", preview_every=1, batch_invariant=batch_invariant
        ),
        queue=queue or QueueSettings(),
        quota=quota or QuotaSettings(daily_seconds=0),
    )


def request(prompt: str = "a red square", **kw) -> GenerationRequest:
    values = {"width": 64, "height": 64, "steps": 2, "count": 1, "seed": 1, "sampler": "Euler"}
    values.update(kw)
    return GenerationRequest(prompt, **values)


async def child(database: Path, models_dir: Path, outputs_dir: Path, jobs: int) -> None:
    from generation.jobs.service import JobService
    from generation.jobs.types import EventKind, JobOwner
    from generation.workers.fakes import Slowed
    from generation.workers.runner import PipelineRunner

    settings = make_settings(
        database.parent, models_dir=models_dir, queue=QueueSettings(per_user=10, batch_size=1)
    ).replace(
        paths=PathSettings(models_dir=models_dir, outputs_dir=outputs_dir, database=database),
        quota=QuotaSettings(daily_seconds=100000),
    )
    service = await JobService.open(settings, runner=Slowed(PipelineRunner(settings), 0.2))  # >= 0.8 s a job
    events = service.events()
    await service.start()
    for n in range(jobs):
        job = await service.submit(request(f"job {n}", seed=100 + n, steps=4), JobOwner(1000 + n % 2))
        print("SUBMITTED", job.id, flush=True)
    async for event in events:
        if event.kind in (EventKind.STARTED, EventKind.DONE, EventKind.FAILED):
            print(event.kind.upper(), event.job_id, flush=True)


if __name__ == "__main__":
    database, models_dir, outputs_dir, count = sys.argv[1:5]
    asyncio.run(child(Path(database), Path(models_dir), Path(outputs_dir), int(count)))
