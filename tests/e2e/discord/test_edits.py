"""The edit buttons under an upscale through localcord (the fake runner): Vary (Region) by the
grid and a form, Zoom Out, Custom Zoom and Pan; Remix forms on the result buttons; /vary's mask.
These check what the flows collect (meta["edit"]) and the requests they make: an inpaint of the
chosen cells or mask, an outpaint of the right canvas. The fake paints an inpaint's colour where its
mask is white, so the result shows which mask reached the worker; test_edit_pixels.py runs the
tiny model."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from generation.requests.request import Mode
from tests.helpers.bot_env import bot_running, fake_runner, is_result


@pytest.fixture
async def env(tmp_path):
    async with bot_running(tmp_path, runner=fake_runner) as env:
        yield env


async def upscaled(env):
    """An /imagine and its U1: the upscale's message and job."""
    server = env.server
    grid = await env.result(await server.slash("imagine", {"prompt": "a red circle --seed 5"}))
    job = await env.job_for(grid)
    message = await env.result(await server.click(f"img:u:{job.id}:0", grid))
    return message, await env.job_for(message)


def form_values(modal: dict) -> dict[str, str]:
    found = {}
    for row in modal["components"]:
        for comp in row.get("components", [row.get("component", {})]):
            if comp.get("type") == 4:
                found[comp["custom_id"]] = comp.get("value") or ""
    return found


async def test_vary_region_cells_6_and_7(env):
    server = env.server
    message, up = await upscaled(env)
    ids = message.custom_ids()
    for action in "gzykludr":
        assert f"ed:{action}:{up.id}:0" in ids
    assert f"img:s:{up.id}:0" in ids and f"img:i:{up.id}:0" in ids  # today's buttons stay

    picker_ix = await server.click(f"ed:g:{up.id}:0", message, user="mod")
    picker = await picker_ix.wait_original(lambda m: m.attachments and f"rg:{up.id}:0" in m.custom_ids())
    assert picker.ephemeral and "4x4" in picker.content
    with Image.open(io.BytesIO(picker.attachments[0].data)) as overlay:
        assert max(overlay.size) == 768
    options = picker.component(f"rg:{up.id}:0")
    assert [o["value"] for o in options["options"]] == [str(n) for n in range(1, 17)]
    assert options["max_values"] == 16

    chosen = await server.click(f"rg:{up.id}:0", picker, values=["7", "6"], user="mod")
    await chosen.wait_response()
    assert chosen.response.type == 9 and chosen.modal["custom_id"] == f"rgf:{up.id}:0:60"
    assert form_values(chosen.modal)["prompt"].startswith("a red circle")
    submitted = await server.submit_modal(chosen, {"prompt": "a blue circle"})
    job = await env.job_for(await env.result(submitted))
    assert job.meta["edit"]["kind"] == "region" and job.meta["edit"]["cells"] == [6, 7]
    assert job.meta["edit"]["grid"] == 4 and job.meta["edit"]["prompt"] == "a blue circle"
    assert job.request.prompt == "a blue circle" and job.parent_id == up.id
    assert job.request.source_image == up.images[0].key and job.request.mode is Mode.INPAINT
    assert job.request.edit.mask == job.meta["edit"]["mask_key"] and job.request.size == (128, 128)
    assert job.owner.user_id == server.get_user("mod").id  # whoever clicks owns the job
    # the fake painted blue exactly where the mask reached it: cells 6 and 7 of the 4x4 grid
    with Image.open(io.BytesIO(await env.service.read_artifact(job.images[0].key))) as result:
        assert result.getpixel((40, 40)) == result.getpixel((90, 60)) == (40, 70, 220)
        assert result.getpixel((20, 40)) == result.getpixel((100, 40)) == (220, 40, 40)
        assert result.getpixel((60, 20)) == result.getpixel((60, 70)) == (220, 40, 40)
    assert "(region repainted)" in (await env.result(submitted)).content


async def test_zoom_pan_and_custom_zoom_also_after_a_restart(env):
    server = env.server
    message, up = await upscaled(env)
    zoom = await env.job_for(await env.result(await server.click(f"ed:z:{up.id}:0", message, user="admin")))
    assert zoom.meta["edit"] == zoom.meta["edit"] | {"kind": "zoom", "factor": 2.0}
    assert zoom.owner.user_id == server.get_user("admin").id and zoom.parent_id == up.id
    assert zoom.request.prompt == up.request.prompt and zoom.request.mode is Mode.OUTPAINT
    assert zoom.request.size == (256, 256) and zoom.request.edit.zoom == 2.0  # twice the 128x128

    custom = await server.click(f"ed:k:{up.id}:0", message)
    await custom.wait_response()
    assert custom.response.type == 9 and set(form_values(custom.modal)) == {"factor"}
    refused = await server.submit_modal(custom, {"factor": "3"})
    assert "at most 2" in (await refused.wait_followup()).content
    accepted = await server.submit_modal(custom, {"factor": "1.75x"})
    custom_job = await env.job_for(await env.result(accepted))
    assert custom_job.meta["edit"]["factor"] == 1.75 and custom_job.request.size == (224, 224)

    await env.restart()
    pan = await env.job_for(await env.result(await server.click(f"ed:l:{up.id}:0", message)))
    assert pan.meta["edit"]["kind"] == "pan" and pan.meta["edit"]["direction"] == "left"
    assert pan.request.mode is Mode.OUTPAINT and pan.request.size == (192, 128)
    region = await server.click(f"ed:g:{up.id}:0", message)
    picker = await region.wait_original(lambda m: m.attachments)
    chosen = await server.click(f"rg:{up.id}:0", picker, values=["1"])
    await chosen.wait_response()
    await env.restart()  # the form opened before the restart is submitted after it
    job = await env.job_for(await env.result(await server.submit_modal(chosen, {"prompt": "a sun"})))
    assert job.meta["edit"]["cells"] == [1] and job.request.mode is Mode.INPAINT


