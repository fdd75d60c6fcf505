"""/settings through localcord (the fake runner): the panel edits itself in place, its values
apply to the next /imagine under the prompt's flags, survive a restart, and private results go by
DM."""

from __future__ import annotations

import pytest

from localcord import FLAG_EPHEMERAL
from tests.helpers.bot_env import bot_running, fake_runner, is_result


@pytest.fixture
async def env(tmp_path):
    # 128x128 by default, so that a 16:9 within the default area is still above the minimum side
    async with bot_running(tmp_path, runner=fake_runner, defaults={"width": 128, "height": 128}) as env:
        yield env


async def test_settings_apply_to_imagine_and_survive_a_restart(env):
    server = env.server
    uid = server.default_user.id
    ix = await server.slash("settings")
    panel = await ix.wait_original(lambda m: f"prf:sampler:{uid}" in m.custom_ids())
    assert panel.ephemeral and "Your defaults" in panel.content

    for field, value in (("sampler", "DDIM"), ("aspect", "16:9"), ("count", "2"), ("model", "other")):
        click = await server.click(f"prf:{field}:{uid}", panel, values=[value])
        await click.wait_response()
        assert click.response.type == 7  # the panel itself is edited
    more = await server.click(f"prf:more:{uid}", panel)
    await more.wait_response()
    assert more.response.type == 9  # the form for steps, CFG and style
    form = await server.submit_modal(more, {"steps": "7", "cfg": "5.5", "style": "ink wash"})
    await form.wait_response()
    remix = await server.click(f"prf:remix:{uid}", panel)
    await remix.wait_response()
    shown = server.message(panel.id)
    assert "**DDIM**" in shown.content and "**7**" in shown.content and "**5.5**" in shown.content
    assert "**ink wash**" in shown.content and "Remix: **on**" in shown.content
    assert shown.button("Remix: on")["style"] == 3  # green while on

    first = await env.job_for(await env.result(await server.slash("imagine", {"prompt": "a red circle"})))
    request = first.request
    assert (request.sampler, request.steps, request.cfg_scale, request.count) == ("DDIM", 7, 5.5, 2)
    assert request.width > request.height and request.model == "other"
    # flags and options still win over the settings
    flagged = await server.slash("imagine", {"prompt": "a red circle --steps 3 --ar 1:1", "count": 1})
    request = (await env.job_for(await env.result(flagged))).request
    assert (request.steps, request.count, request.width, request.height) == (3, 1, 128, 128)
    # someone else's /imagine is untouched
    other = await server.slash("imagine", {"prompt": "a blue square"}, user="mod")
    request = (await env.job_for(await env.result(other))).request
    assert (request.sampler, request.steps, request.count) == ("Euler", 2, 4)

    await env.restart()
    again = await env.job_for(await env.result(await server.slash("imagine", {"prompt": "a red circle"})))
    assert (again.request.sampler, again.request.steps, again.request.count) == ("DDIM", 7, 2)
    # the panel posted before the restart still works, and Reset goes back to the server's defaults
    reset = await server.click(f"prf:reset:{uid}", panel)
    await reset.wait_response()
    assert "**DDIM**" not in server.message(panel.id).content
    plain = await env.job_for(await env.result(await server.slash("imagine", {"prompt": "a red circle"})))
    assert (plain.request.sampler, plain.request.steps, plain.request.count) == ("Euler", 2, 4)


async def test_bad_form_values_are_refused_and_kept_out(env):
    server = env.server
    uid = server.default_user.id
    panel = await (await server.slash("settings")).wait_original(lambda m: m.custom_ids())
    more = await server.click(f"prf:more:{uid}", panel)
    await more.wait_response()
    form = await server.submit_modal(more, {"steps": "999", "cfg": "", "style": ""})
    answer = await form.wait_original()
    assert "Steps must be a whole number from 1 to" in answer.content and answer.ephemeral
    assert await env.service.user_settings(uid) == {}
    # another user cannot use this panel
    sneaky = await server.click(f"prf:remix:{uid}", panel, user="mod")
    assert "someone else's" in (await sneaky.wait_original()).content
    assert await env.service.user_settings(uid) == {}


async def test_private_results_go_by_dm(env):
    server = env.server
    user = server.default_user
    panel = await (await server.slash("settings")).wait_original(lambda m: m.custom_ids())
    await (await server.click(f"prf:private:{user.id}", panel)).wait_response()
    ix = await server.slash("imagine", {"prompt": "a green circle"})
    dm = server.dm_channel(user)
    posted = await server.wait_for_message(is_result, channel=dm, timeout=20)
    note = await ix.wait_original(lambda m: "direct messages" in m.content)
    assert note.flags & FLAG_EPHEMERAL and not note.attachments
    assert posted.id != note.id and f"/{posted.id}" in note.content
    assert not [m for m in server.channel_messages(server.channel) if is_result(m)]  # none in #general
    job = await env.job_for(posted)
    assert job.meta["private"] and job.meta["result_channel_id"] == dm.id
    # a button on the DM'd result makes another private job
    up = await server.click(f"img:u:{job.id}:0", posted)
    up_job = await env.job_for(
        await server.wait_for_message(lambda m: is_result(m) and m.id != posted.id, channel=dm, timeout=20)
    )
    assert up_job.parent_id == job.id and up.response.type == 5
