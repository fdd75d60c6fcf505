"""LocalWorkerPool on its own: what a worker reports for a batch, with a sink that records it.

Each job of a submitted batch gets exactly one outcome; results are PNG bytes (with the A1111
parameters) and seeds; failures are Problems; stopping interrupts what is in flight.
"""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from generation.images.metadata import read_parameters
from generation.images.saving import encode_images
from generation.problems import Problem
from generation.requests.request import GenerationRequest, Mode
from generation.workers.fakes import FakeRunner
from generation.workers.local import PROGRESS_INTERVAL, LocalWorkerPool, failure_problem
from generation.workers.protocol import (
    Batch,
    BatchJob,
    BatchProgress,
    BatchStarted,
    CallMeasured,
    JobFailed,
    JobResult,
    ModelSwitchError,
    WorkerPool,
    WorkerProblem,
    WorkerState,
)

pytestmark = pytest.mark.timeout(30)

ROOT = Path(__file__).resolve().parents[3]
OUTCOMES = ("done", "failed", "cancelled", "interrupted")


class Recorder:
    """A BatchSink keeping every report, and a way to wait for outcomes."""

    def __init__(self) -> None:
        self.reports: list[tuple[str, object]] = []
        self.changed = asyncio.Event()

    def _add(self, kind: str, value: object) -> None:
        self.reports.append((kind, value))
        self.changed.set()

    async def batch_started(self, started: BatchStarted) -> None:
        self._add("started", started)

    def batch_progress(self, progress: BatchProgress) -> None:
        self._add("progress", progress)

    def call_measured(self, measured: CallMeasured) -> None:
        self._add("measured", measured)

    async def job_done(self, result: JobResult) -> None:
        self._add("done", result)

    async def job_failed(self, failed: JobFailed) -> None:
        self._add("failed", failed)

    async def job_cancelled(self, batch_id: str, job_id: str) -> None:
        self._add("cancelled", job_id)

    async def batch_interrupted(self, batch_id: str, job_ids) -> None:
        for job_id in job_ids:
            self._add("interrupted", job_id)

    def of(self, kind: str) -> list:
        return [value for k, value in self.reports if k == kind]

    def outcomes(self) -> dict[str, str]:
        found = {}
        for kind, value in self.reports:
            if kind in OUTCOMES:
                job_id = value if isinstance(value, str) else value.job_id
                assert job_id not in found, f"{job_id} got a second outcome: {kind}"
                found[job_id] = kind
        return found

    async def until(self, count: int, timeout: float = 10) -> dict[str, str]:
        async with asyncio.timeout(timeout):
            while len(self.outcomes()) < count:
                self.changed.clear()
                await self.changed.wait()
        return self.outcomes()


def request(prompt: str = "a red square", **kw) -> GenerationRequest:
    values = {
        "width": 64,
        "height": 64,
        "steps": 2,
        "count": 1,
        "seed": 1,
        "sampler": "Euler",
        "model": "tiny",
    }
    return GenerationRequest(prompt, **(values | kw))


def batch(batch_id: str, *jobs: tuple[str, GenerationRequest] | BatchJob, model: str = "tiny", **kw) -> Batch:
    entries = tuple(j if isinstance(j, BatchJob) else BatchJob(*j) for j in jobs)
    return Batch(batch_id, model, entries, **kw)


@pytest.fixture
async def pool():
    started: list[tuple[LocalWorkerPool, Recorder, FakeRunner]] = []

    async def make(workers: int = 1, **runner_kw):
        runner = FakeRunner(**runner_kw)
        pool, sink = LocalWorkerPool(runner, workers=workers), Recorder()
        await pool.start(sink)
        started.append((pool, sink, runner))
        return pool, sink, runner

    yield make
    for pool, _, _ in started:
        await pool.stop()


