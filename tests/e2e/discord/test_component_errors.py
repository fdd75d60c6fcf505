"""What a button, select or form raises is answered, never left as "This interaction failed"
(discord.py only logs what a DynamicItem's callback raises): a refused write in its own words, a
bug as the general apology, both to the user alone."""

from __future__ import annotations

import pytest

from bot.ui import text
from tests.helpers.bot_env import bot_running, fake_runner
from tests.helpers.discord_answers import answer
from tests.helpers.faults import FlakyStore, FullDisk


@pytest.fixture
async def env(tmp_path):
    async with bot_running(tmp_path, runner=fake_runner) as env:
        yield env


async def test_a_settings_change_the_database_refuses_is_answered_in_words(env):
    server = env.server
    uid = server.default_user.id
    panel = await (await server.slash("settings")).wait_original(
        lambda m: f"prf:sampler:{uid}" in m.custom_ids()
    )
    disk = FullDisk()
    env.service.store = FlakyStore(env.service.store, disk)
    disk.full = True
    click = await server.click(f"prf:sampler:{uid}", panel, values=["DDIM"])
    said = await answer(server, click)
    assert "could not save that right now" in said.content and "disk is full" in said.content
    assert said.ephemeral and disk.refused == 1
    assert await env.service.user_settings(uid) == {}  # nothing half-written


async def test_a_button_whose_handler_breaks_gets_an_apology(env, monkeypatch):
    server = env.server
    ix = await server.slash("imagine", {"prompt": "a red circle"})
    message = await env.result(ix)
    job = await env.job_for(message)

    async def broken(job_id):
        raise RuntimeError("a bug in the lookup")

    monkeypatch.setattr(env.service, "get_job", broken)
    click = await server.click(f"img:u:{job.id}:0", message)
    said = await answer(server, click)
    assert said.content == text.UNKNOWN_PROBLEM and said.ephemeral
