"""Helpers for the service tests, and the subprocess the restart test kills.

As a module: `make_settings(tmp_path, ...)`, `FakeRunner` (a torch-free runner whose jobs fail,
run out of memory or block on purpose) and `SlowRunner` (the real pipeline, slowed per step).

As a script (`python tests/helpers/service_env.py DB MODELS OUTPUTS N`): opens a service on the real
tiny model, submits N jobs one at a time (batch size 1) and prints `SUBMITTED <id>` /
`STARTED <id>` / `DONE <id>` lines as it goes, forever; the test kills it with SIGKILL.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from generation.progress import Cancelled, CancelToken
from generation.requests.request import GenerationRequest
from generation.settings import ModelSettings, PathSettings, QueueSettings, QuotaSettings, Settings
from generation.workers.local import PipelineRunner, Saved


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


class FakeRunner:
    """A runner without a model: images are flat colours from the seed. Prompts steer it: "FAIL"
    raises like a bad source image, "OOM" like CUDA out of memory, "NOSAVE" fails saving. While
    `hold` is clear, generation waits (cancellable), so a test can keep the worker busy."""

    def __init__(self, outputs_dir: Path, *, models=("tiny", "other"), broken=(), step_delay: float = 0.0):
        self.outputs_dir = Path(outputs_dir)
        self.models = list(models)
        self.broken = set(broken)  # load fails
        self.step_delay = step_delay
        self.hold = threading.Event()
        self.hold.set()
        self.calls: list[list[str]] = []  # prompts per generate call
        self.loads: list[str] = []
        self.unloads: list[str] = []
        self.freed = 0
        self.threads: set[str] = set()

    def model_names(self):
        return list(self.models)

    def load(self, name):
        self.threads.add(threading.current_thread().name)
        if name in self.broken:
            raise RuntimeError(f"{name}.safetensors is corrupt")
        self.loads.append(name)
        return {"name": name}

    def check(self, model):
        pass

    def generate(self, model, requests, *, on_progress, cancel, want_preview):
        from PIL import Image

        self.threads.add(threading.current_thread().name)
        self.calls.append([r.prompt for r in requests])
        while not self.hold.wait(0.01):
            if cancel.cancelled:
                raise Cancelled
        for r in requests:
            if "FAIL" in r.prompt:
                raise FileNotFoundError(f"no such file: {r.prompt}.png")
            if "OOM" in r.prompt:
                raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        total = requests[0].steps
        for step in range(1, total + 1):
            if self.step_delay:
                time.sleep(self.step_delay)
            if cancel.cancelled:
                raise Cancelled
            if on_progress:
                previews = [Image.new("RGB", (8, 8), (step, 0, 0)) for _ in requests] if want_preview else []
                on_progress(step, total, previews)
        return [
            [Image.new("RGB", (r.width, r.height), (s % 256, (s >> 8) % 256, 7)) for s in r.seeds]
            for r in requests
        ]

    def unload(self, model):
        self.unloads.append(model["name"])

    def model_hash(self, model):
        return "0123456789"

    def save(self, job_id, request, images, model_name, model_hash):
        if "NOSAVE" in request.prompt:
            raise OSError("No space left on device")
        folder = self.outputs_dir / job_id
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for i, image in enumerate(images):
            path = folder / f"{i}.png"
            image.save(path)
            paths.append(path)
        return Saved(None, paths, request.seeds[: len(images)])

    def cancel_token(self):
        return CancelToken()

    def is_out_of_memory(self, exc):
        return "out of memory" in str(exc)

    def free_memory(self):
        self.freed += 1


class SlowRunner(PipelineRunner):
    """The real runner, sleeping `delay` seconds after each step (so a test can catch a job running)."""

    def __init__(self, settings: Settings, delay: float) -> None:
        super().__init__(settings)
        self.delay = delay

    def generate(self, model, requests, *, on_progress, cancel, want_preview):
        def slow(step, total, previews):
            time.sleep(self.delay)
            if on_progress is not None:
                on_progress(step, total, previews)

        return super().generate(model, requests, on_progress=slow, cancel=cancel, want_preview=want_preview)


async def child(database: Path, models_dir: Path, outputs_dir: Path, jobs: int) -> None:
    from generation.jobs.service import JobService
    from generation.jobs.types import JobOwner

    settings = make_settings(
        database.parent, models_dir=models_dir, queue=QueueSettings(per_user=10, batch_size=1)
    ).replace(
        paths=PathSettings(models_dir=models_dir, outputs_dir=outputs_dir, database=database),
        quota=QuotaSettings(daily_seconds=100000),
    )
    service = await JobService.open(settings, runner=SlowRunner(settings, 0.2))  # >= 0.8 s a job
    events = service.events()
    await service.start()
    for n in range(jobs):
        job = await service.submit(request(f"job {n}", seed=100 + n, steps=4), JobOwner(1000 + n % 2))
        print("SUBMITTED", job.id, flush=True)
    async for event in events:
        if event.kind in ("started", "done", "failed"):
            print(event.kind.upper(), event.job_id, flush=True)


if __name__ == "__main__":
    database, models_dir, outputs_dir, count = sys.argv[1:5]
    asyncio.run(child(Path(database), Path(models_dir), Path(outputs_dir), int(count)))
