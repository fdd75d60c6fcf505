"""Point an unmodified discord.py 2.7 at a local server, and run a client against it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import discord

    from .server import LocalDiscord


def point_discord_at(server: LocalDiscord | Any) -> Callable[[], None]:
    """Set ``discord.http.Route.BASE`` (REST, webhooks, interaction callbacks) and
    ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` to the server's URLs.

    ``server`` is a ``LocalDiscord`` or anything with ``api_base`` and ``gateway_url``.
    Returns a callable that restores the previous values (idempotent)."""
    import discord.gateway
    import discord.http
    import yarl

    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = server.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(server.gateway_url)
    restored = False

    def restore() -> None:
        nonlocal restored
        if restored:
            return
        restored = True
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway

    return restore


@contextlib.contextmanager
def pointed_at(server: LocalDiscord | Any):
    """``with pointed_at(server): ...``: ``point_discord_at`` undone on exit."""
    restore = point_discord_at(server)
    try:
        yield server
    finally:
        restore()


@contextlib.asynccontextmanager
async def running(
    client: discord.Client, server: LocalDiscord, *, timeout: float = 10.0, token: str | None = None
) -> AsyncIterator[discord.Client]:
    """Point discord.py at ``server``, start ``client`` (``client.start(server.token)``) in a
    task, wait for ``on_ready``; on exit close the client and restore discord.py's URLs.

    Raises the client's own exception if it dies before becoming ready."""
    restore = point_discord_at(server)
    task = asyncio.create_task(client.start(token or server.token), name="localcord-client")
    try:
        ready = asyncio.create_task(client.wait_until_ready())
        done, _ = await asyncio.wait({ready, task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            if task in done:
                task.result()  # re-raise the client's error
                raise RuntimeError("discord client stopped before it became ready")
            raise TimeoutError(f"discord client not ready after {timeout}s")
        yield client
    finally:
        try:
            if not client.is_closed():
                await client.close()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, timeout=5.0)
        finally:
            restore()
