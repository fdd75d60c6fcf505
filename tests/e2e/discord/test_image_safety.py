"""The image check through Discord (localcord): /safety images and /safety channel, flagged images
blocked or spoilered, NSFW channels exempt, a failing detector, and the real NudeNet offline.

The fake runner paints each image the colour its prompt names, and the injected `ColourDetector`
flags red pictures: "a red circle" is flagged, "a blue circle" is not.
"""

from __future__ import annotations

import io
import socket

import pytest
from PIL import Image

from generation.safety.check import SafetyMode
from tests.helpers.bot_env import bot_running, fake_runner, is_result, job_id_of
from tests.helpers.detectors import BrokenDetector, ColourDetector
from tests.helpers.discord_answers import answer as private_answer

pytestmark = pytest.mark.timeout(120)

RED, BLUE = (220, 40, 40), (40, 70, 220)


@pytest.fixture
async def env(tmp_path):
    async with bot_running(tmp_path, runner=fake_runner) as env:
        env.service.use_detector(ColourDetector())
        yield env


async def answer(ix) -> str:
    return (await ix.wait_original(lambda m: not m.loading)).content


async def posted(ix):
    """The interaction's message once it carries the finished result (an image and its job)."""
    return await ix.wait_original(
        lambda m: bool(m.attachments) and any(c.startswith("img:i:") for c in m.custom_ids()), timeout=60
    )


def colours(message) -> set[tuple[int, int, int]]:
    with Image.open(io.BytesIO(message.attachments[0].data)) as image:
        return {colour for _, colour in image.convert("RGB").getcolors(1 << 16)}


async def test_block_hides_flagged_images_with_a_reason_everywhere_they_would_show(env):
    server = env.server
    said = await answer(await server.slash("safety", {"mode": "block"}, subcommand="images", user="mod"))
    assert "replaced with a placeholder" in said and "NSFW channels are not checked" in said

    red = await posted(await server.slash("imagine", {"prompt": "a red circle"}))
    assert RED not in colours(red)  # all four replaced
    assert "hidden" in red.content and "image check" in red.content
    job_id = job_id_of(red)
    assert not any(c.startswith(("img:u:", "img:v:")) for c in red.custom_ids())  # nothing to upscale
    assert f"img:r:{job_id}:0" in red.custom_ids()  # a reroll is a new job, checked again
    job = await env.service.get_job(job_id)
    assert job.image_check.mode is SafetyMode.BLOCK and job.image_check.flagged == (0, 1, 2, 3)

    info = await server.click(f"img:i:{job_id}:0", red)
    shown = await info.wait_original(lambda m: "Image check" in m.content)
    assert "block" in shown.content and "Image 1: flagged (female_breast_exposed 0.91)" in shown.content

    # Its buttons are gone, and /vary by job and number is refused too: nothing is made from it.
    refused = (await private_answer(server, await server.slash("vary", {"job": job_id, "index": 3}))).content
    assert "Image 3 of job" in refused and "hidden by this server's image check" in refused
    assert [j.id for j in await env.service.user_jobs(server.default_user.id)] == [job_id]  # nothing made

    again = await server.slash("show", {"job": job_id})  # posting it again shows no more
    assert RED not in colours(await posted(again))

    blue = await env.result(await server.slash("imagine", {"prompt": "a blue circle"}))
    assert BLUE in colours(blue) and "image check" not in blue.content
    assert not blue.attachments[0].filename.startswith("SPOILER_")


async def test_nsfw_channels_are_exempt_and_a_channel_override_wins(env):
    server = env.server
    await answer(await server.slash("safety", {"mode": "block"}, subcommand="images", user="mod"))
    nsfw = await env.result(await server.slash("imagine", {"prompt": "a red circle"}, channel="nsfw"))
    assert RED in colours(nsfw) and "image check" not in nsfw.content
    assert (await env.job_for(nsfw)).image_check is None  # exempt: not even checked

    said = await answer(await server.slash("safety", {"mode": "off"}, subcommand="channel", user="mod"))
    assert "not checked" in said and f"<#{server.channel.id}>" in said
    general = await env.result(await server.slash("imagine", {"prompt": "a red circle"}))
    assert RED in colours(general)

    opts = {"mode": "block", "channel": "nsfw"}
    await answer(await server.slash("safety", opts, subcommand="channel", user="mod"))
    in_nsfw = await posted(await server.slash("imagine", {"prompt": "a red circle"}, channel="nsfw"))
    assert RED not in colours(in_nsfw)  # the channel's own setting over the NSFW exemption

    said = await answer(await server.slash("safety", {"mode": "server"}, subcommand="channel", user="mod"))
    assert "follows the server again" in said
    back = await posted(await server.slash("imagine", {"prompt": "a red circle"}))
    assert RED not in colours(back)


