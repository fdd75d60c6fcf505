"""Benchmark of the cluster (CPU): Ray workers against the in-process worker, and the dispatcher.

    python -m bench cluster [--jobs 16] [--size 128] [--steps 10] [--noop-jobs 300]

Starts a throwaway PostgreSQL (generation.cluster.localpg) and a local Ray, then in one run:

- the same N single-image txt2img jobs on the tiny model (different users, prompts and seeds,
  `queue.batch_size = 1`) through
  - `local, 1 worker`: the one-machine service (SQLite, the in-process worker),
  - `ray, 1 worker` and `ray, 2 workers`: the cluster (PostgreSQL, the dispatcher actor, GPU
    worker actors), every worker with one CPU thread (the local one too);
  each submitted while the queue is paused, timed from the resume to the last job done (images
  stored, rows committed, the outcome heard by the submitting process), after a warm-up job on each
  worker (model loaded). Goals: ray with 1 worker within 5 % of local; 2 workers >= 1.8x of 1.
- the dispatcher's own cost: M jobs through a no-op pipeline (FakeRunner(noop=True): no model, no
  image work), on 2 workers, the same way: ms per job and the jobs/s one dispatcher sustains (and
  the in-process service's figure beside it).

On a 2-core machine two workers with one thread each already take both cores, and the bot side,
the dispatcher and PostgreSQL share them: the 2-worker figure is what this machine allows, not the
ceiling. The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PROMPTS = ["a red circle", "a blue square", "a green triangle", "a yellow star", "a white moon"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=16, help="tiny-model jobs per configuration")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--noop-jobs", type=int, default=300, help="jobs of the dispatcher measurement")
    ap.add_argument("--pg-url", help="a PostgreSQL server to use (default: start a throwaway one)")
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    import ray

    from generation.cluster.localpg import LocalPostgres
    from generation.cluster.runtime import WORKER_RESOURCE

    ray.init(
        num_cpus=2,
        resources={WORKER_RESOURCE: 3},
        include_dashboard=False,
        logging_level="ERROR",
        log_to_driver=False,
    )
    server = None
    if args.pg_url is None:
        server = LocalPostgres()
        args.pg_url = server.start()
    try:
        return asyncio.run(run(args))
    finally:
        ray.shutdown()
        if server is not None:
            server.stop()


async def run(args: argparse.Namespace) -> int:
    import torch

    from generation.cluster.localpg import create_database
    from generation.cluster.worker import RunnerSpec, fake_runner
    from generation.models.tiny import save_tiny_model
    from generation.workers.fakes import FakeRunner
    from generation.workers.runner import PipelineRunner

    torch.set_num_threads(1)  # the local worker gets what each Ray worker gets
    tmp = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    save_tiny_model(tmp / "models" / "tiny")

    async def database() -> str:
        return await create_database(args.pg_url, f"bench_{uuid.uuid4().hex[:10]}")

    # The three configurations stay up and take turns, `--repeats` times in a rotating order (the
    # machine is shared and noisy); the table shows medians.
    services = {
        "local, 1 worker": await open_local(settings_for(tmp, "local"), PipelineRunner),
        "ray, 1 worker": await open_cluster(
            settings_for(tmp, "ray1", await database(), workers=1), RunnerSpec()
        ),
        "ray, 2 workers": await open_cluster(
            settings_for(tmp, "ray2", await database(), workers=2), RunnerSpec()
        ),
    }
    names = list(services)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    gpu: dict[str, list[float]] = {name: [] for name in names}
    try:
        for repeat in range(args.repeats):
            for name in names[repeat % 3 :] + names[: repeat % 3]:
                elapsed, jobs = await through(services[name], args.jobs, args, f"r{repeat}")
                seconds[name].append(elapsed)
                gpu[name].append(sum(job.gpu_seconds for job in jobs) / len(jobs))
    finally:
        for service in services.values():
            await close(service)

    noop_local = await open_local(settings_for(tmp, "noop-local"), lambda s: FakeRunner(noop=True), workers=2)
    try:
        noop_local_s, _ = await through(noop_local, args.noop_jobs, args, "noop")
    finally:
        await close(noop_local)
    noop_ray = await open_cluster(
        settings_for(tmp, "noop", await database(), workers=2), fake_runner(noop=True)
    )
    try:
        pid = await noop_ray.dispatcher.pid.remote()
        used = cpu_seconds(pid)
        noop_s, _ = await through(noop_ray, args.noop_jobs, args, "noop")
        dispatcher_cpu = cpu_seconds(pid) - used
    finally:
        await close(noop_ray)

    median = {name: statistics.median(values) for name, values in seconds.items()}

    def row(name: str, jobs: int, sec: float, pipeline: str) -> None:
        print(f"{name:<26}{jobs:>6}{sec:>10.2f}{jobs / sec:>9.2f}{1000 * sec / jobs:>9.1f}{pipeline:>17}")

    print(f"{'configuration':<26}{'jobs':>6}{'seconds':>10}{'jobs/s':>9}{'ms/job':>9}{'pipeline ms/job':>17}")
    for name in names:
        row(name, args.jobs, median[name], f"{1000 * statistics.median(gpu[name]):.1f}")
    row("no-op, local, 2 workers", args.noop_jobs, noop_local_s, "-")
    row("no-op, ray, 2 workers", args.noop_jobs, noop_s, "-")
    local, one, two = (median[name] for name in names)
    # paired: the ratio within each repetition, then the median (steadier when the load drifts)
    paired_one = statistics.median(a / b for a, b in zip(seconds[names[1]], seconds[names[0]], strict=True))
    paired_two = statistics.median(a / b for a, b in zip(seconds[names[1]], seconds[names[2]], strict=True))
    figures = {
        "jobs": args.jobs,
        "size": args.size,
        "steps": args.steps,
        "repeats": args.repeats,
        "local_1_s": round(local, 3),
        "ray_1_s": round(one, 3),
        "ray_2_s": round(two, 3),
        "ray_1_vs_local": round(paired_one, 3),  # goal <= 1.05
        "ray_2_speedup": round(paired_two, 3),  # goal >= 1.8
        "pipeline_ms_per_job": {name: round(1000 * statistics.median(gpu[name]), 1) for name in names},
        "noop_jobs": args.noop_jobs,
        "noop_ms_per_job": round(1000 * noop_s / args.noop_jobs, 2),  # end to end, every process on 2 cores
        "noop_jobs_per_s": round(args.noop_jobs / noop_s, 1),
        # the dispatcher process's own CPU: what limits one dispatcher when the rest has cores of its own
        "dispatcher_cpu_ms_per_job": round(1000 * dispatcher_cpu / args.noop_jobs, 2),
        "dispatcher_jobs_per_s": round(args.noop_jobs / dispatcher_cpu, 1),
        "local_noop_ms_per_job": round(1000 * noop_local_s / args.noop_jobs, 2),
    }
    print(
        f"ray 1 worker / local: {figures['ray_1_vs_local']:.3f} (paired median; goal <= 1.05); "
        f"2 workers / 1: {figures['ray_2_speedup']:.2f}x (goal >= 1.8)\n"
        f"no-op jobs end to end: {figures['noop_ms_per_job']} ms a job; the dispatcher's CPU: "
        f"{figures['dispatcher_cpu_ms_per_job']} ms a job, so one dispatcher sustains about "
        f"{figures['dispatcher_jobs_per_s']} jobs/s"
    )
    print(json.dumps(figures))
    return 0


def settings_for(tmp: Path, name: str, pg_url: str | None = None, *, workers: int = 1):
    from generation.settings import (
        ClusterSettings,
        ModelSettings,
        PathSettings,
        QueueSettings,
        QuotaSettings,
        Settings,
        StoreSettings,
    )

    folder = tmp / name
    settings = Settings(
        paths=PathSettings(
            models_dir=tmp / "models", outputs_dir=folder / "outputs", database=folder / "db.sqlite3"
        ),
        models=ModelSettings(default="tiny", device="cpu", dtype="float32"),
        queue=QueueSettings(per_user=10_000, total=10_000, batch_size=1),
        quota=QuotaSettings(daily_seconds=0),
    )
    if pg_url is None:
        return settings
    cluster = ClusterSettings(
        mode="ray", workers=workers, name=f"bench{uuid.uuid4().hex[:8]}", worker_threads=1, heartbeat=1.0
    )
    return settings.replace(cluster=cluster, store=StoreSettings(url=pg_url))


def requests(count: int, args: argparse.Namespace, tag: str):
    from generation.jobs.types import JobOwner
    from generation.requests.request import GenerationRequest

    for n in range(count):
        prompt = f"{PROMPTS[n % len(PROMPTS)]} {tag} {n}"
        request = GenerationRequest(
            prompt,
            width=args.size,
            height=args.size,
            steps=args.steps,
            count=1,
            seed=1000 + n,
            sampler="Euler",
        )
        yield request, JobOwner(100 + n % 4)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def through(service, count: int, args: argparse.Namespace, tag: str) -> tuple[float, list]:
    """Warm up (two jobs a worker: models loaded), then submit `count` jobs while paused; seconds
    from the resume to the last outcome heard, and the finished jobs."""
    warm = 2 * len(service.workers())
    warmups = [await service.submit(r, o) for r, o in requests(warm, args, f"warm {tag}")]
    for job in warmups:
        await service.wait(job.id, 600)
    await service.pause()
    jobs = [await service.submit(r, o) for r, o in requests(count, args, tag)]
    await asyncio.sleep(0.5)  # (the dispatcher hears of them all)
    started = time.perf_counter()
    await service.resume()
    finished = [await service.wait(job.id, 600) for job in jobs]
    elapsed = time.perf_counter() - started
    assert all(job is not None and job.status.value == "done" for job in finished), finished
    return elapsed, finished


async def open_local(settings, make_runner, *, workers: int = 1):
    from generation.jobs.service import JobService
    from generation.workers.local import LocalWorkerPool

    service = await JobService.open(settings, pool=LocalWorkerPool(make_runner(settings), workers=workers))
    await service.start()
    return service


async def open_cluster(settings, runner):
    from generation.cluster.client import ClusterService

    service = await ClusterService.open(settings, runner=runner)
    await service.start()
    return service


async def close(service) -> None:
    if hasattr(service, "shutdown_cluster"):
        await service.shutdown_cluster()
    await service.close()


if __name__ == "__main__":
    raise SystemExit(main())
