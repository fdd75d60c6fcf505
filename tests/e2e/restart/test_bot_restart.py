"""A bot killed with SIGKILL mid-job, restarted on the same database, still delivers the result."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from localcord import LocalDiscord
from tests.helpers.bot_env import is_result, job_id_of
from tests.helpers.bot_process import python_m_bot, stop

CHILD = Path(__file__).resolve().parents[2] / "helpers" / "bot_child.py"


async def spawn(
    root: Path, server: LocalDiscord, step_seconds: float, log: Path
) -> asyncio.subprocess.Process:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(CHILD),
        str(root),
        server.api_base,
        server.gateway_url,
        server.token,
        "--step-seconds",
        str(step_seconds),
        stdout=asyncio.subprocess.PIPE,
        stderr=log.open("ab"),
    )
    assert child.stdout is not None
    async with asyncio.timeout(60):
        while (line := await child.stdout.readline()) != b"READY\n":
            assert line, f"the bot died before it was ready; see {log}:\n{log.read_text()[-3000:]}"
    return child


async def test_sigkill_mid_job_then_restart_delivers_to_the_channel(tmp_path):
    log = tmp_path / "child.log"
    async with LocalDiscord() as server:
        first = await spawn(tmp_path, server, 0.5, log)
        try:
            ix = await server.slash("imagine", {"prompt": "a survivor --steps 8"})
            running = await ix.wait_original(lambda m: "Generating" in m.content, timeout=30)
            job_id = job_id_of(running)
        finally:
            first.kill()  # SIGKILL: no cleanup, the job is left "running" in the database
            await first.wait()

        second = await spawn(tmp_path, server, 0.0, log)
        try:
            message = await server.wait_for_message(
                lambda m: is_result(m) and job_id_of(m) == job_id, timeout=30, channel=server.channel
            )
            assert message.channel_id == ix.channel_id
            # the token still works, so the resumed job's result lands in the original message
            assert message.id == ix.original_message_id
            assert f"img:u:{job_id}:0" in message.custom_ids()
        finally:
            await stop(second)


async def test_python_m_bot_uses_the_env_urls_and_token(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(
        '[paths]\nmodels_dir = "models"\noutputs_dir = "outputs"\ndatabase = "bot.sqlite3"\n'
        '[models]\ndefault = "tiny"\n'
    )
    async with LocalDiscord(token="env.token") as server:
        child = await python_m_bot(server, config, tmp_path / "bot.log")
        try:
            await server.wait_for_session(timeout=60)
            await server.wait_for(lambda: server.commands(), 30, "the commands to be synced")
            info = await server.slash("info")
            message = await info.wait_original(lambda m: not m.loading, timeout=30)
            assert "Quota" in message.content and message.ephemeral
        finally:
            await stop(child)
