"""A bot (the fake runner) with the mask editor page on, and the steps to reach the page."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import discord.gateway
import discord.http

from localcord import LocalDiscord
from tests.helpers.bot_env import BotEnv, fake_runner, make_discord_settings, make_settings

SECRET = "a-secret-for-the-page-tests-0123456789"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.asynccontextmanager
async def web_bot(tmp: Path, *, max_upload_bytes: int = 65536) -> AsyncIterator[BotEnv]:
    """localcord + service + bot, the page on a free port (IMAGINE_WEB_SECRET set by the caller)."""
    assert os.environ.get("IMAGINE_WEB_SECRET")
    port = free_port()
    saved = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    async with LocalDiscord() as server:
        settings = make_settings(tmp, tmp / "models")
        web = {
            "public_url": f"http://127.0.0.1:{port}",
            "listen": f"127.0.0.1:{port}",
            "max_upload_bytes": max_upload_bytes,
        }
        settings = settings.replace(front_ends={**settings.front_ends, "web": web})
        env = BotEnv(server, settings, make_discord_settings(server), fake_runner(settings))
        try:
            await env.start()
            yield env
        finally:
            await env.stop()
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved
    assert not server.errors, f"localcord internal errors: {server.errors!r}"


async def upscaled(env: BotEnv, user: str = "mod"):
    """An /imagine and its U1 (by `user`): the upscale's message and job (128x128: the page shows
    it 6x, 768 px wide)."""
    server = env.server
    grid = await env.result(await server.slash("imagine", {"prompt": "a red circle --seed 5"}))
    job = await env.job_for(grid)
    message = await env.result(await server.click(f"img:u:{job.id}:0", grid, user=user))
    return message, await env.job_for(message)


async def region_link(env: BotEnv, message, job, user: str = "mod") -> str:
    """Click Vary (Region): the URL of the link button on the ephemeral reply."""
    ix = await env.server.click(f"ed:g:{job.id}:0", message, user=user)
    picker = await ix.wait_original(lambda m: m.attachments)
    links = [b["url"] for b in picker.buttons() if b.get("style") == 5]
    assert len(links) == 1, picker.buttons()
    return links[0]
