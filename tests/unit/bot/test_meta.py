"""DeliveryMeta: what the bot keeps with a job, written and read back, old dicts included."""

from __future__ import annotations

import discord

from bot.meta import DeliveryMeta, upscale_depth
from generation.requests.request import Mode
from tests.helpers.jobs import make_job

# What the bot wrote before DeliveryMeta existed: interaction_meta at submit, patches by delivery.
OLD_META = {
    "user_id": 7,
    "guild_id": 8,
    "channel_id": 9,
    "application_id": 10,
    "token": "tok",
    "token_time": 1700000000.5,
    "filesize_limit": 8388608,
    "spoiler": True,
    "depth": 1,
    "message_id": 12,
    "delivered": True,
    "result_message_id": 13,
    "result_channel_id": 9,
}


def test_old_meta_dicts_parse():
    meta = DeliveryMeta.from_dict(OLD_META)
    assert (meta.user_id, meta.guild_id, meta.channel_id, meta.application_id) == (7, 8, 9, 10)
    assert (meta.token, meta.token_time, meta.filesize_limit, meta.spoiler) == (
        "tok",
        1700000000.5,
        8388608,
        True,
    )
    assert (meta.depth, meta.message_id, meta.delivered) == (1, 12, True)
    assert (meta.result_message_id, meta.result_channel_id) == (13, 9)
    assert meta.to_dict() == OLD_META | {"private": False}  # old metas read as not private
    # Just submitted (no patches yet), or a job the bot never touched
    fresh = DeliveryMeta.from_dict({k: OLD_META[k] for k in list(OLD_META)[:9]} | {"guild_id": None})
    assert fresh.message_id is None and not fresh.delivered and fresh.guild_id is None
    empty = DeliveryMeta.from_dict(None)
    assert empty == DeliveryMeta() and not empty.reachable
    assert empty.filesize_limit == discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES
    assert DeliveryMeta.from_dict({"depth": None, "filesize_limit": 0, "channel_id": "5"}).channel_id == 5


def test_the_owner_stands_in_for_a_user_not_recorded():
    job = make_job()
    assert DeliveryMeta.of(job.replace(meta={"channel_id": 5})).user_id == job.owner.user_id
    assert DeliveryMeta.of(job.replace(meta={"channel_id": 5, "user_id": 3})).user_id == 3


def test_depth_counts_upscales_behind_an_image():
    job = make_job()
    assert DeliveryMeta.of(job).depth == 0 and upscale_depth(job) == 1
    upscaled = make_job(job.request.replace(mode=Mode.UPSCALE, count=1), depth=1, count=1)
    assert upscale_depth(upscaled) == 2
