"""Benchmark of the job service on the tiny model (CPU): batching gain and overhead.

    python -m bench scheduler [--jobs 8] [--size 128] [--steps 10] [--repeats 3]

N compatible single-image text-to-image jobs (different users, prompts and seeds) go through:

- `scheduler, batch 4`: a scheduler with `queue.batch_size = 4` (submitted while paused, then
  resumed; timed from the first submit to the last job done, images saved, rows committed),
- `scheduler, batch 1`: the same with `queue.batch_size = 1` (one job per pipeline call),
- `direct, batch 4` / `direct, one by one`: the same work without the scheduler: `engine.generate`
  on groups of 4 / on each request alone, plus `images.save_job_images` for each job.

The four run interleaved, `--repeats` times (the order rotates each repetition); the table shows
medians. Batching gain = scheduler batch 1 / scheduler batch 4; overhead = scheduler / direct for
the same batching; "paired" figures are medians of the per-repetition ratios (steadier when the
machine's load drifts). The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PROMPTS = [
    "a red circle",
    "a blue square",
    "a green triangle",
    "a yellow star",
    "a white moon",
    "a black cat",
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=12)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--bookkeeping-jobs", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: steadier on a shared machine)")
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    return asyncio.run(run(args))


async def run(args: argparse.Namespace) -> int:
    import torch

    from generation.images.saving import save_job_images
    from generation.jobs.service import JobService
    from generation.jobs.types import JobOwner
    from generation.models import ModelRegistry, load_model
    from generation.models.tiny import save_tiny_model
    from generation.pipelines.engine import generate
    from generation.requests.request import GenerationRequest
    from generation.settings import ModelSettings, PathSettings, QueueSettings, QuotaSettings, Settings
    from generation.workers.pools import build_pool

    torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="bench-scheduler-"))
    models_dir = tmp / "models"
    save_tiny_model(models_dir / "tiny")
    model_settings = ModelSettings(default="tiny", device="cpu", dtype="float32")

    def settings(name: str, batch_size: int) -> Settings:
        return Settings(
            paths=PathSettings(
                models_dir=models_dir, outputs_dir=tmp / name / "outputs", database=tmp / name / "db"
            ),
            models=model_settings,
            queue=QueueSettings(per_user=args.jobs, total=1000, batch_size=batch_size),
            quota=QuotaSettings(daily_seconds=0),
        )

    requests = [
        GenerationRequest(
            PROMPTS[n % len(PROMPTS)],
            width=args.size,
            height=args.size,
            steps=args.steps,
            count=1,
            seed=1000 + n,
            sampler="Euler",
            model="tiny",
        )
        for n in range(args.jobs)
    ]
    owners = [JobOwner(100 + n) for n in range(args.jobs)]

    direct_model = load_model(ModelRegistry(models_dir).get("tiny"), model_settings)
    direct_out = tmp / "direct"
    batched_settings, single_settings = settings("batched", args.batch_size), settings("single", 1)
    batched = await JobService.open(batched_settings, pool=build_pool(batched_settings))
    single = await JobService.open(single_settings, pool=build_pool(single_settings))
    for scheduler in (batched, single):
        await scheduler.start()
        warm = await scheduler.submit(requests[0], owners[0])  # loads the model, warms the pipeline
        await scheduler.wait(warm.id)
        await scheduler.pause()
    generate(direct_model, requests[:1], settings=model_settings)

    counter = 0

    async def through(scheduler: JobService) -> float:
        t = time.perf_counter()
        jobs = [await scheduler.submit(r, o) for r, o in zip(requests, owners, strict=True)]
        await scheduler.resume()
        for job in jobs:
            done = await scheduler.wait(job.id)
            assert done is not None and done.status.value == "done", done
        elapsed = time.perf_counter() - t
        await scheduler.pause()
        return elapsed

    def direct(group: int) -> float:
        nonlocal counter
        t = time.perf_counter()
        for start in range(0, len(requests), group):
            chunk = requests[start : start + group]
            results = generate(direct_model, chunk, settings=model_settings)
            for request, images in zip(chunk, results, strict=True):
                counter += 1
                save_job_images(direct_out, f"job{counter}", request, images, "tiny", None)
        return time.perf_counter() - t

    modes = {
        "scheduler, batch 4": lambda: through(batched),
        "scheduler, batch 1": lambda: through(single),
        "direct, batch 4": lambda: asyncio.sleep(0, direct(args.batch_size)),
        "direct, one by one": lambda: asyncio.sleep(0, direct(1)),
    }
    times: dict[str, list[float]] = {name: [] for name in modes}
    names = list(modes)
    for rep in range(args.repeats):
        order = names[rep % len(names) :] + names[: rep % len(names)]
        for name in order:
            times[name].append(await modes[name]())
    await batched.close()
    await single.close()
    bookkeeping = await bookkeeping_per_job(settings("noop", 1), requests[0], n=args.bookkeeping_jobs)
    shutil.rmtree(tmp, ignore_errors=True)

    med = {name: statistics.median(values) for name, values in times.items()}
    gain = med["scheduler, batch 1"] / med["scheduler, batch 4"]
    overhead_1 = med["scheduler, batch 1"] / med["direct, one by one"] - 1
    overhead_4 = med["scheduler, batch 4"] / med["direct, batch 4"] - 1
    direct_gain = med["direct, one by one"] / med["direct, batch 4"]

    def paired(a: str, b: str) -> float:  # median over repetitions of a/b, robust to slow drifts in load
        return statistics.median(x / y for x, y in zip(times[a], times[b], strict=True))

    paired_gain = paired("scheduler, batch 1", "scheduler, batch 4")
    paired_overhead_1 = paired("scheduler, batch 1", "direct, one by one") - 1
    paired_overhead_4 = paired("scheduler, batch 4", "direct, batch 4") - 1
    per_job = med["direct, one by one"] / args.jobs
    bookkeeping_share = bookkeeping / per_job

    print(
        f"{args.jobs} jobs x 1 image, {args.size}x{args.size}, {args.steps} steps, Euler, tiny model, "
        f"CPU ({args.threads} threads), median of {args.repeats}"
    )
    print(f"{'mode':<22}{'seconds':>9}{'images/s':>10}")
    for name in names:
        print(f"{name:<22}{med[name]:>9.2f}{args.jobs / med[name]:>10.2f}")
    print(f"batching gain (scheduler): {gain:.2f}x   (direct: {direct_gain:.2f}x; goal >= 1.5x)")
    print(f"scheduler overhead: batch 1 {overhead_1:+.1%}, batch 4 {overhead_4:+.1%}   (goal <= 3 %)")
    print(
        f"paired per repetition: gain {paired_gain:.2f}x, overhead batch 1 {paired_overhead_1:+.1%}, "
        f"batch 4 {paired_overhead_4:+.1%}"
    )
    print(
        f"scheduler bookkeeping (no-op pipeline, {args.bookkeeping_jobs} jobs): "
        f"{bookkeeping * 1000:.2f} ms a job = {bookkeeping_share:.1%} of a {per_job * 1000:.0f} ms job"
    )
    print(
        json.dumps(
            {
                "bench": "scheduler",
                "jobs": args.jobs,
                "size": args.size,
                "steps": args.steps,
                "batch_size": args.batch_size,
                "repeats": args.repeats,
                "threads": args.threads,
                "seconds": {name: round(value, 3) for name, value in med.items()},
                "all_seconds": {name: [round(v, 3) for v in values] for name, values in times.items()},
                "batching_gain": round(gain, 3),
                "direct_batching_gain": round(direct_gain, 3),
                "overhead_batch_1": round(overhead_1, 4),
                "overhead_batch_4": round(overhead_4, 4),
                "paired_batching_gain": round(paired_gain, 3),
                "paired_overhead_batch_1": round(paired_overhead_1, 4),
                "paired_overhead_batch_4": round(paired_overhead_4, 4),
                "bookkeeping_ms_per_job": round(bookkeeping * 1000, 3),
                "bookkeeping_share": round(bookkeeping_share, 4),
                "batching_goal_met": gain >= 1.5,
                "overhead_goal_met": max(overhead_1, overhead_4) <= 0.03,
            }
        )
    )
    return 0


async def bookkeeping_per_job(settings, request, n: int) -> float:
    """Seconds of scheduler work per job (submit, queue, events, database, quota rows), no pipeline."""
    from generation.jobs.service import JobService
    from generation.jobs.types import JobOwner
    from generation.settings import QueueSettings
    from generation.workers.fakes import FakeRunner, MemoryArtifacts

    # a pipeline, encoding and storage that take no time: what is left is the service's own work
    scheduler = await JobService.open(
        settings.replace(queue=QueueSettings(per_user=n, total=n)),
        runner=FakeRunner(models=["tiny"], noop=True),
        artifacts=MemoryArtifacts(),
    )
    await scheduler.start()
    events = scheduler.events()  # one subscriber to every job, like the bot
    warm = await scheduler.submit(request, JobOwner(1))
    await scheduler.wait(warm.id)
    t = time.perf_counter()
    jobs = [await scheduler.submit(request, JobOwner(10 + k)) for k in range(n)]
    for job in jobs:
        await scheduler.wait(job.id)
    elapsed = time.perf_counter() - t
    events.close()
    await scheduler.close()
    return elapsed / n


if __name__ == "__main__":
    raise SystemExit(main())
