"""`python -m bot` as a child process against a localcord server, as a server owner runs it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


async def stop(child: asyncio.subprocess.Process) -> None:
    """SIGTERM, then SIGKILL if the bot has not shut down within 15 s."""
    child.terminate()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(child.wait(), 15)
    if child.returncode is None:
        child.kill()
        await child.wait()


async def python_m_bot(server: Any, config: Path, log: Path) -> asyncio.subprocess.Process:
    """`python -m bot --config CONFIG` with the token and the server's URLs in its environment
    (DISCORD_TOKEN, DISCORD_API_BASE, DISCORD_GATEWAY_URL), its stderr in `log`."""
    env = {
        **os.environ,
        "DISCORD_TOKEN": server.token,
        "DISCORD_API_BASE": server.api_base,
        "DISCORD_GATEWAY_URL": server.gateway_url,
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "--config",
        str(config),
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
