"""Who sees a job, through localcord: another server's and another user's DM jobs stay hidden from
/vary, /show and /queue; admin autocomplete answers non-admins with nothing. (A click on a button
its message does not carry never reaches the bot: discord.py drops it; tests/unit/bot/test_access.py
checks the rule the buttons use.)"""

from __future__ import annotations

import pytest

from tests.helpers.bot_env import bot_running, fake_runner, job_id_of
from tests.helpers.discord_answers import answer, assert_nothing_refused

SECRET = "a secret lighthouse"


@pytest.fixture
async def env(tmp_path):
    async with bot_running(tmp_path, runner=fake_runner, banned_words=("everywhere",)) as env:
        yield env


@pytest.fixture
def elsewhere(env):
    """A second server, owned (so administered) by carol, with bob as a plain member."""
    server = env.server
    carol = server.add_user("carol")
    guild = server.add_guild("Other Guild", owner=carol)
    server.add_channel(guild, "general")
    bob = server.add_user("bob", guild=guild)
    return guild, carol, bob


async def made(env, **where) -> str:
    return job_id_of(await env.result(await env.server.slash("imagine", {"prompt": SECRET}, **where)))


async def refused(env, ix) -> str:
    message = await answer(env.server, ix)
    assert SECRET not in message.content and "lighthouse" not in message.content, message.content
    return message.content


async def test_another_servers_job_is_not_shown_or_varied(env, elsewhere):
    guild, carol, bob = elsewhere
    job_id = await made(env)  # alice, in the default server
    for user in (bob, carol):  # a member and the admin of the other server
        vary = await env.server.slash("vary", {"job": job_id}, user=user, guild=guild)
        assert f"no job `{job_id}` you can see" in await refused(env, vary)
        show = await env.server.slash("show", {"job": job_id}, user=user, guild=guild)
        assert f"no job `{job_id}` you can see" in await refused(env, show)
    assert await env.service.user_jobs(bob.id) == [] and await env.service.user_jobs(carol.id) == []
    # in the server it was made in, any member may vary it
    mod = await env.server.slash("vary", {"job": job_id}, user="mod")
    assert (await env.job_for(await env.result(mod))).parent_id == job_id
    assert_nothing_refused(env.server)


async def test_another_users_dm_job_is_theirs_alone(env):
    job_id = await made(env, guild=None)  # alice, in a DM
    for where in ({"guild": None}, {}):  # bob in his DM, and in the server alice is in too
        bob = env.server.get_user("mod")
        vary = await env.server.slash("vary", {"job": job_id}, user=bob, **where)
        assert "you can see" in await refused(env, vary)
    mine = await env.server.slash("vary", {"job": job_id}, guild=None)
    assert (await env.job_for(await env.result(mine))).parent_id == job_id


async def test_admin_autocomplete_answers_non_admins_with_nothing(env, elsewhere):
    guild, carol, bob = elsewhere
    server, runner = env.server, env.runner
    added = await server.slash("safety", {"word": "dragon"}, subcommand="words add", user="mod")
    await added.wait_original(lambda m: "dragon" in m.content)
    runner.gate.clear()
    running = await server.slash("imagine", {"prompt": "one"}, user="mod")
    await running.wait_original(lambda m: "Generating" in m.content)
    waiting = job_id_of(
        await (await server.slash("imagine", {"prompt": SECRET})).wait_original(
            lambda m: "#1 in the queue" in m.content
        )
    )

    for user in ("alice", bob):
        assert await server.autocomplete("queue", {}, "job", subcommand="cancel", user=user) == []
        assert await server.autocomplete("model", {}, "name", subcommand="switch", user=user) == []
    assert await server.autocomplete("safety", {}, "word", subcommand="words remove") == []
    # admins get them, but only the jobs of their own server
    admin = await server.autocomplete("queue", {}, "job", subcommand="cancel", user="mod")
    assert [c["value"] for c in admin] == [waiting]
    assert await server.autocomplete("queue", {}, "job", subcommand="cancel", user=carol, guild=guild) == []
    words = await server.autocomplete("safety", {}, "word", subcommand="words remove", user="mod")
    assert [c["value"] for c in words] == ["dragon"]
    listed = await answer(server, await server.slash("queue", subcommand="list", user=carol, guild=guild))
    assert waiting in listed.content and "another server" in listed.content
    assert SECRET not in listed.content
    cancel = await server.slash("queue", {"job": waiting}, subcommand="cancel", user=carol, guild=guild)
    assert "you can see" in await refused(env, cancel)
    assert env.service.position(waiting) is not None  # still waiting
    runner.gate.set()
    await env.result(running)
