"""``LocalDiscord``: a Discord-compatible REST + gateway server on 127.0.0.1 for an unmodified
discord.py 2.7 bot, with a small world (a guild, channels, roles, users), interaction
injection (slash commands, autocomplete, button clicks, modals), recorded calls, awaitable
waiters and fault injection.

Typical use (see ``localcord.client.running`` for the client side)::

    async with LocalDiscord() as server, running(bot, server):
        ix = await server.slash("imagine", {"prompt": "a red cube"})
        await ix.wait_response()                      # the defer
        msg = await ix.wait_original(lambda m: m.attachments)
"""

from __future__ import annotations

import asyncio
import io
import re
import secrets
import time
from collections.abc import Callable, Iterable
from types import SimpleNamespace
from typing import Any, TypeVar
from urllib.parse import quote

from aiohttp import web

from .faults import ApiError, Fault, make_matcher
from .gateway import INTENT_MESSAGE_CONTENT, Gateway, GatewaySession
from .models import (
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    DEFAULT_BOT_PERMISSIONS,
    DEFAULT_EVERYONE_PERMISSIONS,
    DM,
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    FLAG_SUPPRESS_EMBEDS,
    GUILD_TEXT,
    MANAGE_GUILD,
    Call,
    CallbackRecord,
    Channel,
    GatewayFrame,
    Guild,
    Member,
    Role,
    SnowflakeGenerator,
    StoredAttachment,
    StoredMessage,
    UploadedFile,
    User,
)
from .rest import RestApi, validate_message

T = TypeVar("T")


class _Default:
    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT: Any = _Default()
"""Sentinel: "the default guild" (``guild=None`` means a DM)."""

TEN_MIB = 10 * 1024 * 1024
_FILES_FIELD_RE = re.compile(r"^files\[(\d+)\]$")


class InjectedInteraction:
    """An interaction the server sent to the bot, and everything the bot answered to it."""

    def __init__(
        self,
        server: LocalDiscord,
        payload: dict[str, Any],
        *,
        user: User,
        guild_id: int | None,
        channel_id: int,
        message_id: int | None = None,
    ):
        self.server = server
        self.payload = payload
        self.id: int = int(payload["id"])
        self.token: str = payload["token"]
        self.type: int = payload["type"]
        self.user = user
        self.guild_id = guild_id
        self.channel_id = channel_id
        self.message_id = message_id  # the message a component sits on
        self.attachment_size_limit: int = payload["attachment_size_limit"]
        self.sent_at: float = time.monotonic()
        self.callbacks: list[CallbackRecord] = []
        self.original_message_id: int | None = None
        self.followup_ids: list[int] = []
        self.autocomplete_choices: list[dict[str, Any]] | None = None
        self.modal: dict[str, Any] | None = None
        self.expired = False

    def __repr__(self) -> str:
        name = (self.payload.get("data") or {}).get("name") or (self.payload.get("data") or {}).get(
            "custom_id"
        )
        types = [c.type for c in self.callbacks]
        return f"<InjectedInteraction {self.id} type={self.type} {name!r} callbacks={types}>"

    # -- state

    @property
    def data(self) -> dict[str, Any]:
        return self.payload.get("data") or {}

    @property
    def acknowledged(self) -> bool:
        return bool(self.callbacks)

    @property
    def response(self) -> CallbackRecord | None:
        """The (first and only accepted) callback, if any."""
        return self.callbacks[0] if self.callbacks else None

    @property
    def original(self) -> StoredMessage | None:
        msg = self.server.messages.get(self.original_message_id or 0)
        return None if msg is None or msg.deleted else msg

    @property
    def followups(self) -> list[StoredMessage]:
        """Followup messages (the first one after a defer *is* the original, edited)."""
        out = []
        for mid in self.followup_ids:
            msg = self.server.messages.get(mid)
            if msg is not None and not msg.deleted:
                out.append(msg)
        return out

    @property
    def messages(self) -> list[StoredMessage]:
        """Original response plus followups, without duplicates."""
        seen: dict[int, StoredMessage] = {}
        for msg in [self.original, *self.followups]:
            if msg is not None:
                seen.setdefault(msg.id, msg)
        return list(seen.values())

    def message_ids(self) -> set[int]:
        ids = set(self.followup_ids)
        if self.original_message_id is not None:
            ids.add(self.original_message_id)
        return ids

    def record_callback(
        self, rtype: int, data: dict[str, Any] | None, files: list[UploadedFile], call: Call
    ) -> None:
        self.callbacks.append(CallbackRecord(rtype, data, call.time - self.sent_at, list(files), call))

    def token_expired(self, at: float | None = None) -> bool:
        at = time.monotonic() if at is None else at
        return self.expired or at - self.sent_at > self.server.token_ttl

    def callback_expired(self, at: float | None = None) -> bool:
        at = time.monotonic() if at is None else at
        deadline = self.server.callback_deadline
        return self.token_expired(at) or (deadline is not None and at - self.sent_at > deadline)

    def expire(self) -> None:
        """From now on: callbacks answer 404/10062, webhook calls 401/50027."""
        self.expired = True

    # -- waiting

    async def wait_response(self, timeout: float = 5.0) -> CallbackRecord:
        """The interaction's callback (defer, message, update, autocomplete, modal)."""
        return await self.server.wait_for(lambda: self.response, timeout, f"a callback to {self!r}")

    async def wait_original(
        self, predicate: Callable[[StoredMessage], Any] | None = None, timeout: float = 5.0
    ) -> StoredMessage:
        """The original response message once ``predicate(message)`` holds (default: exists)."""

        def check() -> StoredMessage | None:
            msg = self.original
            if msg is not None and (predicate is None or predicate(msg)):
                return msg
            return None

        return await self.server.wait_for(check, timeout, f"the original response of {self!r}")

    async def wait_followup(
        self, predicate: Callable[[StoredMessage], Any] | None = None, timeout: float = 5.0
    ) -> StoredMessage:
        """The first followup message satisfying ``predicate`` (default: any)."""

        def check() -> StoredMessage | None:
            for msg in self.followups:
                if predicate is None or predicate(msg):
                    return msg
            return None

        return await self.server.wait_for(check, timeout, f"a followup of {self!r}")


