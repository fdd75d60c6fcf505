"""`python -m bot demo`: the whole bot offline, in one process, with a transcript.

Starts localcord (a local Discord-compatible server), the service with the default model
(models/shapes; a tiny random model when it is missing) on a temporary database and outputs
folder, and the bot. Then plays a short script as a user would: /imagine, then U1, V1 and
reroll on the result. Prints what the user would see, as it changes, and writes the images the
bot posted to a folder.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from bot.app import ImagineBot
from bot.settings import DiscordSettings
from generation.cli.standin import TINY_MODEL_NAME, tiny_stand_in
from generation.jobs.service import JobService
from generation.settings import PathSettings, Settings, load_settings
from generation.workers.pools import build_pool

PROMPT = "a red circle on a blue background"
RESULT_TIMEOUT = 600.0  # a first job on a CPU loads the model too


def pick_model(settings: Settings, name: str | None, scratch: Path) -> tuple[Path, str]:
    """(models_dir, model name): the configured model when it is there, else a tiny one."""
    models_dir = settings.paths.models_dir
    wanted = name or settings.models.default
    if wanted and any(models_dir.glob(f"{wanted}*")):
        return models_dir, wanted
    folder = None if name else tiny_stand_in(wanted, settings, scratch / "models")
    if folder is None:
        raise SystemExit(f"no model {name!r} in {models_dir}")
    print(f"(no model {wanted!r} in {models_dir}: using a tiny random model, which draws noise)")
    return folder.parent, TINY_MODEL_NAME


def demo_settings(
    settings: Settings, scratch: Path, models_dir: Path, model: str, steps: int | None
) -> Settings:
    defaults = settings.defaults if steps is None else dataclasses.replace(settings.defaults, steps=steps)
    return settings.replace(
        paths=PathSettings(
            models_dir=models_dir, outputs_dir=scratch / "outputs", database=scratch / "demo.sqlite3"
        ),
        models=dataclasses.replace(settings.models, default=model),
        defaults=defaults,
        quota=dataclasses.replace(settings.quota, daily_seconds=0.0),
    )


def demo_discord_settings(settings: Settings, server: Any) -> DiscordSettings:
    """The config's [discord] table, pointed at the local server, with brisk progress edits."""
    return dataclasses.replace(
        DiscordSettings.from_settings(settings),
        api_base=server.api_base,
        gateway_url=server.gateway_url,
        progress_interval=0.5,
    )


class Transcript:
    """Prints each state of the messages an interaction produced, as it appears."""

    def __init__(self, out: Path, server: Any) -> None:
        self.server = server
        self.start = time.monotonic()
        self.out = out
        self.saved: list[Path] = []
        self._seen: dict[int, int] = {}

    def say(self, who: str, text: str) -> None:
        text = re.sub(r"<@!?(\d+)>", self._name, text)
        stamp = f"[{time.monotonic() - self.start:6.1f}s]"
        lines = text.splitlines() or [""]
        print(f"{stamp} {who:<6}> {lines[0]}")
        for line in lines[1:]:
            print(f"{'':{len(stamp)}} {'':<6}  {line}")

    def _name(self, match: re.Match[str]) -> str:
        user = self.server.users.get(int(match[1]))
        return f"@{user.username}" if user else match[0]

    def show(self, ix: Any) -> None:
        for message in ix.messages:
            for snapshot in message.history[self._seen.get(message.id, 0) :]:
                self.say("bot", describe(snapshot, ephemeral=message.ephemeral))
            self._seen[message.id] = len(message.history)

    async def follow(self, ix: Any, until) -> Any:
        """Print the interaction's messages as they change, until `until(message)` holds."""
        deadline = time.monotonic() + RESULT_TIMEOUT
        while time.monotonic() < deadline:
            self.show(ix)
            for message in ix.messages:
                if until(message):
                    return message
            await asyncio.sleep(0.05)
        raise TimeoutError("the bot did not answer in time")

    def keep(self, message: Any, step: str) -> None:
        for attachment in message.attachments:
            path = self.out / f"{step}-{attachment.filename}"
            path.write_bytes(attachment.data)
            self.saved.append(path)
            self.say(
                "", f"saved {path} ({attachment.width}x{attachment.height}, {attachment.size // 1024} KB)"
            )


def describe(snapshot: dict[str, Any], *, ephemeral: bool) -> str:
    text = snapshot["content"] or ("(thinking...)" if snapshot["flags"] & (1 << 7) else "")
    if snapshot["attachments"]:
        text += f"\n[{', '.join(snapshot['attachments'])}]"
    labels = []
    for row in snapshot["components"]:
        names = [
            c.get("label") or (c.get("emoji") or {}).get("name") or "?" for c in row.get("components", [])
        ]
        labels.append(" ".join(names))
    if labels:
        text += "\nbuttons: " + " | ".join(labels)
    return text + ("  (only you can see this)" if ephemeral else "")


def is_result(message: Any) -> bool:
    return bool(message.attachments) and any(c.startswith(("img:u:", "img:s:")) for c in message.custom_ids())


async def play(server: Any, transcript: Transcript) -> None:
    alice = server.default_user.username
    transcript.say(alice, f"/imagine prompt: {PROMPT}")
    ix = await server.slash("imagine", {"prompt": PROMPT})
    grid = await transcript.follow(ix, is_result)
    transcript.keep(grid, "1-imagine")
    job_id = next(c for c in grid.custom_ids() if c.startswith("img:u:")).split(":")[2]

    for step, (label, custom_id) in enumerate(
        [("U1", f"img:u:{job_id}:0"), ("V1", f"img:v:{job_id}:0"), ("🔄 reroll", f"img:r:{job_id}:0")],
        start=2,
    ):
        transcript.say(alice, f"clicks {label}")
        click = await server.click(custom_id, grid)
        result = await transcript.follow(click, is_result)
        transcript.keep(result, f"{step}-{label.split()[-1].lower()}")


async def run_demo(
    *,
    config: Path | None = None,
    out: Path = Path("demo-output"),
    model: str | None = None,
    steps: int | None = None,
) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from localcord import LocalDiscord, running
    except ImportError:
        print("the demo needs the localcord package from the project's source tree")
        return 2
    logging.getLogger("discord").setLevel(logging.WARNING)
    settings = load_settings(config)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="imagine-demo-") as tmp:
        scratch = Path(tmp)
        models_dir, model_name = pick_model(settings, model, scratch)
        async with LocalDiscord() as server:
            settings = demo_settings(settings, scratch, models_dir, model_name, steps)
            discord_settings = demo_discord_settings(settings, server)
            service = await JobService.open(settings, pool=build_pool(settings))
            transcript = Transcript(out, server)
            try:
                bot = ImagineBot(settings, discord_settings, service)
                async with running(bot, server, timeout=60):
                    transcript.say("", f"bot online at {server.url} with model {model_name!r}")
                    await play(server, transcript)
            finally:
                await service.close()
    print(
        f"\n{len(transcript.saved)} images written to {out}/ in {time.monotonic() - transcript.start:.1f} s"
    )
    return 0