async def test_remix_opens_the_prompt_and_the_edited_prompt_runs(env):
    server = env.server
    uid = server.default_user.id
    grid = await env.result(await server.slash("imagine", {"prompt": "a red circle --seed 5 --steps 4"}))
    job = await env.job_for(grid)
    await env.service.set_user_settings(uid, {"remix": True})

    vary = await server.click(f"img:v:{job.id}:1", grid)
    await vary.wait_response()
    assert vary.response.type == 9  # a form instead of a job
    shown = form_values(vary.modal)["prompt"]
    assert shown.startswith("a red circle") and "--steps 4" in shown and "--seed" not in shown
    varied = await env.job_for(
        await env.result(await server.submit_modal(vary, {"prompt": "a green square --steps 6"}))
    )
    assert varied.request.prompt == "a green square" and varied.request.steps == 6
    assert varied.request.mode is Mode.IMG2IMG and varied.request.source_image == job.images[1].key

    reroll = await server.click(f"img:r:{job.id}:0", grid)
    await reroll.wait_response()
    rerolled = await env.job_for(
        await env.result(await server.submit_modal(reroll, {"prompt": "a gold star"}))
    )
    assert rerolled.request.prompt == "a gold star" and rerolled.request.mode is Mode.TXT2IMG
    assert rerolled.request.steps == 2  # its --steps was removed: the server's default runs

    up_message = await env.result(await server.click(f"img:u:{job.id}:0", grid))  # upscales never remix
    up = await env.job_for(up_message)
    pan = await server.click(f"ed:u:{up.id}:0", up_message)
    await pan.wait_response()
    assert pan.response.type == 9
    panned = await env.job_for(await env.result(await server.submit_modal(pan, {"prompt": "a tall tower"})))
    assert panned.request.prompt == "a tall tower" and panned.meta["edit"]["direction"] == "up"
    assert panned.request.mode is Mode.OUTPAINT and panned.request.size == (128, 192)
    # someone without Remix gets the job at once
    other = await server.click(f"img:v:{job.id}:0", grid, user="mod")
    assert (await other.wait_response()).type == 5
    assert is_result(await env.result(other))


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


async def test_vary_takes_a_mask_white_is_repainted(env):
    server = env.server
    grid = await env.result(await server.slash("imagine", {"prompt": "a red circle --seed 5"}))
    job = await env.job_for(grid)
    mask = Image.new("L", (32, 32), 0)
    mask.paste(255, (0, 0, 16, 32))  # the left half, at half the image's size
    upload = server.add_attachment(png(mask), "mask.png")
    ix = await server.slash("vary", {"job": job.id, "index": 2, "mask": upload, "strength": "strong"})
    edited = await env.job_for(await env.result(ix))
    meta = edited.meta["edit"]
    assert meta["kind"] == "region" and edited.request.source_image == job.images[1].key
    assert edited.request.mode is Mode.INPAINT and edited.request.edit.mask == meta["mask_key"]
    assert edited.request.strength == 0.7 and edited.parent_id == job.id
    with Image.open(io.BytesIO(await env.service.read_artifact(meta["mask_key"]))) as stored:
        assert stored.mode == "L" and stored.size == (64, 64)  # scaled to the image's size
        assert stored.getpixel((8, 32)) == 255 and stored.getpixel((56, 32)) == 0

    source = server.add_attachment(png(Image.new("RGB", (96, 64), (200, 30, 30))), "mine.png")
    ix = await server.slash("vary", {"image": source, "mask": upload, "prompt": "a blue sky"})
    edited = await env.job_for(await env.result(ix))
    assert edited.meta["edit"]["prompt"] == "a blue sky" and edited.request.prompt == "a blue sky"

    dark = server.add_attachment(png(Image.new("L", (32, 32), 20)), "dark.png")
    refused = await server.slash("vary", {"job": job.id, "mask": dark})
    assert "all dark" in (await refused.wait_followup()).content


async def test_an_edit_result_is_upscaled_varied_and_zoomed_again(env):
    server = env.server
    message, up = await upscaled(env)
    zoomed = await env.result(await server.click(f"ed:z:{up.id}:0", message))
    zoom = await env.job_for(zoomed)
    assert "(zoom out 2x)" in zoomed.content and zoom.request.size == (256, 256)
    ids = zoomed.custom_ids()
    assert {f"img:u:{zoom.id}:3", f"img:v:{zoom.id}:0", f"img:r:{zoom.id}:0"} <= set(ids)  # a grid's buttons

    varied = await env.job_for(await env.result(await server.click(f"img:v:{zoom.id}:1", zoomed)))
    assert varied.request.mode is Mode.IMG2IMG and varied.request.source_image == zoom.images[1].key
    assert varied.request.edit is None
    rerolled = await env.job_for(await env.result(await server.click(f"img:r:{zoom.id}:0", zoomed)))
    assert rerolled.request.mode is Mode.OUTPAINT and rerolled.request.edit == zoom.request.edit
    assert rerolled.request.size == (256, 256) and rerolled.request.seed != zoom.request.seed

    again_message = await env.result(await server.click(f"img:u:{zoom.id}:0", zoomed))
    again = await env.job_for(again_message)
    assert again.request.mode is Mode.UPSCALE and again.request.edit is None
    assert f"ed:z:{again.id}:0" in again_message.custom_ids()  # the upscale can be zoomed again
    pan = await env.job_for(await env.result(await server.click(f"ed:r:{again.id}:0", again_message)))
    assert pan.request.mode is Mode.OUTPAINT and pan.request.size == (768, 512)  # 512x512, panned right
