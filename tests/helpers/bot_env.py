"""Shared fixtures for the bot tests: localcord + service + bot, in-process, on tmp paths.

    async with bot_running(tmp_path, tiny_model_dir.parent) as env:   # the tiny model
        ix = await env.server.slash("imagine", {"prompt": "a red circle"})
        message = await env.result(ix)

`bot_running(tmp_path, runner=FakeRunner)` runs a `FakeRunner` instead of the tiny model:
flat-colour (or noise) images made without torch, with a `gate` that holds the GPU loop, for
tests about timing and the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import discord
import discord.gateway
import discord.http

from bot.bot import ImagineBot
from generation.jobs.service import JobService
from generation.jobs.types import Job
from generation.pipelines.engine import Cancelled, CancelToken
from generation.settings import PathSettings, Settings, load_settings
from generation.workers.runner import PipelineRunner
from localcord import LocalDiscord, StoredMessage

RESULT_TIMEOUT = 60.0  # a tiny-model job on a busy 2-core machine


def make_settings(
    tmp: Path,
    models_dir: Path,
    *,
    server: Any = None,
    model: str = "tiny",
    daily_seconds: float = 0.0,
    **discord_kw: Any,
) -> Settings:
    """The shipped config, pointed at tmp paths and a tiny, fast generation."""
    base = load_settings(env=False)
    discord_settings = dataclasses.replace(base.discord, **({"progress_interval": 0.2} | discord_kw))
    if server is not None:
        discord_settings = dataclasses.replace(
            discord_settings, api_base=server.api_base, gateway_url=server.gateway_url
        )
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
        discord=discord_settings,
    )


class FakeRunner(PipelineRunner):
    """Stands in for the model: each step sleeps `step_seconds` (after waiting for `gate`, when
    it is cleared); images are flat colours, or noise (large PNGs) with `noise=True`."""

    def __init__(self, settings: Settings, *, step_seconds: float = 0.0, noise: bool = False) -> None:
        super().__init__(settings)
        self.step_seconds = step_seconds
        self.noise = noise
        self.gate = threading.Event()
        self.gate.set()
        self.calls: list[tuple[float, list[Any]]] = []  # (monotonic start, requests)

    def model_names(self) -> list[str]:
        return ["tiny", "other"]

    def load(self, name: str) -> Any:
        return SimpleNamespace(name=name, short_hash="0123456789")

    def check(self, model: Any) -> None:
        pass

    def unload(self, model: Any) -> None:
        pass

    def generate(self, model, requests, *, sources=(), on_progress, cancel, want_preview):
        from PIL import Image

        self.calls.append((time.monotonic(), list(requests)))
        total = max(1, requests[0].steps)
        for step in range(1, total + 1):
            while not self.gate.wait(0.05):
                if cancel is not None and cancel.cancelled:
                    break
            time.sleep(self.step_seconds)
            if cancel is not None and cancel.cancelled:
                raise Cancelled()
            if on_progress is not None:
                preview = Image.new("RGB", (16, 16), (step * 40 % 256, 90, 160)) if want_preview else None
                on_progress(step, total, [preview] * len(requests) if preview else [])
        out = []
        for request in requests:
            from generation.requests.followups import output_size

            size = output_size(request)
            images = []
            for i in range(request.count):
                if self.noise:
                    images.append(Image.frombytes("RGB", size, random.randbytes(size[0] * size[1] * 3)))
                else:
                    images.append(Image.new("RGB", size, ((request.seed + i) % 256, 128, 64)))
            out.append(images)
        return out

    def cancel_token(self) -> Any:
        return CancelToken()


@dataclasses.dataclass
class BotEnv:
    """A running server, service and bot (one 'process' of the bot)."""

    server: LocalDiscord
    settings: Settings
    runner: Any
    service: JobService | None = None
    bot: ImagineBot | None = None
    task: asyncio.Task[None] | None = None

    async def start(self) -> BotEnv:
        self.service = await JobService.open(self.settings, runner=self.runner)
        self.bot = ImagineBot(self.settings, self.service)
        self.task = asyncio.create_task(self.bot.start(self.server.token), name="bot")
        ready = asyncio.create_task(self.bot.wait_until_ready())
        done, _ = await asyncio.wait({ready, self.task}, timeout=20, return_when=asyncio.FIRST_COMPLETED)
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
    **discord_settings: Any,
):
    """A started server, service and bot (see the module docstring); torn down on exit."""
    saved = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    async with LocalDiscord(**(server_options or {})) as server:
        settings = make_settings(
            tmp, models_dir or tmp / "models", server=server, daily_seconds=daily_seconds, **discord_settings
        )
        env = BotEnv(server, settings, runner(settings) if runner else None)
        try:
            await env.start()
            yield env
        finally:
            await env.stop()
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved
    assert not server.errors, f"localcord internal errors: {server.errors!r}"
