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


NUMBERS = [
    (
        "imagine",
        {"prompt": "a cat", "count": 10**30},
        None,
        "count option must be between 1 and 4, not a 31-digit number.",
    ),
    (
        "imagine",
        {"prompt": "a cat", "seed": -(10**20)},
        None,
        "seed option must be between -1 and 4294967294",
    ),
    ("imagine", {"prompt": "a cat", "steps": 10**12}, None, "steps option must be between 1 and 150"),
    ("imagine", {"prompt": "a cat", "cfg": math.nan}, None, "cfg option must be a finite number, not nan"),
    ("imagine", {"prompt": "a cat", "cfg": -math.inf}, None, "cfg option must be a finite number, not -inf"),
    ("vary", {"job": "abc", "index": 10**20}, None, "index option must be between 1 and 4"),
    ("vary", {"job": "abc", "strength": "nan"}, None, "'nan' is not a finite number"),
    ("vary", {"job": "abc", "strength": "1e99"}, None, "at most 1, not 1e+99"),
    ("vary", {"job": "abc", "strength": "1e999"}, None, "or a number like 0.5, not '1e999'"),
    ("quota", {"user": "alice", "seconds": math.inf}, "grant", "seconds option must be a finite number"),
    ("quota", {"user": "alice", "seconds": 1e308}, "grant", "between -10000000 and 10000000, not 1e+308"),
    ("quota", {"user": "alice", "seconds": math.nan}, "set", "seconds option must be a finite number"),
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
    assert "900,000,000 pixels; the most I take is 40,000,000" in bomb.content and bomb.ephemeral
    broken = await answer(server, await vary_upload(env, "cut.png", uploads.one_pixel_png()[:40]))
    assert "not an image I can read" in broken.content

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
    assert "was 1x1" in content and "scaled up to 64x64" in content  # the note, in the job's message
    defaults = env.settings.defaults
    assert (job.request.width, job.request.height) == (defaults.width, defaults.height)  # as any square
    assert made["cyan.jpg"][2].getpixel((3, 3)) == (0, 255, 255)
    content, job, source = made["half.png"]
    assert source.getpixel((3, 3)) == (0, 0, 255) and source.getpixel((60, 3)) == (255, 255, 255)
    assert "transparent parts were filled with white" in content
    content, job, source = made["moving.gif"]
    assert source.getpixel((3, 3)) == (255, 0, 0) and "its first frame was used" in content
    assert_nothing_refused(server)