async def test_spoiler_posts_flagged_images_as_spoilers_with_a_note(env):
    server = env.server
    await answer(await server.slash("safety", {"mode": "spoiler"}, subcommand="images", user="mod"))
    red = await env.result(await server.slash("imagine", {"prompt": "a red circle"}))
    assert red.attachments[0].filename.startswith("SPOILER_") and RED in colours(red)
    assert "Posted as a spoiler" in red.content and "all the images" in red.content
    blue = await env.result(await server.slash("imagine", {"prompt": "a blue circle"}))
    assert not blue.attachments[0].filename.startswith("SPOILER_")
    assert (await env.job_for(blue)).image_check.action is SafetyMode.OFF  # checked, nothing flagged


async def test_a_failing_detector_hides_the_images_under_block_and_says_so(env):
    server = env.server
    env.service.use_detector(BrokenDetector())
    await answer(await server.slash("safety", {"mode": "block"}, subcommand="images", user="mod"))
    blue = await posted(await server.slash("imagine", {"prompt": "a blue circle"}))
    assert BLUE not in colours(blue) and "could not run" in blue.content
    assert (await env.job_for(blue)).image_check.failed


async def test_the_real_detector_loads_offline_and_runs(tmp_path, monkeypatch, tiny_model_dir):
    """NudeNet's own model from its wheel on images the tiny model generated (about 2 s: cv2 and
    onnxruntime load, then some 30 ms an image); any look-up of a host other than this machine
    fails the test."""
    real_getaddrinfo = socket.getaddrinfo

    def local_only(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost", "::1", None):
            raise AssertionError(f"the network was asked for {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", local_only)
    async with bot_running(tmp_path, tiny_model_dir.parent) as env:
        server = env.server
        await answer(await server.slash("safety", {"mode": "spoiler"}, subcommand="images", user="mod"))
        message = await env.result(await server.slash("imagine", {"prompt": "a red circle --n 2 --seed 5"}))
        job = await env.job_for(message)
    check = job.image_check
    assert check is not None and not check.failed, check
    assert check.detector.startswith("nudenet 3.4") and len(check.images) == len(job.images) == 2
    for verdict in check.images:  # real scores, decided as the settings say
        assert all(0.0 < score <= 1.0 for score in verdict.scores.values())
        assert verdict.flagged == any(
            verdict.scores.get(label, 0) >= check.threshold for label in check.labels
        )
    assert message.attachments[0].filename.startswith("SPOILER_") == bool(check.flagged)


async def test_a_follow_up_clicked_in_a_dm_keeps_its_servers_check(env):
    server = env.server
    user = server.default_user
    await answer(await server.slash("safety", {"mode": "spoiler"}, subcommand="images", user="mod"))
    panel = await (await server.slash("settings")).wait_original(lambda m: m.custom_ids())
    await (await server.click(f"prf:private:{user.id}", panel)).wait_response()  # results by DM
    await server.slash("imagine", {"prompt": "a blue circle"})
    dm = server.dm_channel(user)
    posted = await server.wait_for_message(is_result, channel=dm, timeout=20)
    job = await env.job_for(posted)
    assert job.image_check.mode is SafetyMode.SPOILER  # the server's rule, though the config's is off

    await server.click(f"img:v:{job.id}:0", posted)  # in the DM: no server, no channel
    child = await env.job_for(
        await server.wait_for_message(lambda m: is_result(m) and m.id != posted.id, channel=dm, timeout=20)
    )
    assert child.parent_id == job.id and child.image_check.mode is SafetyMode.SPOILER