async def test_a_batch_reports_start_progress_and_png_results(pool):
    pool, sink, runner = await pool(step_seconds=PROGRESS_INTERVAL / 2)
    assert isinstance(pool, WorkerPool) and pool.capacity == 1
    [info] = pool.workers()
    assert (info.id, info.state, info.model, info.jobs_done) == ("local-0", WorkerState.IDLE, None, 0)
    jobs = [
        ("j1", request("a red square", seed=5, count=2, steps=6)),
        ("j2", request("a blue one", seed=9, steps=6)),
    ]
    await pool.submit("local-0", batch("b1", *jobs, previews=True))
    assert pool.workers()[0].state is WorkerState.BUSY and pool.free_workers() == []
    assert await sink.until(2) == {"j1": "done", "j2": "done"}
    assert runner.calls == [["a red square", "a blue one"]]  # compatible jobs share one pipeline call
    [started] = sink.of("started")
    assert started == BatchStarted("b1", "local-0", "tiny", "0123456789")
    progress = sink.of("progress")
    assert progress[-1].step == progress[-1].total == 6 and progress[-1].job_ids == ("j1", "j2")
    assert len(progress) < 6  # throttled to one report per PROGRESS_INTERVAL (and the last step)
    assert all(len(p.previews) == 2 and p.previews[0].startswith(b"\x89PNG") for p in progress)
    first, second = sink.of("done")
    assert [im.seed for im in first.images] == [5, 6] and [im.seed for im in second.images] == [9]
    assert first.gpu_seconds == pytest.approx(2 * second.gpu_seconds)  # shared by images
    with Image.open(io.BytesIO(first.images[1].png)) as image:
        assert image.getpixel((0, 0)) == (220, 40, 40)  # the fake paints the colour the prompt names
    assert "Seed: 6" in read_parameters(io.BytesIO(first.images[1].png))
    assert "Seed: 5" in read_parameters(io.BytesIO(first.grid))
    assert sink.of("measured") == []  # the first call after a load includes warm-up: not measured
    await pool.submit("local-0", batch("b2", ("j3", request())))
    await sink.until(3)
    assert [m.job_ids for m in sink.of("measured")] == [("j3",)]
    info = await pool.wait_free()
    assert (info.state, info.model, info.jobs_done) == (WorkerState.IDLE, "tiny", 3)


async def test_failures_are_problems_and_stay_with_their_job(pool):
    pool, sink, runner = await pool()
    await pool.submit(
        "local-0", batch("b1", ("good", request("good")), ("bad", request("FAIL")), ("oom", request("OOM")))
    )
    assert await sink.until(3) == {"good": "done", "bad": "failed", "oom": "failed"}
    assert runner.calls == [["good", "FAIL", "OOM"], ["good"], ["FAIL"], ["OOM"]]  # then one by one
    problems = {f.job_id: f.problem for f in sink.of("failed")}
    assert (
        problems["bad"].code == WorkerProblem.SOURCE_UNREADABLE
        and "FAIL.png" in problems["bad"].fields["detail"]
    )
    assert problems["oom"] == Problem(WorkerProblem.OUT_OF_MEMORY) and runner.freed >= 1
    # a source image arrives as bytes; bytes that are not an image fail that job alone
    png = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(png, format="PNG")
    img2img = request("vary", mode=Mode.IMG2IMG, strength=0.5, source_image="uploads/x.png")
    await pool.submit("local-0", batch("b2", BatchJob("src", img2img, png.getvalue())))
    await pool.wait_free()
    await pool.submit("local-0", batch("b3", BatchJob("junk", img2img, b"not an image")))
    assert (await sink.until(5))["src"] == "done" and sink.outcomes()["junk"] == "failed"
    assert sink.of("failed")[-1].problem.code == WorkerProblem.SOURCE_UNREADABLE
    # the model cannot be loaded: every job of the batch fails with the model's name
    await pool.wait_free()
    runner.broken.add("gone")
    await pool.submit("local-0", batch("b4", ("m1", request(model="gone")), model="gone"))
    await sink.until(6)
    failed = sink.of("failed")[-1].problem
    assert failed.code == WorkerProblem.MODEL_NOT_LOADED and failed.fields["model"] == "gone"


async def test_cancel_within_a_step_and_batch_mates_run_again(pool):
    pool, sink, runner = await pool()
    runner.gate.clear()
    await pool.submit("local-0", batch("b1", ("a", request("a")), ("b", request("b"))))
    await asyncio.sleep(0.05)
    assert pool.workers()[0].jobs == ("a", "b")
    assert await pool.cancel("b") and not await pool.cancel("nosuchjob")
    await sink.until(1)
    runner.gate.set()
    assert await sink.until(2) == {"a": "done", "b": "cancelled"}
    assert runner.calls == [["a", "b"], ["a"]]


