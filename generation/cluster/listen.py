"""LISTEN on PostgreSQL channels over one dedicated connection that comes back when it drops.

NOTIFY is not durable: what is sent while the connection is down is gone. Whoever listens
therefore catches up from the tables after each reconnection (`on_reconnect`): the dispatcher
sweeps for queued jobs, bot processes look up the jobs they are waiting on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

import asyncpg

log = logging.getLogger(__name__)


class Listener:
    def __init__(
        self,
        url: str,
        channels: Sequence[str],
        on_message: Callable[[str, str], None],
        *,
        on_reconnect: Callable[[], None] | None = None,
    ) -> None:
        self.url = url
        self.channels = list(channels)
        self.on_message = on_message  # (channel, payload), on the event loop, in arrival order
        self.on_reconnect = on_reconnect
        self._conn: asyncpg.Connection | None = None
        self._closing = False
        self._reconnecting: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._connect()

    async def _connect(self) -> None:
        conn = await asyncpg.connect(self.url)
        for name in self.channels:
            await conn.add_listener(name, self._heard)
        conn.add_termination_listener(self._dropped)
        self._conn = conn

    def _heard(self, conn: object, pid: int, channel: str, payload: str) -> None:
        self.on_message(channel, payload)

    def _dropped(self, conn: object) -> None:
        if self._closing:
            return
        log.warning("the PostgreSQL listening connection dropped; reconnecting")
        self._conn = None
        if self._reconnecting is None or self._reconnecting.done():
            self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        delay = 0.1
        while not self._closing:
            try:
                await self._connect()
            except (OSError, asyncpg.PostgresError) as exc:
                log.info("PostgreSQL not reachable yet (%s)", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            if self.on_reconnect is not None:
                self.on_reconnect()
            return

    async def close(self) -> None:
        self._closing = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconnecting
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close(timeout=5)
            self._conn = None
