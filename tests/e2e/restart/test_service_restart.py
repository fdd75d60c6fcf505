"""A process killed with SIGKILL mid-queue, restarted on the same database, finishes every job once."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from generation.jobs.service import JobService
from generation.jobs.types import EventKind, JobOwner, JobStatus
from generation.settings import PathSettings, QueueSettings, QuotaSettings
from generation.workers.runner import PipelineRunner
from tests.helpers.service_env import make_settings

CHILD = Path(__file__).resolve().parents[2] / "helpers" / "service_env.py"
JOBS = 4


def read_lines(proc: subprocess.Popen, lines: list[str]) -> None:
    for line in proc.stdout:
        lines.append(line.split())


def second_started(lines: list[list[str]]) -> bool:
    kinds = [line[0] for line in list(lines)]
    return "DONE" in kinds and kinds.count("STARTED") >= 2  # the first job's images are saved meanwhile


@pytest.mark.timeout(120)
async def test_killed_process_resumes_and_finishes_every_job_once(tmp_path, tiny_model_dir):
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    shutil.copytree(tiny_model_dir, models_dir / "tiny")
    database, outputs = tmp_path / "jobs.sqlite3", tmp_path / "outputs"

    proc = subprocess.Popen(
        [sys.executable, str(CHILD), str(database), str(models_dir), str(outputs), str(JOBS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    lines: list[list[str]] = []
    reader = threading.Thread(target=read_lines, args=(proc, lines), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 90
        # kill while the second job runs: one done, one running, the rest queued
        while not second_started(lines) and time.monotonic() < deadline:
            assert proc.poll() is None, f"the child died: {lines}"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(5)
    submitted = [line[1] for line in lines if line[0] == "SUBMITTED"]
    done_before = [line[1] for line in lines if line[0] == "DONE"]
    assert len(submitted) == JOBS and len(done_before) == 1, lines
    assert done_before == submitted[:1]

    settings = make_settings(
        tmp_path,
        models_dir=models_dir,
        queue=QueueSettings(batch_size=1),
        quota=QuotaSettings(daily_seconds=1e5),
    ).replace(paths=PathSettings(models_dir=models_dir, outputs_dir=outputs, database=database))
    service = await JobService.open(settings, runner=PipelineRunner(settings))
    first_before = await service.get_job(submitted[0])
    assert first_before.status is JobStatus.DONE and first_before.attempts == 1
    assert (await service.get_job(submitted[1])).status is JobStatus.RUNNING
    events = service.events()
    await service.start()
    try:
        finished = {job_id: await service.wait(job_id, 60) for job_id in submitted}
        seen = []
        while (event := await events.get(0.2)) is not None:
            seen.append((event.kind, event.job_id))
        charges = [await service.store.charge_of(job_id) for job_id in submitted]
        reservations = [await service.store.reservation_of(job_id) for job_id in submitted]
        quotas = [await service.quota_status(JobOwner(user)) for user in (1000, 1001)]  # the child's users
        images = {
            job_id: [
                await service.read_artifact(key) for key in (job.grid_key, *(im.key for im in job.images))
            ]
            for job_id, job in finished.items()
        }
    finally:
        await service.close()

    assert all(job.status is JobStatus.DONE for job in finished.values())
    assert sorted(job_id for kind, job_id in seen if kind == EventKind.RESUMED) == sorted(submitted[1:])
    assert sorted(job_id for kind, job_id in seen if kind == EventKind.DONE) == sorted(
        submitted[1:]
    )  # each once
    assert finished[submitted[0]].finished_at == first_before.finished_at  # not run again
    assert [finished[j].attempts for j in submitted] == [1, 2, 1, 1]
    # charged once each: every job its own time, and the users' totals nothing more
    assert charges == [finished[j].gpu_seconds for j in submitted] and all(c > 0 for c in charges)
    assert sum(q.used for q in quotas) == pytest.approx(sum(charges))
    assert reservations == [None] * JOBS and all(q.reserved == 0 for q in quotas)
    for job in finished.values():
        assert len(job.images) == 1 and all(data.startswith(b"\x89PNG") for data in images[job.id])