async def test_stopping_interrupts_the_batch_in_flight(pool):
    pool, sink, runner = await pool(workers=2)
    runner.gate.clear()
    await pool.submit("local-0", batch("b1", ("held", request())))
    await asyncio.sleep(0.05)
    await pool.stop()
    assert sink.outcomes() == {"held": "interrupted"}
    assert await pool.wait_free() is None and pool.free_workers() == []
    await pool.submit("local-1", batch("b2", ("late", request())))  # after stop: straight back
    assert sink.outcomes()["late"] == "interrupted"
    assert runner.unloads == ["tiny"]  # the loaded model was freed


async def test_a_failed_switch_keeps_each_workers_model(pool):
    pool, _, runner = await pool(workers=2, models=("tiny", "other", "broken"), broken=("broken",))
    assert await pool.switch_model("tiny", worker_id="local-1") == "0123456789"
    assert pool.loaded_models() == {"local-0": None, "local-1": "tiny"}
    with pytest.raises(ModelSwitchError) as failed:
        await pool.switch_model("broken")
    assert failed.value.code == WorkerProblem.MODEL_SWITCH_FAILED and failed.value.fields["model"] == "broken"
    assert failed.value.fields["kept"] in (None, "tiny")
    assert pool.loaded_models() == {"local-0": None, "local-1": "tiny"}
    await pool.switch_model("other")
    assert pool.loaded_models() == {"local-0": "other", "local-1": "other"} and runner.unloads == ["tiny"]
    assert pool.model_names() == ["tiny", "other", "broken"]


def test_failures_map_to_problem_codes():
    def code(exc: BaseException, **kw) -> str:
        return failure_problem(exc, **kw).code

    assert code(RuntimeError("CUDA out of memory"), out_of_memory=True) == WorkerProblem.OUT_OF_MEMORY
    assert code(FileNotFoundError("x.png")) == WorkerProblem.SOURCE_UNREADABLE
    assert code(type("ModelLoadError", (Exception,), {})("bad")) == WorkerProblem.MODEL_UNUSABLE
    assert code(type("ValidationError", (ValueError,), {})("too big")) == WorkerProblem.INVALID_REQUEST
    assert failure_problem(ValueError("x" * 500)).fields["detail"].endswith("...")
    assert code(ValueError("odd")) == WorkerProblem.GENERATION_FAILED
    problem = Problem("custom", n=1)
    assert failure_problem(problem) is problem


def test_encoded_images_carry_their_parameters():
    images = [Image.new("RGB", (64, 64), (i * 50, 0, 0)) for i in range(3)]
    encoded = encode_images(request("p", seed=40, count=3), images, "tiny", "0123456789")
    assert encoded.seeds == [40, 41, 42] and len(encoded.images) == 3
    for png, seed in zip(encoded.images, encoded.seeds, strict=True):
        text = read_parameters(io.BytesIO(png))
        assert f"Seed: {seed}" in text and "Model hash: 0123456789" in text and "Model: tiny" in text
    with Image.open(io.BytesIO(encoded.grid)) as grid:
        assert grid.size == (128, 128)  # 2x2
    with pytest.raises(ValueError):
        encode_images(request(), [], "tiny", None)


def test_importing_the_job_service_leaves_torch_out():
    code = (
        "import sys, generation.jobs.service, generation.workers.protocol, generation.workers.local; "
        "bad = [m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_real_runner_reads_masks_from_bytes_and_names_a_bad_one():
    from generation.workers.runner import decode_masks

    png = io.BytesIO()
    Image.new("L", (8, 8), 255).save(png, format="PNG")
    assert decode_masks([None, None], 2) is None  # no masks sent: the engine needs none
    none, mask = decode_masks([None, png.getvalue()], 2)
    assert none is None and mask.size == (8, 8) and mask.getpixel((3, 3)) == 255
    with pytest.raises(Problem) as bad:
        decode_masks([b"not an image"], 1)
    assert bad.value.code == WorkerProblem.MASK_UNREADABLE and bad.value.fields["detail"]
    assert failure_problem(bad.value) == bad.value  # the worker reports it as it is
