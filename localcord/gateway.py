"""The gateway half of the local server: HELLO, IDENTIFY -> READY (+ GUILD_CREATE),
heartbeats, RESUME, invalid sessions, member chunks, and dispatching events.

Frames are TEXT JSON only: discord.py inflates binary frames (zlib-stream) but reads text
frames as they are, whatever ``compress`` it asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

from aiohttp import WSMsgType, web

from .changes import Changes
from .config import Config
from .models import GatewayFrame, next_connection_id
from .recorder import Recorder
from .state import State

_log = logging.getLogger("localcord")

# Opcodes.
DISPATCH = 0
HEARTBEAT = 1
IDENTIFY = 2
PRESENCE = 3
VOICE_STATE = 4
RESUME = 6
RECONNECT = 7
REQUEST_MEMBERS = 8
INVALID_SESSION = 9
HELLO = 10
HEARTBEAT_ACK = 11

# Intents.
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15

FATAL_CLOSE_CODES = {4004, 4010, 4011, 4012, 4013, 4014}


class GatewayConnection:
    """One websocket connection from the bot."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request):
        self.id = next_connection_id()
        self.ws = ws
        self.request = request
        self.query = dict(request.query)
        self.session: GatewaySession | None = None
        self.opened_at = time.monotonic()
        self.closed_at: float | None = None
        self.close_code: int | None = None
        self.heartbeats = 0

    @property
    def open(self) -> bool:
        return not self.ws.closed and self.closed_at is None

    def __repr__(self) -> str:
        sid = self.session.id if self.session else None
        return f"<GatewayConnection #{self.id} session={sid} open={self.open}>"


class GatewaySession:
    """A gateway session (READY ... RESUME): sequence numbers and the events buffered for a resume."""

    def __init__(self, session_id: str, identify: dict[str, Any], buffer_size: int = 1000):
        self.id = session_id
        self.identify = identify
        self.intents: int = int(identify.get("intents", 0) or 0)
        self.shard: list[int] | None = identify.get("shard")
        self.seq = 0
        self.buffer: deque[dict[str, Any]] = deque(maxlen=buffer_size)
        self.connection: GatewayConnection | None = None
        self.valid = True
        self.resumes = 0
        self.created_at = time.monotonic()

    @property
    def connected(self) -> bool:
        return self.connection is not None and self.connection.open

    def __repr__(self) -> str:
        return f"<GatewaySession {self.id} seq={self.seq} connected={self.connected} valid={self.valid}>"


