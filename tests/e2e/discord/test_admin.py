"""Admin commands that work (the refusals are in test_bot_delivery): spoilers, quotas, the queue."""

from __future__ import annotations

import pytest

from tests.helpers.bot_env import bot_running, fake_runner, job_id_of


@pytest.fixture
async def env(tmp_path):
    async with bot_running(tmp_path, runner=fake_runner) as env:
        yield env


async def answer(ix) -> str:
    return (await ix.wait_original(lambda m: not m.loading)).content


async def test_spoilers_outside_nsfw_channels(env):
    server = env.server
    assert "spoilers" in await answer(
        await server.slash("safety", {"enabled": True}, subcommand="spoiler", user="mod")
    )
    general = await env.result(await server.slash("imagine", {"prompt": "a red circle"}))
    assert general.attachments[0].filename.startswith("SPOILER_")
    nsfw = await env.result(await server.slash("imagine", {"prompt": "a red circle"}, channel="nsfw"))
    assert not nsfw.attachments[0].filename.startswith("SPOILER_")


async def test_quota_and_queue_commands(tmp_path):
    async with bot_running(tmp_path, runner=fake_runner, daily_seconds=600.0) as env:
        await quota_and_queue(env)


async def quota_and_queue(env):
    server = env.server
    alice = server.default_user
    await server.slash("quota", {"user": alice, "seconds": 30.0}, subcommand="set", user="mod")
    granted = await server.slash("quota", {"user": alice, "seconds": 15.0}, subcommand="grant", user="mod")
    assert "45 s" in await answer(granted)
    shown = await answer(await server.slash("quota", {"user": alice}, subcommand="show", user="admin"))
    assert "of 45 s" in shown

    env.runner.gate.clear()
    first = await server.slash("imagine", {"prompt": "one"})
    await first.wait_original(lambda m: "Generating" in m.content)
    waiting = await server.slash("imagine", {"prompt": "two"}, user="owner")
    job_id = job_id_of(await waiting.wait_original(lambda m: "#1 in the queue" in m.content))
    listed = await answer(await server.slash("queue", subcommand="list", user="mod"))
    assert job_id in listed and "1 waiting" in listed
    choices = await server.autocomplete("queue", {}, "job", subcommand="cancel", user="mod")
    assert [c["value"] for c in choices] == [job_id]
    cancelled = await server.slash("queue", {"job": job_id}, subcommand="cancel", user="mod")
    assert "Cancelled" in await answer(cancelled)
    await waiting.wait_original(lambda m: "Cancelled" in m.content)
    env.runner.gate.set()
    await env.result(first)

    words = await server.slash("safety", {"word": "Dragon "}, subcommand="words add", user="mod")
    await words.wait_original(lambda m: "dragon" in m.content)
    assert "`dragon`" in await answer(await server.slash("safety", subcommand="words list", user="mod"))
    removed = await server.slash("safety", {"word": "dragon"}, subcommand="words remove", user="mod")
    assert "allowed again" in await answer(removed)
