"""The buttons under a result carry their job and image; upscales get vary subtle/strong."""

from __future__ import annotations

from bot.buttons import CUSTOM_ID, ResultButton, custom_id
from bot.settings import DiscordSettings
from bot.ui.views import result_view
from generation.requests.request import Mode
from tests.helpers.jobs import make_job


def test_result_buttons_carry_job_and_image():
    settings = DiscordSettings()
    ids = [item.custom_id for item in result_view(make_job(), settings).children]
    assert ids[:8] == [custom_id("u", "abcdefgh23", i) for i in range(4)] + [
        custom_id("v", "abcdefgh23", i) for i in range(4)
    ]
    assert {custom_id(a, "abcdefgh23") for a in "rid"} <= set(ids)
    assert all(len(i) <= 100 and ResultButton.__discord_ui_compiled_template__.fullmatch(i) for i in ids)
    assert CUSTOM_ID.startswith("img:")
    up = make_job(make_job().request.replace(mode=Mode.UPSCALE, count=1), depth=1, count=1)
    up_ids = [item.custom_id for item in result_view(up, settings).children]
    assert custom_id("s", up.id) in up_ids and custom_id("t", up.id) in up_ids
    assert custom_id("u", up.id) in up_ids  # depth 1 < max_upscale_depth 2
    deepest = make_job(up.request, depth=settings.max_upscale_depth, count=1)
    assert custom_id("u", up.id) not in [i.custom_id for i in result_view(deepest, settings).children]