class Gateway:
    """The websocket endpoint: sessions, their connections, and every frame (in the recorder)."""

    def __init__(self, state: State, recorder: Recorder, changes: Changes, config: Config):
        self.state = state
        self.recorder = recorder
        self.changes = changes
        self.config = config
        self.sessions: dict[str, GatewaySession] = {}
        self.connections: list[GatewayConnection] = []
        self.ack_heartbeats = True
        self._send_locks: dict[int, asyncio.Lock] = {}

    # ------------------------------------------------------------------ state

    @property
    def session(self) -> GatewaySession | None:
        """The newest valid session (connected or waiting for a resume)."""
        valid = [s for s in self.sessions.values() if s.valid]
        return max(valid, key=lambda s: s.created_at) if valid else None

    def valid_sessions(self) -> Iterator[GatewaySession]:
        """Sessions that get dispatches (connected, or buffering for a resume)."""
        return (s for s in list(self.sessions.values()) if s.valid)

    @property
    def open_connections(self) -> list[GatewayConnection]:
        return [c for c in self.connections if c.open]

    @property
    def frames(self) -> list[GatewayFrame]:
        """Every frame sent and received, oldest first."""
        return self.recorder.frames

    # ------------------------------------------------------------------ sending

    def _record(
        self, direction: str, conn: GatewayConnection, payload: dict[str, Any], close_code: int | None = None
    ) -> None:
        frame = GatewayFrame(
            direction=direction,
            op=payload.get("op"),
            t=payload.get("t"),
            s=payload.get("s"),
            d=payload.get("d"),
            time=time.monotonic(),
            connection=conn.id,
            close_code=close_code,
        )
        self.recorder.record_frame(frame)
        self.changes.notify()

    async def _send(self, conn: GatewayConnection, payload: dict[str, Any]) -> bool:
        if not conn.open:
            return False
        lock = self._send_locks.setdefault(conn.id, asyncio.Lock())
        async with lock:
            try:
                await conn.ws.send_str(json.dumps(payload))
            except (ConnectionError, RuntimeError):
                return False
        self._record("send", conn, payload)
        return True

    async def dispatch(self, event: str, data: Any, session: GatewaySession | None = None) -> int:
        """Send a DISPATCH to a session (default: the current one); buffered for RESUME
        while it is disconnected. Returns the sequence number."""
        session = session or self.session
        if session is None:
            raise RuntimeError("no gateway session: is the bot connected (IDENTIFY done)?")
        session.seq += 1
        payload = {"op": DISPATCH, "t": event, "s": session.seq, "d": data}
        session.buffer.append(payload)
        if session.connection is not None:
            await self._send(session.connection, payload)
        return session.seq

    async def broadcast(self, event: str, data: Any) -> None:
        for session in self.valid_sessions():
            await self.dispatch(event, data, session)

    # ------------------------------------------------------------------ faults

    async def close_connection(
        self, conn: GatewayConnection, code: int = 4000, *, abrupt: bool = False
    ) -> None:
        if not conn.open:
            return
        conn.closed_at = time.monotonic()
        conn.close_code = code
        self._record("send", conn, {"op": None, "t": "CLOSE"}, close_code=code)
        if abrupt:
            transport = conn.request.transport
            if transport is not None:
                transport.abort()
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.ws.close(code=code, message=b"localcord: dropped"), timeout=2.0)

    async def drop(self, code: int = 4000, *, resumable: bool = True, abrupt: bool = False) -> None:
        """Close every open connection (``code`` 4000 is non-fatal: discord.py resumes).
        ``resumable=False`` invalidates the sessions, so a RESUME gets op 9 and a re-IDENTIFY."""
        if not resumable:
            for session in self.sessions.values():
                session.valid = False
        for conn in list(self.open_connections):
            await self.close_connection(conn, code, abrupt=abrupt)

    async def close_all(self) -> None:
        """Going away (1001): the server is shutting down."""
        for conn in list(self.open_connections):
            await self.close_connection(conn, 1001)

    # ------------------------------------------------------------------ handler

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True, heartbeat=None)
        await ws.prepare(request)
        conn = GatewayConnection(ws, request)
        self.connections.append(conn)
        self.changes.notify()
        try:
            hello = {"heartbeat_interval": self.config.heartbeat_interval_ms}
            await self._send(conn, {"op": HELLO, "d": hello})
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    try:
                        payload = json.loads(msg.data)
                    except ValueError:
                        await self.close_connection(conn, 4002)
                        break
                    self._record("recv", conn, payload)
                    try:
                        await self._on_payload(conn, payload)
                    except Exception as exc:  # a bug in localcord: keep it visible
                        _log.exception("localcord: gateway error on %r", payload.get("op"))
                        self.recorder.record_error(exc)
                        await self.close_connection(conn, 4000)
                        break
                elif msg.type == WSMsgType.BINARY:
                    # discord.py only sends text; an ETF/compressed payload is a decode error.
                    await self.close_connection(conn, 4002)
                    break
                elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                    break
        finally:
            if conn.closed_at is None:
                conn.closed_at = time.monotonic()
                conn.close_code = ws.close_code
                self._record("recv", conn, {"op": None, "t": "CLOSE"}, close_code=ws.close_code)
                if ws.close_code in (1000, 1001) and conn.session is not None:
                    # A clean close by the client ends the session (Discord: not resumable).
                    conn.session.valid = False
            if conn.session is not None and conn.session.connection is conn:
                conn.session.connection = None
            self._send_locks.pop(conn.id, None)
            self.changes.notify()
        return ws

    async def _on_payload(self, conn: GatewayConnection, payload: dict[str, Any]) -> None:
        op = payload.get("op")
        data = payload.get("d")
        if op == HEARTBEAT:
            conn.heartbeats += 1
            if self.ack_heartbeats:
                await self._send(conn, {"op": HEARTBEAT_ACK, "d": None})
        elif op == IDENTIFY:
            await self._identify(conn, data or {})
        elif op == RESUME:
            await self._resume(conn, data or {})
        elif conn.session is None:
            await self.close_connection(conn, 4003)  # Not authenticated
        elif op == REQUEST_MEMBERS:
            await self._request_members(conn, data or {})
        elif op in (PRESENCE, VOICE_STATE):
            pass  # recorded in frames; nothing to answer
        else:
            await self.close_connection(conn, 4001)  # Unknown opcode

    async def _identify(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        if conn.session is not None:
            await self.close_connection(conn, 4005)  # Already authenticated
            return
        if data.get("token") != self.config.token:
            await self.close_connection(conn, 4004)  # Authentication failed
            return
        session = GatewaySession(secrets.token_hex(16), data)
        self.sessions[session.id] = session
        session.connection = conn
        conn.session = session
        state = self.state
        ready: dict[str, Any] = {
            "v": 10,
            "user": state.bot_user_payload(),
            "guilds": [{"id": str(g.id), "unavailable": True} for g in state.guilds.values()],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.config.gateway_url,
            "application": {"id": str(state.application_id), "flags": state.application_flags},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "_trace": ["localcord"],
        }
        if session.shard is not None:
            ready["shard"] = session.shard
        await self.dispatch("READY", ready, session)
        for guild in state.guilds.values():
            if self._shard_has(session, guild.id):
                await self.dispatch("GUILD_CREATE", guild.payload(), session)

    @staticmethod
    def _shard_has(session: GatewaySession, guild_id: int) -> bool:
        if not session.shard:
            return True
        shard_id, shard_count = session.shard
        return (guild_id >> 22) % max(shard_count, 1) == shard_id

    async def _resume(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        session = self.sessions.get(str(data.get("session_id")))
        if data.get("token") != self.config.token:
            await self.close_connection(conn, 4004)
            return
        if session is None or not session.valid:
            # Not resumable: discord.py closes, reconnects and IDENTIFYs again.
            await asyncio.sleep(0.01)
            await self._send(conn, {"op": INVALID_SESSION, "d": False})
            return
        old = session.connection
        if old is not None and old is not conn and old.open:
            await self.close_connection(old, 4000)
        session.connection = conn
        conn.session = session
        session.resumes += 1
        last = int(data.get("seq") or 0)
        for event in list(session.buffer):
            if event["s"] > last:
                await self._send(conn, event)
        await self.dispatch("RESUMED", {"_trace": ["localcord"]}, session)

    async def _request_members(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        guild = self.state.guilds.get(int(data.get("guild_id", 0)))
        if guild is None or conn.session is None:
            return
        members = list(guild.members.values())
        user_ids = data.get("user_ids")
        if user_ids:
            wanted = {int(u) for u in (user_ids if isinstance(user_ids, list) else [user_ids])}
            members = [m for m in members if m.user.id in wanted]
        query = data.get("query") or ""
        if query:
            members = [m for m in members if m.user.username.lower().startswith(query.lower())]
        limit = int(data.get("limit") or 0)
        if limit:
            members = members[:limit]
        chunk: dict[str, Any] = {
            "guild_id": str(guild.id),
            "members": [m.payload() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        await self.dispatch("GUILD_MEMBERS_CHUNK", chunk, conn.session)
