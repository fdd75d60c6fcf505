"""`python -m bot [--config FILE]` serves Discord; `python -m bot demo` plays the offline demo.

Without DISCORD_TOKEN, `python -m bot` plays the demo too, so the README's first command shows the
bot working on a fresh machine.

The bot token comes from DISCORD_TOKEN. DISCORD_API_BASE and DISCORD_GATEWAY_URL (or
`[discord] api_base` / `gateway_url`) point it at a REST proxy or a local Discord-compatible server.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

# The GPU worker imports transformers later; its warnings about optional image backends are noise
# in the bot's log. Checkpoints never come from the Hub at run time unless an admin lists one.
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import aiohttp
import discord

from bot.app import ImagineBot
from bot.settings import DiscordSettings, discord_token
from bot.ui import text
from generation.jobs.problems import StoreOpenError
from generation.settings import ConfigError, Settings, load_settings
from generation.workers.pools import open_service

log = logging.getLogger("bot")


async def serve(settings: Settings, discord_settings: DiscordSettings, token: str) -> None:
    """Run the bot until it is stopped; the service outlives it by a moment to close cleanly.
    The database is opened first: a bad one stops the start before anything slow (StoreOpenError)."""
    service = await open_service(settings)  # this process's worker, or the cluster's ([cluster])
    try:
        async with ImagineBot(settings, discord_settings, service) as bot:
            await bot.start(token)
    finally:
        await service.close()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, help="settings file (default: the shipped config.toml)")
    commands = parser.add_subparsers(dest="command")
    demo = commands.add_parser("demo", help="run the bot against a local Discord and play a short script")
    demo.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="settings file")
    demo.add_argument("--out", type=Path, default=Path("demo-output"), help="where to write the images")
    demo.add_argument("--model", help="model to use (default: models/shapes, else a tiny random model)")
    demo.add_argument("--steps", type=int, help="sampling steps (default: the config's)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    discord.utils.setup_logging(level=logging.INFO, root=True)
    token = discord_token()
    if args.command is None and not token:
        print("DISCORD_TOKEN is not set: playing the offline demo instead (see README).", file=sys.stderr)
        args = parse_args(["demo", *(["--config", str(args.config)] if args.config else [])])
    if args.command == "demo":
        from bot.demo import run_demo

        return asyncio.run(run_demo(config=args.config, out=args.out, model=args.model, steps=args.steps))
    try:
        settings = load_settings(args.config)
        discord_settings = DiscordSettings.from_settings(settings, env=True)
    except ConfigError as exc:
        print(f"config: {exc}", file=sys.stderr)
        return 2
    assert token is not None  # without one, the demo played above
    try:
        asyncio.run(serve(settings, discord_settings, token))
    except KeyboardInterrupt:
        pass
    except discord.LoginFailure as exc:
        print(f"Discord refused the token: {exc}", file=sys.stderr)
        return 1
    except aiohttp.ClientConnectorError as exc:  # no network, or DISCORD_API_BASE points nowhere
        print(f"cannot start: {text.cannot_reach_discord(discord_settings.api_base, exc)}", file=sys.stderr)
        return 2
    except StoreOpenError as exc:  # one line that names the file and what to do; the file is untouched
        print(f"cannot start: {text.describe(exc)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
