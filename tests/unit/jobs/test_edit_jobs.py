"""Edit jobs through the service: an inpaint's mask is an artifact (an upload) the service reads
into the batch like the source, the worker decodes it and the engine repaints only there; a mask
that is gone or is no image fails that job alone; compatible outpaints share one pipeline call.

The FakeRunner paints the prompt's colour over the source where the mask is white, so the tests
see which mask reached the worker; the real tiny model shows the engine keeps the rest."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest
from PIL import Image

from bot.ui.text import describe
from generation.images.masks import feather_reach, grid_mask
from generation.jobs.service import JobService
from generation.jobs.types import JobOwner, JobStatus
from generation.requests.followups import region_of, zoom_out_of
from generation.requests.request import Edit, Mode
from generation.settings import QueueSettings
from generation.workers.fakes import FakeRunner
from generation.workers.local import LocalWorkerPool
from generation.workers.protocol import WorkerProblem
from generation.workers.runner import PipelineRunner
from tests.helpers.service_env import make_settings, request

pytestmark = pytest.mark.timeout(90)

ALICE, BOB = JobOwner(1, 10, 20), JobOwner(2, 10, 20)


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB")).astype(int)


@pytest.fixture
async def open_service(tmp_path):
    opened = []

    async def factory(runner=None, **settings_kw):
        """A started service on `runner` (None: the real runner on the tiny model)."""
        settings = make_settings(tmp_path, **settings_kw)
        service = await JobService.open(settings, pool=LocalWorkerPool(runner or PipelineRunner(settings)))
        opened.append(service)
        await service.start()
        return service, settings

    yield factory
    for service in opened:
        await service.close()


def inpaint(source: str, mask: str, prompt: str = "a blue patch", **kw):
    values = {"mode": Mode.INPAINT, "source_image": source, "strength": 1.0, "edit": Edit(mask=mask)}
    return request(prompt, **(values | kw))


async def test_the_mask_travels_as_an_upload_and_a_missing_one_fails_its_job_alone(open_service):
    runner = FakeRunner()
    service, _ = await open_service(runner, queue=QueueSettings(batch_size=4))
    source = await service.put_upload(png(Image.new("RGB", (64, 64), (200, 30, 30))))
    left = Image.new("L", (64, 64), 0)
    left.paste(255, (0, 0, 32, 64))
    mask = await service.put_upload(png(left))
    junk = await service.put_upload(b"not an image")

    await service.pause()
    good = await service.submit(inpaint(source, mask), ALICE)
    gone = await service.submit(inpaint(source, "uploads/nosuch.png", seed=2), BOB)
    broken = await service.submit(inpaint(source, junk, seed=3), BOB)
    await service.resume()
    good, gone, broken = [await service.wait(job.id, 20) for job in (good, gone, broken)]

    assert good.status is JobStatus.DONE
    result = pixels(await service.read_artifact(good.images[0].key))
    assert (result[:, :32] == (40, 70, 220)).all() and (result[:, 32:] == (200, 30, 30)).all()
    assert runner.masks[0][0] == png(left)  # the mask's own bytes reached the worker
    # the missing mask: refused before a worker sees it, with the key that was not found
    assert gone.status is JobStatus.FAILED and gone.error.code == WorkerProblem.MASK_UNREADABLE
    assert "nosuch" in gone.error.fields["detail"] and "mask" in describe(gone.error)
    sent = [r.edit.mask for call in runner.requests for r in call]
    assert "uploads/nosuch.png" not in sent and junk in sent  # it never reached a worker
    # bytes that are no image: the worker says so for that job alone
    assert broken.status is JobStatus.FAILED and broken.error.code == WorkerProblem.MASK_UNREADABLE
    assert await service.store.charge_of(gone.id) is None and await service.store.charge_of(broken.id) is None


@pytest.fixture
def models_dir(tmp_path, tiny_model_dir):
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copytree(tiny_model_dir, folder / "tiny")
    return folder


async def test_the_real_engine_repaints_only_the_uploaded_mask(open_service, models_dir):
    service, settings = await open_service(models_dir=models_dir)
    rng = np.random.default_rng(3)
    picture = Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8), "RGB")
    source = await service.put_upload(png(picture))
    cells = grid_mask(64, 64, [6, 7])  # the second row's middle cells: x 16..48, y 16..32
    mask = await service.put_upload(png(cells))
    made = region_of(request("a blue patch", model="tiny"), source, mask, settings, count=1)
    job = await service.wait((await service.submit(made, ALICE)).id, 60)
    assert job.status is JobStatus.DONE and job.request.mode is Mode.INPAINT

    result, before = pixels(await service.read_artifact(job.images[0].key)), np.asarray(picture).astype(int)
    reach = feather_reach(job.request.edit.mask_blur)
    outside = np.ones((64, 64), bool)
    outside[max(0, 16 - reach) : 32 + reach, max(0, 16 - reach) : 48 + reach] = False
    assert (result[outside] == before[outside]).all()  # exactly the source's
    assert np.abs(result[16:32, 16:48] - before[16:32, 16:48]).mean() > 10  # repainted


async def test_compatible_zooms_share_one_call_and_keep_their_sources(open_service, models_dir):
    service, settings = await open_service(models_dir=models_dir, queue=QueueSettings(batch_size=4))
    sources = []
    for colour in ((200, 30, 30), (30, 200, 30)):
        sources.append(await service.put_upload(png(Image.new("RGB", (64, 64), colour))))
    base = request("a wide field", model="tiny")
    await service.pause()
    jobs = [
        await service.submit(zoom_out_of(base, key, 2.0, settings, count=1), (ALICE, BOB)[n])
        for n, key in enumerate(sources)
    ]
    await service.resume()
    jobs = [await service.wait(job.id, 60) for job in jobs]
    assert all(job.status is JobStatus.DONE for job in jobs)
    assert jobs[0].started_at == jobs[1].started_at  # one pipeline call for both
    for job, colour in zip(jobs, ((200, 30, 30), (30, 200, 30)), strict=True):
        result = pixels(await service.read_artifact(job.images[0].key))
        assert result.shape == (128, 128, 3)
        seam = 2 * job.request.edit.mask_blur + feather_reach(job.request.edit.mask_blur)
        centre = result[32 + seam : 96 - seam, 32 + seam : 96 - seam]
        assert (centre == colour).all()  # each keeps its own source, at full size, in the middle
