"""The bot as a separate process, for the test that kills it with SIGKILL mid-job.

    python tests/helpers/bot_child.py ROOT API_BASE GATEWAY_URL TOKEN [--step-seconds S] [--tiny MODELS_DIR]

Runs service + bot on ROOT (database, outputs) against a localcord server living in the test
process; the GPU is a `FakeRunner` taking S seconds a step (or the real tiny model with --tiny).
Prints `READY` once connected, then runs until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from types import SimpleNamespace

os.environ["HF_HUB_OFFLINE"] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bot.app import ImagineBot
from generation.jobs.service import JobService
from generation.workers.fakes import FakeRunner
from generation.workers.runner import PipelineRunner
from tests.helpers.bot_env import make_discord_settings, make_settings


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("root", type=Path)
    parser.add_argument("api_base")
    parser.add_argument("gateway_url")
    parser.add_argument("token")
    parser.add_argument("--step-seconds", type=float, default=0.0)
    parser.add_argument("--tiny", type=Path, help="a models folder holding the tiny model")
    args = parser.parse_args()

    server = SimpleNamespace(api_base=args.api_base, gateway_url=args.gateway_url)
    settings = make_settings(args.root, args.tiny or args.root / "models")
    runner = PipelineRunner(settings) if args.tiny else FakeRunner(step_seconds=args.step_seconds)
    service = await JobService.open(settings, runner=runner)
    bot = ImagineBot(settings, make_discord_settings(server), service)

    @bot.event
    async def on_ready() -> None:
        print("READY", flush=True)

    try:
        await bot.start(args.token)
    finally:
        await service.close()


if __name__ == "__main__":
    asyncio.run(main())
