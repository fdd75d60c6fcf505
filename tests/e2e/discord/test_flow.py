"""The main flow on the tiny model: /imagine, then U1, V1 and reroll on the result; /vary."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from generation.jobs.types import JobStatus
from generation.requests.request import RANDOM_SEED, Mode
from tests.helpers.bot_env import bot_running

COMMANDS = {"imagine", "vary", "show", "info", "model", "quota", "queue", "safety", "sync"}


@pytest.fixture
async def bot_env(tmp_path, tiny_model_dir):
    async with bot_running(tmp_path, tiny_model_dir.parent) as env:
        yield env


async def test_imagine_then_upscale_vary_reroll(bot_env):
    server = bot_env.server
    synced = {c["name"]: c for c in server.commands()}
    assert set(synced) >= COMMANDS
    assert synced["model"]["default_member_permissions"] == 1 << 5  # Manage Server

    ix = await server.slash("imagine", {"prompt": "a red circle --seed 42", "steps": 2})
    assert (await ix.wait_response()).type == 5  # deferred first
    message = await bot_env.result(ix)
    ids = message.custom_ids()
    job = await bot_env.job_for(message)
    assert [f"img:u:{job.id}:{i}" for i in range(4)] + [f"img:v:{job.id}:{i}" for i in range(4)] == ids[:8]
    assert {f"img:r:{job.id}:0", f"img:i:{job.id}:0", f"img:d:{job.id}:0"} <= set(ids)
    assert "a red circle" in message.content and "42" in message.content and "tiny" in message.content
    assert job.status is JobStatus.DONE and job.request.seed == 42
    with Image.open(io.BytesIO(message.attachments[0].data)) as grid:
        assert grid.size == (128, 128)  # 2x2 grid of 64x64

    # U1: an upscale of image 1, owned by whoever clicks
    up = await server.click(f"img:u:{job.id}:0", message, user="mod")
    up_message = await bot_env.result(up)
    up_job = await bot_env.job_for(up_message)
    assert up_job.request.mode is Mode.UPSCALE and up_job.parent_id == job.id
    assert up_job.request.source_image == job.images[0].key and up_job.request.seed == 42
    assert up_job.owner.user_id == server.get_user("mod").id
    assert up_job.meta["depth"] == 1
    assert f"img:s:{up_job.id}:0" in up_message.custom_ids()  # upscales get vary subtle/strong

    # V1: img2img of image 1, a new grid with a new seed
    var = await server.click(f"img:v:{job.id}:0", message)
    var_job = await bot_env.job_for(await bot_env.result(var))
    assert var_job.request.mode is Mode.IMG2IMG and var_job.parent_id == job.id
    assert var_job.request.source_image == job.images[0].key
    assert var_job.request.count == 4 and var_job.request.seed != RANDOM_SEED

    # reroll: the same request with a new seed
    again = await server.click(f"img:r:{job.id}:0", message)
    again_job = await bot_env.job_for(await bot_env.result(again))
    assert again_job.request.mode is Mode.TXT2IMG and again_job.parent_id == job.id
    assert again_job.request.prompt == job.request.prompt and again_job.request.seed != 42

    # info: the parameters, to the clicker only
    info = await server.click(f"img:i:{job.id}:0", message)
    shown = await info.wait_original(lambda m: "Seed: 42" in m.content)
    assert shown.ephemeral


async def test_vary_from_an_attachment(bot_env):
    server = bot_env.server
    buffer = io.BytesIO()
    Image.new("RGB", (100, 80), (200, 30, 30)).save(buffer, format="PNG")
    upload = server.add_attachment(buffer.getvalue(), "mine.png")
    ix = await server.slash("vary", {"image": upload, "prompt": "a blue square", "strength": "strong"})
    job = await bot_env.job_for(await bot_env.result(ix))
    assert job.request.mode is Mode.IMG2IMG and job.request.strength == 0.7
    assert job.request.prompt == "a blue square" and job.parent_id is None
    with Image.open(io.BytesIO(await bot_env.service.read_artifact(job.request.source_image))) as source:
        assert source.size == (100, 80)
    assert job.request.width >= job.request.height  # the upload's shape
