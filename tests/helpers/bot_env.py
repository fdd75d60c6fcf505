"""Shared fixtures for the bot tests: localcord + service + bot, in-process, on tmp paths.

    async with bot_running(tmp_path, tiny_model_dir.parent) as env:   # the tiny model
        ix = await env.server.slash("imagine", {"prompt": "a red circle"})
        message = await env.result(ix)

`bot_running(tmp_path, runner=fake_runner)` runs the shared `FakeRunner` (generation.workers.fakes)
instead of the tiny model: flat-colour (or noise) images made without torch, with a `gate` that
holds the GPU loop, for tests about timing and the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import discord
import discord.gateway
import discord.http

from bot.app import ImagineBot
from bot.settings import DiscordSettings
from generation.jobs.service import JobService
from generation.jobs.types import Job
from generation.settings import PathSettings, Settings, load_settings
from generation.workers.fakes import FakeRunner
from generation.workers.runner import PipelineRunner
from localcord import LocalDiscord, StoredMessage

RESULT_TIMEOUT = 60.0  # a tiny-model job on a busy 2-core machine


def make_settings(
    tmp: Path, models_dir: Path, *, model: str = "tiny", daily_seconds: float = 0.0
) -> Settings:
    """The shipped config, pointed at tmp paths and a tiny, fast generation."""
    base = load_settings()
    return base.replace(
        paths=PathSettings(models_dir=models_dir, outputs_dir=tmp / "outputs", database=tmp / "bot.sqlite3"),
        models=dataclasses.replace(base.models, default=model, device="cpu", dtype="float32"),
        defaults=dataclasses.replace(
            base.defaults,
            width=64,
            height=64,
            steps=2,
            sampler="Euler",
            count=4,
            img2img_strength=0.5,
            upscale_strength=0.5,
        ),
        quota=dataclasses.replace(base.quota, daily_seconds=daily_seconds),
    )


def make_discord_settings(server: Any = None, **changes: Any) -> DiscordSettings:
    """The shipped config's [discord] table, pointed at `server`, with quick progress edits."""
    settings = dataclasses.replace(
        DiscordSettings.from_settings(load_settings()), **({"progress_interval": 0.2} | changes)
    )
    if server is not None:
        settings = dataclasses.replace(settings, api_base=server.api_base, gateway_url=server.gateway_url)
    return settings


def fake_runner(settings: Settings | None = None) -> FakeRunner:
    """A runner factory for `bot_running(runner=...)`: the shared fake, no model, no torch."""
    return FakeRunner()


@dataclasses.dataclass
class BotEnv:
    """A running server, service and bot (one 'process' of the bot)."""

    server: LocalDiscord
    settings: Settings
    discord_settings: DiscordSettings
    runner: Any
    bot_class: type[ImagineBot] = ImagineBot  # a test's subclass, to change the command tree
    service: JobService | None = None
    bot: ImagineBot | None = None
    task: asyncio.Task[None] | None = None

    service_class: Any = JobService  # or ClusterService: anything with `open(settings, runner=)`
    ready_timeout: float = 20.0

    async def start(self) -> BotEnv:
        self.service = await self.service_class.open(self.settings, runner=self.runner)
        self.bot = self.bot_class(self.settings, self.discord_settings, self.service)
        self.task = asyncio.create_task(self.bot.start(self.server.token), name="bot")
        ready = asyncio.create_task(self.bot.wait_until_ready())
        done, _ = await asyncio.wait(
            {ready, self.task}, timeout=self.ready_timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if ready not in done:
            ready.cancel()
            if self.task in done:
                self.task.result()
            raise TimeoutError("the bot did not become ready")
        return self

    async def stop(self) -> None:
        if self.bot is not None and not self.bot.is_closed():
            await self.bot.close()
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self.task, 10)
        if self.service is not None:
            await self.service.close()

    async def restart(self, runner: Any = None) -> BotEnv:
        """A new bot and service on the same database, as after a restart."""
        await self.stop()
        self.runner = runner or self.runner
        self.service = self.bot = self.task = None
        return await self.start()

    # -- helpers ----------------------------------------------------------------------------

    async def result(self, ix, timeout: float = RESULT_TIMEOUT) -> StoredMessage:
        """The interaction's message once it shows a finished result (an image and buttons)."""
        return await ix.wait_original(is_result, timeout=timeout)

    async def job_for(self, message: StoredMessage) -> Job:
        job_id = job_id_of(message)
        assert self.service is not None
        job = await self.service.get_job(job_id)
        assert job is not None, job_id
        return job


def is_result(message: StoredMessage) -> bool:
    return bool(message.attachments) and any(
        c.startswith("img:u:") or c.startswith("img:s:") for c in message.custom_ids()
    )


def job_id_of(message: StoredMessage) -> str:
    for custom_id in message.custom_ids():
        if custom_id.startswith("img:"):
            return custom_id.split(":")[2]
    raise AssertionError(f"no job buttons on {message.content!r}")


@contextlib.asynccontextmanager
async def bot_running(
    tmp: Path,
    models_dir: Path | None = None,
    *,
    runner: Callable[[Settings], Any] | None = None,
    server_options: dict[str, Any] | None = None,
    daily_seconds: float = 0.0,
    defaults: dict[str, Any] | None = None,
    configure: Callable[[Settings], Settings] | None = None,
    **discord_settings: Any,
):
    """A started server, service and bot (see the module docstring); torn down on exit.
    `defaults`: changes to the generation defaults (e.g. a larger default size); `configure` changes
    the settings (e.g. `lambda s: s.replace(queue=...)`)."""
    saved = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    async with LocalDiscord(**(server_options or {})) as server:
        settings = make_settings(tmp, models_dir or tmp / "models", daily_seconds=daily_seconds)
        if defaults:
            settings = settings.replace(defaults=dataclasses.replace(settings.defaults, **defaults))
        if configure is not None:
            settings = configure(settings)
        env = BotEnv(
            server,
            settings,
            make_discord_settings(server, **discord_settings),
            runner(settings) if runner else PipelineRunner(settings),
        )
        try:
            await env.start()
            yield env
        finally:
            await env.stop()
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved
    assert not server.errors, f"localcord internal errors: {server.errors!r}"
