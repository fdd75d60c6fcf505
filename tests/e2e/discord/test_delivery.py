"""Delivery under pressure (a FakeRunner stands in for the GPU): defers while the GPU is busy,
queue positions, expired tokens, rate limits and server errors, upload limits, restarts."""

from __future__ import annotations

import io
import itertools

import pytest
from PIL import Image

from generation.requests.request import Mode
from localcord import FLAG_EPHEMERAL
from tests.helpers.bot_env import FakeRunner, bot_running, fake_runner, is_result, job_id_of


@pytest.fixture
async def env(tmp_path):
    async with bot_running(tmp_path, runner=fake_runner) as env:
        yield env


async def test_defer_comes_first_even_with_the_gpu_busy(env):
    server, runner = env.server, env.runner
    runner.gate.clear()  # the GPU loop is stuck on the first job
    first = await server.slash("imagine", {"prompt": "a red circle"})
    await first.wait_original(lambda m: "Generating" in m.content)
    second = await server.slash("imagine", {"prompt": "a blue square"}, user="mod")
    callback = await second.wait_response(timeout=3)
    assert callback.type == 5 and callback.elapsed < 1.0
    assert len(runner.calls) == 1  # nothing of the second job ran before its defer
    runner.gate.set()
    await env.result(first)
    await env.result(second)
    assert runner.call_times[1] > callback.call.time  # its generation came after the defer


async def test_queued_message_shows_and_updates_its_position(env):
    server, runner = env.server, env.runner
    runner.gate.clear()
    running = await server.slash("imagine", {"prompt": "one"})
    await running.wait_original(lambda m: "Generating" in m.content)
    second = await server.slash("imagine", {"prompt": "two"}, user="mod")
    third = await server.slash("imagine", {"prompt": "three"}, user="admin")
    await second.wait_original(lambda m: "#1 in the queue" in m.content)
    message = await third.wait_original(lambda m: "#2 in the queue" in m.content)
    assert f"img:c:{job_id_of(message)}:0" in message.custom_ids()  # a cancel button meanwhile

    # The owner cancels the second job: the third moves up, and its message says so.
    second_id = job_id_of(second.original)
    cancel = await server.click(f"img:c:{second_id}:0", second.original, user="mod")
    await cancel.wait_original(lambda m: "Cancelled" in m.content)
    await second.wait_original(lambda m: "Cancelled" in m.content and not m.custom_ids())
    await third.wait_original(lambda m: "#1 in the queue" in m.content)
    runner.gate.set()
    await env.result(third)


async def test_expired_token_falls_back_to_a_channel_message(env):
    server, runner = env.server, env.runner
    runner.gate.clear()
    ix = await server.slash("imagine", {"prompt": "a late circle"})
    await ix.wait_original(lambda m: "Generating" in m.content)
    server.expire(ix)  # webhook calls now answer 401 Invalid Webhook Token
    runner.gate.set()
    user = server.default_user
    posted = await server.wait_for_message(
        lambda m: m.interaction_id is None and m.author.id == server.bot_user.id and is_result(m), timeout=10
    )
    assert f"<@{user.id}>" in posted.content and posted.channel_id == server.channel.id
    assert server.calls_matching(lambda c: c.method == "POST" and c.path.endswith("/messages"))
    await env.bot.delivery.idle()
    job = await env.job_for(posted)
    assert job.meta["delivered"] and job.meta["result_message_id"] == posted.id


async def test_rate_limits_and_server_errors_are_survived(env):
    server = env.server
    server.rate_limit(lambda c: c.method == "PATCH" and c.path.startswith("/webhooks/"), count=2)
    server.fail(lambda c: c.method == "PATCH" and c.path.startswith("/webhooks/"), status=502, count=1)
    ix = await server.slash("imagine", {"prompt": "a stubborn triangle"})
    message = await env.result(ix, timeout=20)
    assert message.attachments
    injected = {c.injected for c in server.calls if c.injected}
    assert {"429", "502"} <= injected


async def test_uploads_fit_a_200_kb_limit(tmp_path):
    def noisy(settings):
        return FakeRunner(noise=True)

    async with bot_running(tmp_path, runner=noisy) as env:
        limit = 200 * 1024
        ix = await env.server.slash(
            "imagine", {"prompt": "static --w 256 --h 256"}, attachment_size_limit=limit
        )
        message = await env.result(ix)
        job = await env.job_for(message)
        assert len(await env.service.read_artifact(job.grid_key)) > limit  # the grid itself would not fit
        sizes = [f.size for c in env.server.calls for f in c.files]
        assert sizes and max(sizes) <= limit
        with Image.open(io.BytesIO(message.attachments[0].data)) as image:
            image.load()


async def test_admin_commands_are_refused_to_others(env):
    server = env.server
    refused = await server.slash("queue", subcommand="pause")
    message = await refused.wait_original(lambda m: not m.loading)
    assert "Only admins" in message.content and message.flags & FLAG_EPHEMERAL
    assert not env.service.paused
    # Discord hides nothing from a crafted client: the permission check is the bot's own
    sneaky = await server.slash("model", subcommand="switch", options={"name": "other"})
    assert "Only admins" in (await sneaky.wait_original(lambda m: not m.loading)).content
    assert env.service.active_model == "tiny"

    allowed = await server.slash("queue", subcommand="pause", user="mod")  # Manage Server
    assert "paused" in (await allowed.wait_original(lambda m: not m.loading)).content
    assert env.service.paused
    listed = await server.slash("model", subcommand="list", user="admin")
    assert "`tiny` (active)" in (await listed.wait_original(lambda m: not m.loading)).content
    choices = await server.autocomplete("model", {"name": "ot"}, "name", subcommand="switch", user="mod")
    assert [c["value"] for c in choices] == ["other"]


