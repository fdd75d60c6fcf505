"""/info image: and the "Show parameters" message command read other tools' PNGs (written from
their documented layouts) through localcord; "Imagine with these" queues them here."""

from __future__ import annotations

import pytest

from generation.requests.request import MAX_SEED
from tests.helpers.bot_env import bot_running, fake_runner, is_result
from tests.helpers.foreign_images import (
    COMFY_PROMPT,
    FOREIGN_PNGS,
    a1111_png,
    comfyui_png,
    novelai_png,
    png,
)

IMAGINE = "png:imagine"


@pytest.fixture
async def env(tmp_path):
    # the fake runner's models: "tiny" (active) and "other"
    async with bot_running(tmp_path, runner=fake_runner) as env:
        yield env


async def info_of(env, data: bytes, filename: str = "image.png", **kw):
    upload = env.server.add_attachment(data, filename)
    ix = await env.server.slash("info", {"image": upload}, **kw)
    return await ix.wait_original(lambda m: m.content and "thinking" not in m.content.lower())


async def test_info_image_reads_each_tool(env):
    for tool, make in FOREIGN_PNGS.items():
        answer = await info_of(env, make(), f"{tool}.png")
        assert answer.ephemeral and f"written by {tool}" in answer.content
        assert IMAGINE in answer.custom_ids()
        assert answer.embeds and answer.embeds[0]["description"].startswith("```\n")


async def test_imagine_with_these_queues_the_mapped_parameters_and_says_what_changed(env):
    answer = await info_of(env, comfyui_png(), "comfy.png")
    prompt = COMFY_PROMPT["6"]["inputs"]["text"]
    assert prompt in answer.content and "text, watermark" in answer.content
    assert "`dpmpp_2m, Schedule type: karras`" in answer.content
    # what is not here, said: the checkpoint, and a seed beyond the web UI's range
    assert "sd_xl_base_1.0" in answer.content and "the active model `tiny`" in answer.content
    seed = COMFY_PROMPT["3"]["inputs"]["seed"]
    assert f"The seed {seed} is beyond" in answer.content

    click = await env.server.click(IMAGINE, answer, user="mod")  # whoever clicks owns it
    result = await env.result(click)
    job = await env.job_for(result)
    request = job.request
    assert (request.prompt, request.negative_prompt) == (prompt, "text, watermark")
    assert (request.sampler, request.steps, request.cfg_scale) == ("DPM++ 2M Karras", 20, 8.0)
    assert request.seed == seed % (MAX_SEED + 1) and request.size == (1024, 768)
    assert job.model_name == "tiny" and job.owner.user_id == env.server.get_user("mod").id


async def test_a_model_the_bot_has_is_kept(env):
    text = "a lighthouse\nSteps: 5, Sampler: Euler a, CFG scale: 7, Seed: 3, Size: 64x64, Model: Other"
    answer = await info_of(env, png({"parameters": text}))
    assert "Here:" not in answer.content  # nothing to map: the name differs only in case
    job = await env.job_for(await env.result(await env.server.click(IMAGINE, answer)))
    assert job.model_name == "other" and job.request.seed == 3 and job.request.steps == 5


async def test_the_button_works_after_a_restart(env):
    answer = await info_of(env, novelai_png())
    await env.restart()
    click = await env.server.click(IMAGINE, answer)
    job = await env.job_for(await env.result(click))
    assert job.request.prompt == "1girl, masterpiece, night sky" and job.request.sampler == "Euler a"


async def test_show_parameters_on_a_message(env):
    server = env.server
    message = await server.send_user_message("look", user="mod", files={"girl.png": a1111_png()})
    ix = await server.message_command("Show parameters", message)
    answer = await ix.wait_original(lambda m: "AUTOMATIC1111" in m.content)
    assert answer.ephemeral and "EasyNegative" in answer.content and IMAGINE in answer.custom_ids()

    # this bot's own result reads back as what it made
    made = await env.result(await server.slash("imagine", {"prompt": "a red circle --seed 9 --steps 3"}))
    ix = await server.message_command("Show parameters", made)
    answer = await ix.wait_original(lambda m: "a red circle" in m.content)
    assert "Seed `9`" in answer.content and "Model `tiny`" in answer.content
    again = await env.job_for(await env.result(await server.click(IMAGINE, answer)))
    assert (again.request.prompt, again.request.seed, again.request.steps) == ("a red circle", 9, 3)


async def test_images_without_parameters_and_other_files(env):
    answer = await info_of(env, png({}), "plain.png")
    assert "no generation parameters" in answer.content and IMAGINE not in answer.custom_ids()

    upload = env.server.add_attachment(b"just text", "notes.png")
    ix = await env.server.slash("info", {"image": upload})
    refusal = await ix.wait_original(lambda m: "not an image" in m.content)
    assert refusal.ephemeral

    message = await env.server.send_user_message("no images here", files={"a.txt": b"hello"})
    ix = await env.server.message_command("Show parameters", message)
    await ix.wait_original(lambda m: "no image here" in m.content.lower())


async def test_a_prompt_over_the_limit_is_shown_without_the_button(env):
    text = "x" * 1200 + "\nSteps: 5, Sampler: Euler a, CFG scale: 7, Seed: 3, Size: 64x64"
    answer = await info_of(env, png({"parameters": text}))
    assert "shorten it" in answer.content and IMAGINE not in answer.custom_ids()


async def test_plain_info_still_answers(env):
    ix = await env.server.slash("info", {})
    answer = await ix.wait_original(lambda m: "Quota" in m.content)
    assert answer.ephemeral and not is_result(answer)
