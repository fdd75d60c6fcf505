"""The edits end to end on the tiny model, through localcord: /imagine (64x64), U1 (128x128), then
Vary (Region) with cells 6 and 7 and its form, Zoom Out 2x and Pan left. The tiny model draws
noise, not pictures, so the tests look at what an edit must keep: the source's pixels outside the
mask (after its feathered edge), and the source in the middle of a zoom or on one side of a pan,
at full size while the canvas fits `limits.max_pixels` and scaled down whole when it does not
(generation/requests/canvas.py's rule)."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
from PIL import Image

from generation.images.masks import cell_boxes, feather_reach, grid_mask
from generation.images.metadata import read_parameters
from generation.jobs.types import JobStatus
from generation.pipelines.sources import LANCZOS
from generation.requests.request import Mode
from tests.helpers.bot_env import bot_running

pytestmark = pytest.mark.timeout(180)


async def image_of(env, key: str) -> np.ndarray:
    with Image.open(io.BytesIO(await env.service.read_artifact(key))) as image:
        return np.asarray(image.convert("RGB")).astype(int)


async def upscaled(env):
    """/imagine one 64x64 image, then U1: its message and job (128x128)."""
    server = env.server
    grid = await env.result(await server.slash("imagine", {"prompt": "a red circle --seed 5 --n 1"}))
    job = await env.job_for(grid)
    message = await env.result(await server.click(f"img:u:{job.id}:0", grid))
    up = await env.job_for(message)
    assert up.request.mode is Mode.UPSCALE and up.status is JobStatus.DONE
    return message, up


@pytest.fixture
async def env(tmp_path, tiny_model_dir):
    async with bot_running(tmp_path, tiny_model_dir.parent, defaults={"count": 1}) as env:
        yield env


async def test_vary_region_cells_6_and_7_repaints_only_them(env):
    server = env.server
    message, up = await upscaled(env)
    picker = await (await server.click(f"ed:g:{up.id}:0", message)).wait_original(lambda m: m.attachments)
    chosen = await server.click(f"rg:{up.id}:0", picker, values=["6", "7"])
    await chosen.wait_response()
    result = await env.result(await server.submit_modal(chosen, {"prompt": "a blue circle --steps 3"}))
    job = await env.job_for(result)
    assert job.status is JobStatus.DONE and job.request.mode is Mode.INPAINT
    assert (job.request.prompt, job.request.steps, job.request.size) == ("a blue circle", 3, (128, 128))

    # the job's mask is exactly cells 6 and 7 of the 4x4 grid over the 128x128 image
    mask = await image_of(env, job.request.edit.mask)
    assert (mask[..., 0] == np.asarray(grid_mask(128, 128, (6, 7)))).all()
    left, top, _, _ = cell_boxes(128, 128)[5]
    _, _, right, bottom = cell_boxes(128, 128)[6]
    assert (left, top, right, bottom) == (32, 32, 96, 64)

    # pixels well outside (past the feather's reach) are the source's, exactly; inside, repainted
    source, made = await image_of(env, up.images[0].key), await image_of(env, job.images[0].key)
    reach = feather_reach(job.request.edit.mask_blur)
    outside = np.ones((128, 128), bool)
    outside[top - reach : bottom + reach, left - reach : right + reach] = False
    assert (made[outside] == source[outside]).all()
    assert np.abs(made[top:bottom, left:right] - source[top:bottom, left:right]).mean() > 10
    parameters = read_parameters(io.BytesIO(await env.service.read_artifact(job.images[0].key)))
    assert "Mask blur: 4" in parameters and "Denoising strength: 1" in parameters
    assert "(region repainted)" in result.content
    assert f"img:u:{job.id}:0" in result.custom_ids()  # and it can be upscaled (and edited) again


async def test_zoom_out_2x_doubles_the_canvas_around_the_source_and_pan_left_widens_it(env):
    server = env.server
    message, up = await upscaled(env)
    source = await image_of(env, up.images[0].key)

    zoomed = await env.result(await server.click(f"ed:z:{up.id}:0", message))
    zoom = await env.job_for(zoomed)
    assert zoom.request.mode is Mode.OUTPAINT and zoom.request.size == (256, 256)
    made = await image_of(env, zoom.images[0].key)
    assert made.shape == (256, 256, 3)  # twice the canvas: it fits limits.max_pixels
    keep = 2 * zoom.request.edit.mask_blur + feather_reach(zoom.request.edit.mask_blur)  # the seam
    centre = made[64 + keep : 192 - keep, 64 + keep : 192 - keep]
    assert (centre == source[keep:-keep, keep:-keep]).all()  # the source, at full size, in the middle
    assert np.abs(made[:48] - made[:48].mean(axis=(0, 1))).mean() > 1  # the border was painted
    assert "Zoom out: 2" in read_parameters(io.BytesIO(await env.service.read_artifact(zoom.images[0].key)))
    assert "(zoom out 2x)" in zoomed.content

    panned = await env.result(await server.click(f"ed:l:{up.id}:0", message))
    pan = await env.job_for(panned)
    made = await image_of(env, pan.images[0].key)
    assert made.shape == (128, 192, 3)  # half a side more width...
    keep = 2 * pan.request.edit.mask_blur + feather_reach(pan.request.edit.mask_blur)
    assert (made[:, 64 + keep :] == source[:, keep:]).all()  # ...on the left: the source on the right
    assert np.abs(made[:, :64] - source[:, :64]).mean() > 10
    assert "Pan: left" in read_parameters(io.BytesIO(await env.service.read_artifact(pan.images[0].key)))


async def test_a_zoom_past_max_pixels_scales_the_source_down_whole(tmp_path, tiny_model_dir):
    def small_canvas(settings):
        return settings.replace(limits=dataclasses.replace(settings.limits, max_pixels=128 * 128))

    async with bot_running(
        tmp_path, tiny_model_dir.parent, defaults={"count": 1}, configure=small_canvas
    ) as env:
        message, up = await upscaled(env)
        zoom = await env.job_for(await env.result(await env.server.click(f"ed:z:{up.id}:0", message)))
        made = await image_of(env, zoom.images[0].key)
        assert made.shape == (128, 128, 3)  # the canvas keeps the limit; the source shrinks to half
        with Image.open(io.BytesIO(await env.service.read_artifact(up.images[0].key))) as picture:
            small = np.asarray(picture.convert("RGB").resize((64, 64), LANCZOS)).astype(int)
        keep = 2 * zoom.request.edit.mask_blur + feather_reach(zoom.request.edit.mask_blur)
        centre = made[32 + keep : 96 - keep, 32 + keep : 96 - keep]
        assert np.abs(centre - small[keep:-keep, keep:-keep]).max() <= 2  # the source, downscaled
