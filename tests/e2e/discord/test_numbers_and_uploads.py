"""Numbers and uploads from Discord, through localcord: slash options out of range, NaN or infinite
(as a crafted client sends them: `validate=False`) are refused naming the option; /vary's awkward
uploads are refused saying what is wrong, or converted, with a note in the job's message."""

from __future__ import annotations

import math

import pytest

from generation.jobs.types import JobOwner
from tests.helpers import uploads
from tests.helpers.bot_env import bot_running, fake_runner
from tests.helpers.discord_answers import answer, assert_nothing_refused


@pytest.fixture
async def env(tmp_path):
    async with bot_running(tmp_path, runner=fake_runner, daily_seconds=600.0) as env:
        yield env


CAT = {"prompt": "a cat"}
ALICE = {"user": "alice"}
NUMBERS = [  # (command, options, subcommand, what the answer says)
    # prompt flags (parsed by generation.requests: the bot only words what it refuses)
    ("imagine", {"prompt": "a cat --ar " + "9" * 400 + ":1"}, None, "--ar needs a ratio like 16:9, got '999"),
    ("imagine", {"prompt": "a cat --seed " + "7" * 4400}, None, "(4,400 digits: far too large)"),
    ("imagine", {"prompt": "a cat --strength nan"}, None, "got 'nan' (NaN is not a number)"),
    ("imagine", {"prompt": 'a ”b --model "x y"'}, None, "The quote ” in '”b --model' has no partner"),
    # slash options, as a crafted client sends them
    ("imagine", CAT | {"count": 10**30}, None, "(31 digits: far too large); give a number from 1 to 4 for"),
    ("imagine", CAT | {"seed": -(10**20)}, None, "from -1 to 4294967294 for the seed option"),
    ("imagine", CAT | {"steps": 10**12}, None, "(too large); give a number from 1 to 150 for the steps"),
    ("imagine", CAT | {"cfg": math.nan}, None, "'nan' cannot be used (NaN is not a number); give a number"),
    (
        "imagine",
        CAT | {"cfg": -math.inf},
        None,
        "(infinity is not a number you can use); give a number from 0",
    ),
    ("vary", {"job": "abc", "index": 10**20}, None, "give a number from 1 to 4 for the index option"),
    (
        "vary",
        {"job": "abc", "strength": "nan"},
        None,
        "Strength must be above 0 and at most 1, not 'nan' (NaN",
    ),
    ("vary", {"job": "abc", "strength": "1e999"}, None, "not '1e999' (far too large)"),
    (
        "quota",
        ALICE | {"seconds": math.inf},
        "grant",
        "(infinity is not a number you can use); give a number",
    ),
    ("quota", ALICE | {"seconds": 1e308}, "grant", "'1e+308' cannot be used (too large)"),
    (
        "quota",
        ALICE | {"seconds": math.nan},
        "set",
        "(NaN is not a number); give a number from 0 to 10000000",
    ),
]


async def test_numbers_outside_every_range_are_refused_by_name(env):
    alice = JobOwner(env.server.default_user.id, env.server.guild.id)
    for command, options, subcommand, says in NUMBERS:
        user = "mod" if command == "quota" else None
        ix = await env.server.slash(command, options, subcommand=subcommand, user=user, validate=False)
        message = await answer(env.server, ix)
        assert says in message.content, (options, message.content)
    assert await env.service.user_jobs(alice.user_id) == []
    status = await env.service.quota_status(alice)
    assert (status.granted, status.limit) == (0, 600.0)  # no quota changed either
    assert_nothing_refused(env.server)


async def vary_upload(env, filename: str, data: bytes):
    attachment = env.server.add_attachment(data, filename)
    return await env.server.slash("vary", {"image": attachment, "prompt": "a test"})


async def test_awkward_uploads_are_refused_or_converted(env):
    server, service = env.server, env.service
    bomb = await answer(server, await vary_upload(env, "bomb.png", uploads.bomb_png()))
    assert "claims 900,000,000 pixels, far over the limit of 40,000,000" in bomb.content and bomb.ephemeral
    broken = await answer(server, await vary_upload(env, "cut.png", uploads.one_pixel_png()[:40]))
    assert "is broken and cannot be read; save it again as PNG" in broken.content

    made = {}
    for name, data in [
        ("grey16.png", uploads.grey16_png(32768)),
        ("dot.png", uploads.one_pixel_png((200, 30, 30))),
        ("cyan.jpg", uploads.cmyk_jpeg()),
        ("half.png", uploads.half_transparent_png()),
        ("moving.gif", uploads.animated_gif()),
    ]:
        message = await env.result(await vary_upload(env, name, data))
        job = await env.job_for(message)
        made[name] = (
            message.content,
            job,
            uploads.decoded(await service.read_artifact(job.request.source_image)),
        )

    content, job, source = made["grey16.png"]
    assert source.getpixel((3, 3)) == (128, 128, 128)  # mid-grey, not clipped to white
    content, job, source = made["dot.png"]
    assert source.size == (64, 64) and source.getpixel((3, 3)) == (200, 30, 30)
    assert "was only 1x1, so it was scaled up to 64x64" in content  # the note, in the job's message
    defaults = env.settings.defaults
    assert (job.request.width, job.request.height) == (defaults.width, defaults.height)  # as any square
    assert made["cyan.jpg"][2].getpixel((3, 3)) == (0, 255, 255)
    content, job, source = made["half.png"]
    assert source.getpixel((3, 3)) == (0, 0, 255) and source.getpixel((60, 3)) == (255, 255, 255)
    assert "transparent parts were filled with white" in content
    content, job, source = made["moving.gif"]
    assert source.getpixel((3, 3)) == (255, 0, 0) and "animated; only its first frame is used" in content
    assert_nothing_refused(server)