async def test_banned_words_refuse_the_prompt(tmp_path):
    async with bot_running(tmp_path, runner=fake_runner, banned_words=("forbidden",)) as env:
        server = env.server
        ix = await server.slash("imagine", {"prompt": "a Forbidden fruit"})
        refusal = await ix.wait_followup(lambda m: "forbidden" in m.content)
        # the public "thinking" message goes, once the private refusal was accepted
        await server.wait_for(lambda: ix.original is None)
        assert refusal.ephemeral and ix.original is None

        added = await server.slash("safety", {"word": "castle"}, subcommand="words add", user="mod")
        await added.wait_original(lambda m: "castle" in m.content)
        again = await server.slash("imagine", {"prompt": "a sand castle"})
        assert "castle" in (await again.wait_followup()).content
        assert await env.service.user_jobs(server.default_user.id) == []
        fine = await server.slash("imagine", {"prompt": "a glass of water"})
        await env.result(fine)


async def test_show_after_a_restart_keeps_buttons_working(env):
    server = env.server
    ix = await server.slash("imagine", {"prompt": "a lasting star"})
    job_id = job_id_of(await env.result(ix))

    await env.restart(FakeRunner())  # a new bot and service on the same database
    shown = await server.slash("show", {"job": job_id}, user="mod")
    message = await env.result(shown)
    assert job_id in message.content and f"img:u:{job_id}:3" in message.custom_ids()
    choices = await server.autocomplete("show", {}, "job")
    assert job_id in [c["value"] for c in choices]

    # the original message's buttons work too, after the restart
    up = await server.click(f"img:u:{job_id}:1", ix.original, user="mod")
    up_job = await env.job_for(await env.result(up))
    assert up_job.request.mode is Mode.UPSCALE and up_job.parent_id == job_id
    info = await server.slash("info")
    text = (await info.wait_original(lambda m: not m.loading)).content
    assert job_id in text and "Unlimited" in text and "`tiny`" in text


async def test_a_result_never_posted_before_a_crash_is_posted_after_the_restart(env):
    server = env.server
    ix = await server.slash("imagine", {"prompt": "a late letter"})
    job_id = job_id_of(await env.result(ix))
    # As if the process died between the job's end and its message: the store says undelivered.
    await env.service.update_meta(job_id, delivered=False)
    await env.stop()
    since = server.now()

    await env.restart(FakeRunner())
    message = await server.wait_for_message(
        lambda m: is_result(m) and job_id_of(m) == job_id, since=since, timeout=20
    )
    assert message.id == ix.original_message_id  # edited in place while the token works
    assert (await env.service.get_job(job_id)).meta["delivered"] is True

    # Delivered once: a further restart posts nothing for it.
    since = server.now()
    await env.restart(FakeRunner())
    await env.bot.delivery.idle()
    assert not server.calls_matching(lambda c: c.method == "PATCH", since=since)


async def test_delete_is_for_the_owner_or_an_admin(env):
    server = env.server
    bob = server.add_user("bob", guild=server.guild)
    message = await env.result(await server.slash("imagine", {"prompt": "a fragile cube"}))
    job_id = job_id_of(message)
    refused = await server.click(f"img:d:{job_id}:0", message, user=bob)
    assert "Only the person" in (await refused.wait_original(lambda m: not m.loading)).content
    assert not server.message(message.id).deleted
    deleted = await server.click(f"img:d:{job_id}:0", message)  # alice, who made it
    await deleted.wait_original(lambda m: "Deleted" in m.content)
    assert server.message(message.id).deleted


async def test_progress_edits_are_coalesced(tmp_path):
    def slow(settings):
        return FakeRunner(step_seconds=0.05)

    async with bot_running(tmp_path, runner=slow, progress_interval=0.3) as env:
        server = env.server
        choices = await server.autocomplete("imagine", {"prompt": "x", "sampler": "dpm++ 2m"}, "sampler")
        assert "DPM++ 2M Karras" in [c["value"] for c in choices]
        ix = await server.slash("imagine", {"prompt": "a patient circle", "steps": 30})
        await env.result(ix)
        edits = [c.time for c in server.calls if c.method == "PATCH" and ix.token in c.path]
        gaps = [b - a for a, b in itertools.pairwise(edits[:-1])]  # the final edit goes at once
        assert len(edits) < 30 / 2 and min(gaps) >= 0.3 * 0.9, gaps
        states = [h["content"] for h in ix.original.history]
        assert any("Generating: step" in text for text in states)


async def test_vary_from_a_past_job(env):
    server = env.server
    first = await env.job_for(await env.result(await server.slash("imagine", {"prompt": "a green star"})))
    choices = await server.autocomplete("vary", {}, "job")
    assert first.id in [c["value"] for c in choices]
    options = {"job": first.id, "index": 2, "prompt": "a gold star --seed 7", "strength": "0.4"}
    ix = await server.slash("vary", options, user="mod")
    job = await env.job_for(await env.result(ix))
    assert (job.request.mode, job.parent_id, job.request.seed) == (Mode.IMG2IMG, first.id, 7)
    assert job.request.source_image == first.images[1].key
    assert job.request.prompt == "a gold star" and job.request.strength == 0.4
    missing = await server.slash("vary", {"job": "nosuchjob00"})
    assert "no job" in (await missing.wait_followup()).content
