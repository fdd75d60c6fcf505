"""Long input through localcord: each refusal names what to change, quotes the input only as a
short escaped excerpt, and no message the bot sends is refused by Discord for its size."""

from __future__ import annotations

import pytest

from tests.helpers.bot_env import bot_running, fake_runner
from tests.helpers.discord_answers import answer, assert_nothing_refused


@pytest.fixture
async def env(tmp_path):
    async with bot_running(tmp_path, runner=fake_runner) as env:
        yield env


LONG_INPUT = [
    ("imagine", {"prompt": "a cat --" + "x" * 2500}, ["unknown flag --xxx", "flags are --ar/--aspect"]),
    ("imagine", {"prompt": "a cat", "sampler": "s" * 2100}, ["nknown sampler 'sss", "the samplers are"]),
    ("vary", {"strength": "9" * 3000}, ["Strength must be", "(3,000 digits: far too large)"]),
    ("imagine", {"prompt": "a cat", "model": "m" * 1500}, ["no model called mmm", "models are: tiny"]),
    (
        "imagine",
        {"prompt": "a cat --seed <@1> @everyone " + "*" * 3000},
        [
            "unexpected text '@\u200beveryone \\*\\*",
            "…\\*",
            "\\*' after --seed \\<@1\\>: --seed takes one value",
        ],
    ),
]  # (command, options, what the answer says)


async def test_long_input_is_answered_with_what_to_change(env):
    for command, options, says in LONG_INPUT:
        ix = await env.server.slash(command, options)
        message = await answer(env.server, ix)
        for words in says:
            assert words in message.content, message.content
        assert len(message.content) <= 600 and message.ephemeral
        assert "@everyone" not in message.content and "<@1>" not in message.content  # escaped
    assert_nothing_refused(env.server)
    assert await env.service.user_jobs(env.server.default_user.id) == []


async def test_a_long_prompt_in_job_messages_stays_within_the_limits(env):
    # The longest prompt the config allows, shown in the job's messages from queued to done.
    ix = await env.server.slash("imagine", {"prompt": "a lighthouse " * 76})
    message = await env.result(ix)
    assert "a lighthouse" in message.content and len(message.content) < 600
    info = await env.server.click(f"img:i:{message.custom_ids()[0].split(':')[2]}:0", message)
    shown = await info.wait_original(lambda m: not m.loading)
    assert "Steps:" in shown.content and len(shown.content) <= 2000
    assert_nothing_refused(env.server)