class LocalDiscord:
    """A local Discord: REST API v10 + gateway on 127.0.0.1, with a default world.

    Default world: guild ``server.guild`` ("Local Guild", owner ``owner``), text channels
    ``general`` (``server.channel``) and ``nsfw`` (nsfw), roles ``@everyone``, ``Moderator``
    (Manage Guild), ``Admin`` (Administrator) and the bot's managed role; users ``alice`` (the
    default user, no roles), ``mod`` (Moderator), ``admin`` (Admin), ``owner``.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str = "localcord.bot.token",
        bot_name: str = "ImagineBot",
        upload_limit: int = TEN_MIB,
        request_size_limit: int | None = None,
        token_ttl: float = 15 * 60.0,
        callback_deadline: float | None = None,
        heartbeat_interval_ms: int = 41250,
        message_events: bool = True,
        default_world: bool = True,
    ):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("localcord only listens on the loopback interface")
        self.host = host
        self.port = port
        self.token = token
        self.upload_limit = upload_limit
        self.request_size_limit = request_size_limit
        self.token_ttl = token_ttl
        self.callback_deadline = callback_deadline
        self.message_events = message_events
        self.snowflake = SnowflakeGenerator()

        self.users: dict[int, User] = {}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, StoredMessage] = {}
        self.attachments: dict[int, StoredAttachment] = {}
        self.app_commands: dict[int | None, list[dict[str, Any]]] = {}
        self.interactions: dict[int, InjectedInteraction] = {}
        self.interactions_by_token: dict[str, InjectedInteraction] = {}
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        self.errors: list[BaseException] = []  # bugs in localcord's own handlers (should stay empty)

        self.bot_user = self.add_user(bot_name, bot=True)
        self.application_id = self.bot_user.id
        self.application_flags = 0
        self.application_name = bot_name
        self.owner = self.add_user("owner")

        self.gateway = Gateway(self, heartbeat_interval_ms=heartbeat_interval_ms)
        self.rest = RestApi(self)
        self._waiters: list[tuple[Callable[[], Any], asyncio.Future[Any]]] = []
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

        self.guild: Guild | None = None
        self.channel: Channel | None = None
        self.default_user: User | None = None
        if default_world:
            self._build_default_world()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> LocalDiscord:
        app = web.Application(client_max_size=1 << 30)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/gateway/", self.gateway.handle)
        app.router.add_route("*", "/{tail:.*}", self.rest.handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        sockets = site._server.sockets if site._server is not None else []  # type: ignore[union-attr]
        self.port = sockets[0].getsockname()[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        self._url = f"http://{host}:{self.port}"
        return self

    async def close(self) -> None:
        for conn in list(self.gateway.open_connections):
            await self.gateway.close_connection(conn, 1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for _, fut in self._waiters:
            if not fut.done():
                fut.cancel()
        self._waiters.clear()

    async def __aenter__(self) -> LocalDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("server not started: await server.start()")
        return self._url

    @property
    def api_base(self) -> str:
        return f"{self.url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return self.url.replace("http://", "ws://", 1) + "/gateway"

    # ------------------------------------------------------------------ world

    def _build_default_world(self) -> None:
        guild = self.add_guild("Local Guild", owner=self.owner)
        self.add_channel(guild, "general")
        self.add_channel(guild, "nsfw", nsfw=True)
        moderator = self.add_role(guild, "Moderator", MANAGE_GUILD)
        admin = self.add_role(guild, "Admin", ADMINISTRATOR)
        self.default_user = self.add_user("alice", guild=guild)
        self.add_user("mod", guild=guild, roles=[moderator])
        self.add_user("admin", guild=guild, roles=[admin])

    def add_user(
        self,
        username: str,
        *,
        bot: bool = False,
        guild: Guild | None = None,
        roles: Iterable[Role | int] = (),
    ) -> User:
        """A new user; with ``guild``, also a member of it (with ``roles``)."""
        user = User(
            id=self.snowflake(), username=username, global_name=None if bot else username.title(), bot=bot
        )
        self.users[user.id] = user
        if guild is not None:
            self.add_member(guild, user, roles=roles)
        return user

    def add_guild(self, name: str, *, owner: User | None = None, premium_tier: int = 0) -> Guild:
        """A guild with an @everyone role, the bot as a member (with its managed role)."""
        owner = owner or self.owner
        gid = self.snowflake()
        guild = Guild(id=gid, name=name, owner_id=owner.id, premium_tier=premium_tier)
        guild.roles[gid] = Role(id=gid, name="@everyone", permissions=DEFAULT_EVERYONE_PERMISSIONS)
        bot_role = self.add_role(guild, self.bot_user.username, DEFAULT_BOT_PERMISSIONS, managed=True)
        self.guilds[gid] = guild
        self.add_member(guild, owner)
        self.add_member(guild, self.bot_user, roles=[bot_role])
        if self.guild is None:
            self.guild = guild
        return guild

    def add_channel(
        self,
        guild: Guild | None,
        name: str,
        *,
        nsfw: bool = False,
        type: int = GUILD_TEXT,
        topic: str | None = None,
    ) -> Channel:
        guild = guild or self.guild
        assert guild is not None
        ch = Channel(
            id=self.snowflake(),
            name=name,
            type=type,
            guild_id=guild.id,
            nsfw=nsfw,
            position=len(guild.channels),
            topic=topic,
        )
        guild.channels[ch.id] = ch
        self.channels[ch.id] = ch
        if self.channel is None and type == GUILD_TEXT:
            self.channel = ch
        return ch

    def add_role(
        self, guild: Guild | None, name: str, permissions: int = 0, *, managed: bool = False
    ) -> Role:
        guild = guild or self.guild
        assert guild is not None
        role = Role(
            id=self.snowflake(),
            name=name,
            permissions=permissions,
            position=len(guild.roles),
            managed=managed,
        )
        guild.roles[role.id] = role
        return role

    def add_member(
        self, guild: Guild, user: User, *, roles: Iterable[Role | int] = (), nick: str | None = None
    ) -> Member:
        member = guild.members.get(user.id)
        role_ids = [r.id if isinstance(r, Role) else int(r) for r in roles]
        if member is None:
            member = Member(user=user, roles=role_ids, nick=nick)
            guild.members[user.id] = member
        else:
            member.roles = list(dict.fromkeys([*member.roles, *role_ids]))
        return member

    def dm_channel(self, user: User) -> Channel:
        for ch in self.channels.values():
            if ch.type == DM and ch.recipients and ch.recipients[0].id == user.id:
                return ch
        ch = Channel(id=self.snowflake(), name=user.username, type=DM, recipients=[user])
        self.channels[ch.id] = ch
        return ch

    def get_user(self, ref: User | Member | int | str | None) -> User:
        """A user by object, id or username (``None``: the default user)."""
        if ref is None:
            if self.default_user is None:
                raise LookupError("no default user: pass user=")
            return self.default_user
        if isinstance(ref, User):
            return ref
        if isinstance(ref, Member):
            return ref.user
        for user in self.users.values():
            if user.id == ref or user.username == ref:
                return user
        raise LookupError(f"no user {ref!r}")

    def get_channel(self, ref: Channel | int | str, guild: Guild | None = None) -> Channel:
        if isinstance(ref, Channel):
            return ref
        if isinstance(ref, int):
            return self.channels[ref]
        return (guild or self.guild).channel(ref)  # type: ignore[union-attr]

    def upload_limit_for(self, channel: Channel) -> int:
        return self.upload_limit

    def bot_user_payload(self) -> dict[str, Any]:
        data = self.bot_user.payload()
        data.update(
            {
                "bot": True,
                "verified": True,
                "mfa_enabled": False,
                "flags": 0,
                "email": None,
                "locale": "en-US",
            }
        )
        return data

    def application_payload(self) -> dict[str, Any]:
        return {
            "id": str(self.application_id),
            "name": self.application_name,
            "icon": None,
            "description": "localcord test application",
            "rpc_origins": [],
            "bot_public": True,
            "bot_require_code_grant": False,
            "bot": self.bot_user.payload(),
            "terms_of_service_url": None,
            "privacy_policy_url": None,
            "owner": self.owner.payload(),
            "summary": "",
            "verify_key": "0" * 64,
            "team": None,
            "guild_id": None,
            "flags": self.application_flags,
            "tags": [],
            "install_params": None,
            "custom_install_url": None,
            "interactions_endpoint_url": None,
            "role_connections_verification_url": None,
            "approximate_guild_count": len(self.guilds),
            "redirect_uris": [],
            "integration_types_config": {},
        }

    # ------------------------------------------------------------------ commands

    def set_commands(self, guild_id: int | None, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Replace the synced commands of a scope (``None`` = global), keeping ids by (type, name)."""
        previous = {(c["type"], c["name"]): c for c in self.app_commands.get(guild_id, [])}
        stored = []
        for cmd in commands:
            ctype = cmd.get("type", 1)
            old = previous.get((ctype, cmd.get("name")))
            entry = {
                "name_localizations": None,
                "description_localizations": None,
                "default_member_permissions": None,
                "nsfw": False,
                "contexts": None,
                "integration_types": None,
                "description": "",
                **cmd,
                "id": old["id"] if old else str(self.snowflake()),
                "application_id": str(self.application_id),
                "version": str(self.snowflake()),
                "type": ctype,
            }
            if guild_id is not None:
                entry["guild_id"] = str(guild_id)
            stored.append(entry)
        self.app_commands[guild_id] = stored
        self._changed()
        return stored

    def commands(self, guild: Guild | int | None = None) -> list[dict[str, Any]]:
        """Synced commands: global (``guild=None``) or of a guild."""
        gid = guild.id if isinstance(guild, Guild) else guild
        return list(self.app_commands.get(gid, []))

    def find_command(self, name: str, guild_id: int | None, ctype: int = 1) -> dict[str, Any]:
        for scope in ([guild_id] if guild_id is not None else []) + [None]:
            for cmd in self.app_commands.get(scope, []):
                if cmd["name"] == name and cmd["type"] == ctype:
                    return cmd
        synced = sorted({c["name"] for cmds in self.app_commands.values() for c in cmds})
        raise LookupError(f"command {name!r} (type {ctype}) was never synced; synced: {synced}")

    # ------------------------------------------------------------------ messages

    def _image_size(self, data: bytes) -> tuple[int | None, int | None]:
        if not data.startswith((b"\x89PNG", b"\xff\xd8", b"GIF8", b"RIFF")):
            return None, None
        try:
            from PIL import Image

            with Image.open(io.BytesIO(data)) as img:
                return img.size
        except Exception:
            return None, None

    def add_attachment(
        self,
        data: bytes,
        filename: str = "image.png",
        *,
        content_type: str | None = None,
        description: str | None = None,
    ) -> dict[str, Any]:
        """Store a file (as if a user uploaded it) and return its attachment payload; the file is
        served at ``payload["url"]``. Pass the payload as a slash option of type attachment."""
        return self._new_attachment(
            UploadedFile(field="", filename=filename, data=bytes(data), content_type=content_type),
            description=description,
        ).payload()

    def _new_attachment(
        self, f: UploadedFile, *, filename: str | None = None, description: str | None = None
    ) -> StoredAttachment:
        aid = self.snowflake()
        name = filename or f.filename or "file"
        ctype = f.content_type
        if not ctype or ctype == "application/octet-stream":
            ctype = _guess_content_type(name) or ctype
        width, height = self._image_size(f.data)
        att = StoredAttachment(
            id=aid,
            filename=name,
            data=f.data,
            url=f"{self.url}/attachments/{aid}/{quote(name)}",
            content_type=ctype,
            description=description,
            width=width,
            height=height,
        )
        self.attachments[aid] = att
        return att

    def _build_attachments(
        self,
        entries: list[dict[str, Any]] | None,
        files: list[UploadedFile],
        existing: list[StoredAttachment],
    ) -> list[StoredAttachment]:
        by_index: dict[int, UploadedFile] = {}
        for i, f in enumerate(files):
            m = _FILES_FIELD_RE.match(f.field)
            by_index[int(m.group(1)) if m else i] = f
        if entries is None:
            return [*existing, *(self._new_attachment(f) for f in by_index.values())]
        keep = {a.id: a for a in existing}
        result: list[StoredAttachment] = []
        used: set[int] = set()
        for entry in entries:
            try:
                eid = int(entry.get("id"))
            except (TypeError, ValueError):
                continue
            if eid in keep:
                result.append(keep[eid])
            elif eid in by_index and eid not in used:
                used.add(eid)
                result.append(
                    self._new_attachment(
                        by_index[eid], filename=entry.get("filename"), description=entry.get("description")
                    )
                )
        result.extend(self._new_attachment(f) for i, f in by_index.items() if i not in used)
        return result

    async def create_message(
        self,
        channel: Channel,
        author: User,
        data: dict[str, Any],
        files: list[UploadedFile] = (),  # type: ignore[assignment]
        *,
        interaction: InjectedInteraction | None = None,
        flags: int = 0,
        validate: bool = True,
    ) -> StoredMessage:
        """Store a new message (validated like Discord would) and dispatch MESSAGE_CREATE."""
        files = list(files)
        if validate:
            validate_message(data, len(files), creating=True)
        msg = StoredMessage(
            id=self.snowflake(),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author=author,
            content=str(data.get("content") or ""),
            embeds=list(data.get("embeds") or []),
            components=list(data.get("components") or []),
            attachments=self._build_attachments(data.get("attachments"), files, []),
            flags=flags,
            tts=bool(data.get("tts")),
            message_reference=data.get("message_reference"),
        )
        if interaction is not None:
            msg.webhook_id = self.application_id
            msg.application_id = self.application_id
            msg.interaction_id = interaction.id
            msg.type = 20 if interaction.type == 2 and interaction.original_message_id is None else 0
            msg.interaction_metadata = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": interaction.user.payload(),
                "authorizing_integration_owners": {"0": str(interaction.guild_id or 0)},
                **({"name": interaction.data["name"]} if interaction.data.get("name") else {}),
                **(
                    {"interacted_message_id": str(interaction.message_id)}
                    if interaction.message_id is not None
                    else {}
                ),
            }
        msg.history.append(msg.snapshot())
        self.messages[msg.id] = msg
        channel.last_message_id = msg.id
        self._changed()
        await self._dispatch_message("MESSAGE_CREATE", msg)
        return msg

    async def edit_message(
        self,
        msg: StoredMessage,
        data: dict[str, Any],
        files: list[UploadedFile] = (),  # type: ignore[assignment]
        *,
        replace_attachments: bool = False,
    ) -> StoredMessage:
        """Apply a PATCH (only the keys present) and dispatch MESSAGE_UPDATE."""
        files = list(files)
        validate_message(data, len(files), creating=False)
        content = str(data.get("content") or "") if "content" in data else msg.content
        embeds = list(data.get("embeds") or []) if "embeds" in data else msg.embeds
        components = list(data.get("components") or []) if "components" in data else msg.components
        attachments = msg.attachments
        if "attachments" in data or files:
            existing = [] if replace_attachments else msg.attachments
            attachments = self._build_attachments(data.get("attachments"), files, existing)
        if not (content or embeds or attachments or components):
            raise ApiError(400, 50006, "Cannot send an empty message")
        msg.content, msg.embeds, msg.components, msg.attachments = content, embeds, components, attachments
        keep = msg.flags & FLAG_EPHEMERAL
        suppress = msg.flags & FLAG_SUPPRESS_EMBEDS
        if "flags" in data and data["flags"] is not None:
            suppress = int(data["flags"]) & FLAG_SUPPRESS_EMBEDS
        was_loading = msg.loading
        msg.flags = keep | suppress
        if not was_loading:
            msg.edited_timestamp = time.time()
        msg.edits += 1
        msg.changed_at = time.monotonic()
        msg.history.append(msg.snapshot())
        self._changed()
        await self._dispatch_message("MESSAGE_UPDATE", msg)
        return msg

    async def delete_message(self, msg: StoredMessage) -> None:
        msg.deleted = True
        msg.changed_at = time.monotonic()
        self._changed()
        if self.message_events and not msg.ephemeral and self.gateway.session is not None:
            data: dict[str, Any] = {"id": str(msg.id), "channel_id": str(msg.channel_id)}
            if msg.guild_id is not None:
                data["guild_id"] = str(msg.guild_id)
            await self.gateway.broadcast("MESSAGE_DELETE", data)

    async def _dispatch_message(self, event: str, msg: StoredMessage) -> None:
        if not self.message_events or msg.ephemeral:
            return
        for session in list(self.gateway.sessions.values()):
            if session.valid:
                await self.gateway.dispatch(event, self._message_event(msg, session), session)

    def _message_event(self, msg: StoredMessage, session: GatewaySession) -> dict[str, Any]:
        data = msg.payload()
        if msg.guild_id is not None:
            data["guild_id"] = str(msg.guild_id)
            member = self.guilds[msg.guild_id].members.get(msg.author.id)
            if member is not None and msg.webhook_id is None:
                data["member"] = member.payload(with_user=False)
            mentioned = f"<@{self.bot_user.id}>" in msg.content
            if (
                not (session.intents & INTENT_MESSAGE_CONTENT)
                and msg.author.id != self.bot_user.id
                and not mentioned
            ):
                data.update(content="", embeds=[], attachments=[], components=[])
        return data

    def channel_messages(self, channel: Channel | int | str | None = None) -> list[StoredMessage]:
        """Live (not deleted) messages of a channel, oldest first (``None``: every channel)."""
        ch = None if channel is None else self.get_channel(channel)
        return [m for m in self.messages.values() if not m.deleted and (ch is None or m.channel_id == ch.id)]

    def last_message(self, channel: Channel | int | str | None = None) -> StoredMessage | None:
        msgs = self.channel_messages(channel)
        return msgs[-1] if msgs else None

    def message(self, ref: StoredMessage | int) -> StoredMessage:
        msg = ref if isinstance(ref, StoredMessage) else self.messages[int(ref)]
        return msg

    async def send_user_message(
        self,
        content: str,
        *,
        user: User | int | str | None = None,
        channel: Channel | int | str | None = None,
    ) -> StoredMessage:
        """A user posts a message (MESSAGE_CREATE reaches the bot, subject to intents)."""
        author = self.get_user(user)
        ch = self.get_channel(channel) if channel is not None else self.channel
        assert ch is not None
        return await self.create_message(ch, author, {"content": content})

    # ------------------------------------------------------------------ interactions

    def _context(self, user: Any, guild: Any, channel: Any, permissions: int | None) -> SimpleNamespace:
        u = self.get_user(user)
        if channel is not None and not isinstance(channel, str):
            ch = self.get_channel(channel)
            g = self.guilds.get(ch.guild_id) if ch.guild_id is not None else None
        else:
            if guild is DEFAULT:
                g = self.guild
            elif guild is None:
                g = None
            elif isinstance(guild, Guild):
                g = guild
            else:
                g = next(x for x in self.guilds.values() if x.id == guild or x.name == guild)
            if g is None:
                ch = self.dm_channel(u)
            elif channel is None:
                ch = g.text_channels[0]
            else:
                ch = g.channel(channel)
        if g is not None:
            member = g.members.get(u.id) or self.add_member(g, u)
            perms = g.permissions_for(u.id) if permissions is None else permissions
            bot_perms = g.permissions_for(self.bot_user.id)
        else:
            member = None
            perms = ALL_PERMISSIONS & ~ADMINISTRATOR if permissions is None else permissions
            bot_perms = DEFAULT_BOT_PERMISSIONS
        return SimpleNamespace(user=u, guild=g, channel=ch, member=member, perms=perms, bot_perms=bot_perms)

    def _interaction_payload(
        self,
        itype: int,
        data: dict[str, Any] | None,
        ctx: SimpleNamespace,
        *,
        size_limit: int | None,
        locale: str,
    ) -> dict[str, Any]:
        iid = self.snowflake()
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(self.application_id),
            "type": itype,
            "token": f"lc{iid}.{secrets.token_urlsafe(32)}",
            "version": 1,
            "channel_id": str(ctx.channel.id),
            "channel": ctx.channel.interaction_payload(ctx.perms),
            "app_permissions": str(ctx.bot_perms),
            "locale": locale,
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(ctx.guild.id if ctx.guild else 0)},
            "attachment_size_limit": self.upload_limit if size_limit is None else size_limit,
        }
        if data is not None:
            payload["data"] = data
        if ctx.guild is not None:
            payload["guild_id"] = str(ctx.guild.id)
            payload["guild"] = {
                "id": str(ctx.guild.id),
                "locale": "en-US",
                "features": list(ctx.guild.features),
            }
            payload["guild_locale"] = "en-US"
            payload["member"] = ctx.member.payload(permissions=ctx.perms)
            payload["context"] = 0
        else:
            payload["user"] = ctx.user.payload()
            payload["context"] = 1
        return payload

    async def _send_interaction(
        self, payload: dict[str, Any], ctx: SimpleNamespace, message_id: int | None = None
    ) -> InjectedInteraction:
        ix = InjectedInteraction(
            self,
            payload,
            user=ctx.user,
            guild_id=ctx.guild.id if ctx.guild else None,
            channel_id=ctx.channel.id,
            message_id=message_id,
        )
        self.interactions[ix.id] = ix
        self.interactions_by_token[ix.token] = ix
        ix.sent_at = time.monotonic()
        await self.gateway.dispatch("INTERACTION_CREATE", payload)
        self._changed()
        return ix

    async def slash(
        self,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        subcommand: str | None = None,
        user: Any = None,
        guild: Any = DEFAULT,
        channel: Any = None,
        permissions: int | None = None,
        attachment_size_limit: int | None = None,
        locale: str = "en-US",
        validate: bool = True,
    ) -> InjectedInteraction:
        """Invoke a synced slash command as ``user`` (default ``alice``) in ``channel`` (default
        ``#general``; ``guild=None`` for a DM). ``options`` maps option names to Python values:
        str/int/float/bool, a ``User``/``Channel``/``Role`` (or id) for those types, and for an
        attachment option a payload from ``add_attachment`` (or raw ``bytes``). ``subcommand`` is
        ``"sub"`` or ``"group sub"``. ``validate`` applies the checks Discord's client does
        (required options, choices, ranges). Returns once the interaction is sent."""
        ctx = self._context(user, guild, channel, permissions)
        cmd = self.find_command(name, ctx.guild.id if ctx.guild else None)
        if validate:
            self._check_context(cmd, ctx)
        opts, resolved = self._build_options(
            cmd, options or {}, subcommand, ctx, focused=None, validate=validate
        )
        data: dict[str, Any] = {"id": cmd["id"], "name": cmd["name"], "type": 1}
        if opts:
            data["options"] = opts
        if resolved:
            data["resolved"] = resolved
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        payload = self._interaction_payload(2, data, ctx, size_limit=attachment_size_limit, locale=locale)
        return await self._send_interaction(payload, ctx)

    async def autocomplete(
        self,
        name: str,
        options: dict[str, Any] | None,
        focused: str,
        *,
        subcommand: str | None = None,
        user: Any = None,
        guild: Any = DEFAULT,
        channel: Any = None,
        timeout: float = 3.0,
    ) -> list[dict[str, Any]]:
        """Send an autocomplete interaction (``focused`` names the option being typed; its value
        in ``options``, default "") and return the choices the bot answered."""
        ctx = self._context(user, guild, channel, None)
        cmd = self.find_command(name, ctx.guild.id if ctx.guild else None)
        values = dict(options or {})
        values.setdefault(focused, "")
        opts, resolved = self._build_options(cmd, values, subcommand, ctx, focused=focused, validate=False)
        data: dict[str, Any] = {"id": cmd["id"], "name": cmd["name"], "type": 1, "options": opts}
        if resolved:
            data["resolved"] = resolved
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        payload = self._interaction_payload(4, data, ctx, size_limit=None, locale="en-US")
        ix = await self._send_interaction(payload, ctx)
        await self.wait_for(
            lambda: ix.autocomplete_choices, timeout, f"autocomplete choices for {name}.{focused}"
        )
        return list(ix.autocomplete_choices or [])

    async def click(
        self,
        custom_id: str,
        message: StoredMessage | int | None = None,
        *,
        user: Any = None,
        values: list[str] | None = None,
        permissions: int | None = None,
        check: bool = True,
    ) -> InjectedInteraction:
        """Click a button (or pick ``values`` in a select) with ``custom_id`` on ``message``
        (default: the newest message carrying that custom_id). ``check`` refuses a custom_id the
        message does not show, or a disabled component, as Discord's client would."""
        if message is None:
            candidates = [m for m in self.messages.values() if not m.deleted and custom_id in m.custom_ids()]
            if not candidates:
                raise LookupError(f"no message has a component with custom_id {custom_id!r}")
            msg = candidates[-1]
        else:
            msg = self.message(message)
        comp = msg.component(custom_id)
        if check:
            if msg.deleted:
                raise LookupError(f"message {msg.id} was deleted")
            if comp is None:
                raise LookupError(
                    f"message {msg.id} has no component {custom_id!r}; it has {msg.custom_ids()}"
                )
            if comp.get("disabled"):
                raise ValueError(f"component {custom_id!r} is disabled")
        ctype = comp.get("type", 2) if comp else 2
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": ctype}
        if ctype != 2:
            data["values"] = list(values or [])
        ctx = self._context(user, DEFAULT, msg.channel_id, permissions)
        payload = self._interaction_payload(3, data, ctx, size_limit=None, locale="en-US")
        payload["message"] = msg.payload()
        return await self._send_interaction(payload, ctx, message_id=msg.id)

    async def submit_modal(
        self, source: InjectedInteraction, values: dict[str, str], *, user: Any = None
    ) -> InjectedInteraction:
        """Submit the modal the bot opened in answer to ``source`` (a type 9 callback), filling
        text inputs by custom_id from ``values``."""
        modal = source.modal
        if modal is None:
            raise LookupError(f"{source!r} got no modal")

        def fill(comp: dict[str, Any]) -> dict[str, Any]:
            if comp.get("type") == 1:
                return {"type": 1, "components": [fill(c) for c in comp.get("components", [])]}
            if comp.get("type") == 18:
                return {"type": 18, "component": fill(comp.get("component", {}))}
            out = {"type": comp.get("type"), "custom_id": comp.get("custom_id")}
            if comp.get("type") == 4:
                out["value"] = values.get(comp.get("custom_id", ""), comp.get("value") or "")
            else:
                out["values"] = values.get(comp.get("custom_id", ""), [])
            return out

        data = {"custom_id": modal["custom_id"], "components": [fill(c) for c in modal.get("components", [])]}
        ctx = self._context(user or source.user, DEFAULT, source.channel_id, None)
        payload = self._interaction_payload(5, data, ctx, size_limit=None, locale="en-US")
        if source.message_id is not None and source.message_id in self.messages:
            payload["message"] = self.messages[source.message_id].payload()
        return await self._send_interaction(payload, ctx, message_id=source.message_id)

    @staticmethod
    def _check_context(cmd: dict[str, Any], ctx: SimpleNamespace) -> None:
        """Discord only offers a command where its ``contexts`` / ``dm_permission`` allow it.
        (``default_member_permissions`` is not enforced: server admins can override it, so
        the bot must check permissions itself.)"""
        where = 0 if ctx.guild is not None else 1
        contexts = cmd.get("contexts")
        if contexts is not None and where not in contexts:
            raise ValueError(f"/{cmd['name']} is not available in {'guilds' if where == 0 else 'DMs'}")
        if where == 1 and cmd.get("dm_permission") is False:
            raise ValueError(f"/{cmd['name']} is not available in DMs")

    def _build_options(
        self,
        cmd: dict[str, Any],
        values: dict[str, Any],
        subcommand: str | None,
        ctx: SimpleNamespace,
        *,
        focused: str | None,
        validate: bool,
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        schema: list[dict[str, Any]] = cmd.get("options") or []
        path: list[dict[str, Any]] = []
        for part in (subcommand or "").split():
            node = next((o for o in schema if o.get("name") == part and o.get("type") in (1, 2)), None)
            if node is None:
                names = [o.get("name") for o in schema if o.get("type") in (1, 2)]
                raise LookupError(f"/{cmd['name']} has no subcommand {part!r}; it has {names}")
            path.append(node)
            schema = node.get("options") or []
        if any(o.get("type") in (1, 2) for o in schema):
            names = [o.get("name") for o in schema]
            raise LookupError(f"/{cmd['name']} {subcommand or ''} needs a subcommand: one of {names}")
        resolved: dict[str, dict[str, Any]] = {}
        out: list[dict[str, Any]] = []
        by_name = {o["name"]: o for o in schema}
        for key, value in values.items():
            spec = by_name.get(key)
            if spec is None:
                raise LookupError(f"/{cmd['name']} has no option {key!r}; it has {list(by_name)}")
            if value is None:
                continue
            opt = self._option_value(spec, value, ctx, resolved, focused=key == focused, validate=validate)
            if key == focused:
                opt["focused"] = True
            out.append(opt)
        if validate:
            missing = [o["name"] for o in schema if o.get("required") and o["name"] not in values]
            if missing:
                raise ValueError(f"/{cmd['name']}: required options missing: {missing}")
        for node in reversed(path):
            out = [{"type": node["type"], "name": node["name"], "options": out}]
        return out, {k: v for k, v in resolved.items() if v}

    def _option_value(
        self,
        spec: dict[str, Any],
        value: Any,
        ctx: SimpleNamespace,
        resolved: dict[str, dict[str, Any]],
        *,
        focused: bool,
        validate: bool,
    ) -> dict[str, Any]:
        t = spec.get("type")
        name = spec["name"]
        if focused:
            return {"type": t, "name": name, "value": value if isinstance(value, str) else str(value)}
        if t == 3:
            v: Any = str(value)
        elif t == 4:
            v = int(value)
        elif t == 5:
            v = bool(value)
        elif t == 10:
            v = float(value)
        elif t in (6, 9) and not isinstance(value, Role):
            u = self.get_user(value)
            v = str(u.id)
            resolved.setdefault("users", {})[v] = u.payload()
            if ctx.guild is not None and u.id in ctx.guild.members:
                m = ctx.guild.members[u.id]
                resolved.setdefault("members", {})[v] = m.payload(
                    with_user=False, permissions=ctx.guild.permissions_for(u.id)
                )
        elif t == 7:
            ch = self.get_channel(value, ctx.guild)
            v = str(ch.id)
            resolved.setdefault("channels", {})[v] = ch.interaction_payload(ctx.perms)
        elif t in (8, 9):
            role = value if isinstance(value, Role) else ctx.guild.role(value)
            v = str(role.id)
            resolved.setdefault("roles", {})[v] = role.payload()
        elif t == 11:
            if isinstance(value, (bytes, bytearray)):
                att = self.add_attachment(bytes(value), "upload.png")
            elif isinstance(value, StoredAttachment):
                att = value.payload()
            elif isinstance(value, tuple):
                att = self.add_attachment(bytes(value[1]), value[0])
            else:
                att = dict(value)
            v = str(att["id"])
            resolved.setdefault("attachments", {})[v] = att
        else:
            v = value
        if validate:
            choices = spec.get("choices")
            if choices and v not in [c["value"] for c in choices]:
                raise ValueError(
                    f"option {name}={v!r} is not one of its choices {[c['value'] for c in choices]}"
                )
            if t in (4, 10):
                lo, hi = spec.get("min_value"), spec.get("max_value")
                if (lo is not None and v < lo) or (hi is not None and v > hi):
                    raise ValueError(f"option {name}={v!r} is outside [{lo}, {hi}]")
            if t == 3:
                lo, hi = spec.get("min_length"), spec.get("max_length")
                if (lo is not None and len(v) < lo) or (hi is not None and len(v) > hi):
                    raise ValueError(f"option {name} length {len(v)} is outside [{lo}, {hi}]")
        return {"type": t, "name": name, "value": v}

    def expire(self, interaction: InjectedInteraction | str) -> None:
        """Expire an interaction token now (webhooks: 401/50027; callback: 404/10062)."""
        ix = (
            interaction
            if isinstance(interaction, InjectedInteraction)
            else self.interactions_by_token[interaction]
        )
        ix.expire()

    # ------------------------------------------------------------------ faults

    def rate_limit(
        self,
        match: str | Callable[[Call], bool] | None = None,
        *,
        count: int = 1,
        retry_after: float = 0.05,
        is_global: bool = False,
        scope: str = "user",
    ) -> Fault:
        """Answer the next ``count`` matching REST calls with 429 (``retry_after`` seconds,
        ``Via`` and ``X-RateLimit-*`` headers, body ``{"message","retry_after","global"}``)."""
        fault = Fault(
            429,
            count,
            make_matcher(match),
            str(match),
            retry_after=retry_after,
            is_global=is_global,
            scope=scope,
        )
        self.faults.append(fault)
        return fault

    def fail(
        self, match: str | Callable[[Call], bool] | None = None, *, status: int = 500, count: int = 1
    ) -> Fault:
        """Answer the next ``count`` matching REST calls with ``status`` (5xx: discord.py retries
        after 1 s, 3 s, ... up to 5 tries)."""
        fault = Fault(status, count, make_matcher(match), str(match))
        self.faults.append(fault)
        return fault

    def _take_fault(self, call: Call) -> Fault | None:
        for fault in list(self.faults):
            if fault.exhausted:
                self.faults.remove(fault)
                continue
            if fault.matcher(call):
                fault.hits.append(call)
                if fault.exhausted:
                    self.faults.remove(fault)
                return fault
        return None

    async def drop_gateway(self, code: int = 4000, *, resumable: bool = True, abrupt: bool = False) -> float:
        """Close the bot's gateway connection(s) with a non-fatal ``code`` (discord.py reconnects
        and RESUMEs; ``resumable=False``: the RESUME gets op 9 and the bot IDENTIFYs again;
        ``abrupt``: no close frame). Returns the time (monotonic) just before dropping, for
        ``wait_for_gateway(..., since=)``."""
        t0 = time.monotonic()
        await self.gateway.drop(code, resumable=resumable, abrupt=abrupt)
        return t0

    # ------------------------------------------------------------------ recording & waiting

    @staticmethod
    def now() -> float:
        return time.monotonic()

    def _record_call(self, call: Call) -> None:
        call.index = len(self.calls)
        self.calls.append(call)

    def calls_matching(
        self, match: str | Callable[[Call], bool] | None = None, *, since: float | None = None
    ) -> list[Call]:
        pred = make_matcher(match)
        return [c for c in self.calls if (since is None or c.time >= since) and pred(c)]

    def _changed(self) -> None:
        if not self._waiters:
            return
        for entry in list(self._waiters):
            check, fut = entry
            if fut.done():
                self._remove_waiter(entry)
                continue
            try:
                result = check()
            except Exception as exc:
                fut.set_exception(exc)
                self._remove_waiter(entry)
                continue
            if result is not None and result is not False:
                fut.set_result(result)
                self._remove_waiter(entry)

    def _remove_waiter(self, entry: tuple[Callable[[], Any], asyncio.Future[Any]]) -> None:
        if entry in self._waiters:
            self._waiters.remove(entry)

    async def wait_for(
        self, check: Callable[[], T | None], timeout: float = 5.0, what: str = "a condition"
    ) -> T:
        """Wait until ``check()`` returns something other than None/False and return it.

        Re-checked on every recorded call, message change and gateway frame, and every 20 ms
        (so conditions on the bot's own state work too)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = check()
            if result is not None and result is not False:
                return result
            left = deadline - loop.time()
            if left <= 0:
                recent = "\n  ".join(repr(c) for c in self.calls[-12:]) or "(none)"
                raise TimeoutError(
                    f"timed out after {timeout}s waiting for {what}; recent calls:\n  {recent}"
                )
            fut: asyncio.Future[Any] = loop.create_future()
            entry = (check, fut)
            self._waiters.append(entry)
            try:
                return await asyncio.wait_for(asyncio.shield(fut), min(left, 0.02))
            except TimeoutError:
                pass
            finally:
                self._remove_waiter(entry)
                if not fut.done():
                    fut.cancel()

    async def wait_for_message(
        self,
        predicate: Callable[[StoredMessage], Any] | None = None,
        timeout: float = 5.0,
        *,
        since: float | None = None,
        channel: Channel | int | str | None = None,
    ) -> StoredMessage:
        """The first live message (oldest first) satisfying ``predicate`` that was created or
        changed at or after ``since`` (None: any time)."""
        ch = None if channel is None else self.get_channel(channel)

        def check() -> StoredMessage | None:
            for m in self.messages.values():
                if m.deleted or (ch is not None and m.channel_id != ch.id):
                    continue
                if since is not None and m.changed_at < since and m.created_at < since:
                    continue
                if predicate is None or predicate(m):
                    return m
            return None

        return await self.wait_for(check, timeout, "a message matching the predicate")

    async def wait_for_gateway(
        self,
        match: str | Callable[[GatewayFrame], bool],
        timeout: float = 5.0,
        *,
        since: float | None = None,
        direction: str | None = None,
    ) -> GatewayFrame:
        """The first gateway frame since ``since`` matching an event name ("READY", "RESUMED",
        "INTERACTION_CREATE", "CLOSE"), an opcode name ("IDENTIFY", "RESUME", "HEARTBEAT",
        "HEARTBEAT_ACK", "HELLO", "INVALID_SESSION", "RECONNECT") or a predicate."""
        ops = {
            "HEARTBEAT": 1,
            "IDENTIFY": 2,
            "RESUME": 6,
            "RECONNECT": 7,
            "INVALID_SESSION": 9,
            "HELLO": 10,
            "HEARTBEAT_ACK": 11,
        }
        if isinstance(match, str):
            name = match

            def pred(f: GatewayFrame) -> bool:
                return f.t == name or (f.t is None and name in ops and f.op == ops[name])

        else:
            pred = match

        def check() -> GatewayFrame | None:
            for f in self.gateway.frames:
                if (
                    (since is None or f.time >= since)
                    and (direction is None or f.direction == direction)
                    and pred(f)
                ):
                    return f
            return None

        return await self.wait_for(check, timeout, f"gateway frame {match!r}")

    async def wait_for_session(self, timeout: float = 5.0) -> GatewaySession:
        """A connected, identified gateway session (READY sent)."""

        def check() -> GatewaySession | None:
            s = self.gateway.session
            return s if s is not None and s.connected else None

        return await self.wait_for(check, timeout, "a connected gateway session")


def _guess_content_type(filename: str) -> str | None:
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return {
        "png": "image/png",
        "jpg": "image/jpeg",
        "jpeg": "image/jpeg",
        "webp": "image/webp",
        "gif": "image/gif",
        "txt": "text/plain; charset=utf-8",
        "json": "application/json",
    }.get(ext)


__all__ = ["DEFAULT", "FLAG_LOADING", "InjectedInteraction", "LocalDiscord"]
