"""State kept by the local Discord server and the JSON payloads built from it.

Everything here is plain data: users, roles, channels, guilds, stored messages and
attachments, recorded REST calls and gateway frames. Payload builders produce the
shapes discord.py 2.7 parses (see ``discord/types``).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DISCORD_EPOCH_MS = 1420070400000

# Permission bits (https://discord.com/developers/docs/topics/permissions).
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
USE_EXTERNAL_EMOJIS = 1 << 18
CONNECT = 1 << 20
SPEAK = 1 << 21
CHANGE_NICKNAME = 1 << 26
USE_APPLICATION_COMMANDS = 1 << 31
SEND_MESSAGES_IN_THREADS = 1 << 38
ALL_PERMISSIONS = (1 << 51) - 1

DEFAULT_EVERYONE_PERMISSIONS = (
    ADD_REACTIONS
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_EXTERNAL_EMOJIS
    | CONNECT
    | SPEAK
    | CHANGE_NICKNAME
    | USE_APPLICATION_COMMANDS
    | SEND_MESSAGES_IN_THREADS
)
DEFAULT_BOT_PERMISSIONS = DEFAULT_EVERYONE_PERMISSIONS | MANAGE_MESSAGES

# Message flags.
FLAG_SUPPRESS_EMBEDS = 1 << 2
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7

# Channel types.
GUILD_TEXT = 0
DM = 1


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


class SnowflakeGenerator:
    """Time-based snowflakes (Discord epoch), strictly increasing."""

    def __init__(self, worker: int = 1, process: int = 0):
        self._lock = threading.Lock()
        self._last_ms = 0
        self._inc = 0
        self._worker = worker & 0x1F
        self._process = process & 0x1F

    def __call__(self) -> int:
        with self._lock:
            ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
            if ms <= self._last_ms:
                self._inc += 1
                if self._inc >= 4096:
                    self._last_ms += 1
                    self._inc = 0
                ms = self._last_ms
            else:
                self._inc = 0
                self._last_ms = ms
            return (ms << 22) | (self._worker << 17) | (self._process << 12) | self._inc


def snowflake_time(snowflake: int) -> float:
    """Unix time (seconds) encoded in a snowflake."""
    return ((int(snowflake) >> 22) + DISCORD_EPOCH_MS) / 1000.0


# --------------------------------------------------------------------------- entities


@dataclass
class User:
    id: int
    username: str
    global_name: str | None = None
    bot: bool = False
    avatar: str | None = None
    discriminator: str = "0"

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "username": self.username,
            "global_name": self.global_name,
            "discriminator": self.discriminator,
            "avatar": self.avatar,
            "public_flags": 0,
        }
        if self.bot:
            data["bot"] = True
        return data

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"


@dataclass
class Role:
    id: int
    name: str
    permissions: int = 0
    position: int = 0
    managed: bool = False
    color: int = 0

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": self.color,
            "colors": {"primary_color": self.color, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": self.managed,
            "mentionable": False,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }


@dataclass
class Channel:
    id: int
    name: str
    type: int = GUILD_TEXT
    guild_id: int | None = None
    nsfw: bool = False
    position: int = 0
    topic: str | None = None
    parent_id: int | None = None
    recipients: list[User] = field(default_factory=list)
    last_message_id: int | None = None

    def payload(self) -> dict[str, Any]:
        if self.type == DM:
            return {
                "id": str(self.id),
                "type": DM,
                "last_message_id": str(self.last_message_id) if self.last_message_id else None,
                "recipients": [u.payload() for u in self.recipients],
                "flags": 0,
            }
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "name": self.name,
            "position": self.position,
            "nsfw": self.nsfw,
            "topic": self.topic,
            "parent_id": str(self.parent_id) if self.parent_id else None,
            "permission_overwrites": [],
            "rate_limit_per_user": 0,
            "last_message_id": str(self.last_message_id) if self.last_message_id else None,
            "flags": 0,
        }
        if self.guild_id is not None:
            data["guild_id"] = str(self.guild_id)
        return data

    def interaction_payload(self, permissions: int) -> dict[str, Any]:
        """The partial channel sent in INTERACTION_CREATE (and resolved.channels)."""
        data = self.payload()
        data["permissions"] = str(permissions)
        return data

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"


@dataclass
class Member:
    user: User
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: float = field(default_factory=time.time)

    def payload(self, *, with_user: bool = True, permissions: int | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "roles": [str(r) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": _iso(self.joined_at),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.payload()
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, Role] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    premium_tier: int = 0
    features: list[str] = field(default_factory=list)
    nsfw_level: int = 0

    @property
    def everyone(self) -> Role:
        return self.roles[self.id]

    def channel(self, name_or_id: str | int) -> Channel:
        for ch in self.channels.values():
            if ch.id == name_or_id or ch.name == name_or_id:
                return ch
        raise KeyError(f"no channel {name_or_id!r} in guild {self.name!r}")

    def role(self, name_or_id: str | int) -> Role:
        for role in self.roles.values():
            if role.id == name_or_id or role.name == name_or_id:
                return role
        raise KeyError(f"no role {name_or_id!r} in guild {self.name!r}")

    @property
    def text_channels(self) -> list[Channel]:
        return [c for c in self.channels.values() if c.type == GUILD_TEXT]

    def permissions_for(self, user_id: int) -> int:
        """Guild-level permissions of a member (no channel overwrites)."""
        if user_id == self.owner_id:
            return ALL_PERMISSIONS
        perms = self.everyone.permissions
        member = self.members.get(user_id)
        if member is not None:
            for rid in member.roles:
                role = self.roles.get(rid)
                if role is not None:
                    perms |= role.permissions
        if perms & ADMINISTRATOR:
            return ALL_PERMISSIONS
        return perms

    def payload(self, *, members: bool = True) -> dict[str, Any]:
        """A full guild object, as in GUILD_CREATE."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "region": None,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [r.payload() for r in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": list(self.features),
            "mfa_level": 0,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "premium_tier": self.premium_tier,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "nsfw_level": self.nsfw_level,
            "premium_progress_bar_enabled": False,
            "member_count": len(self.members),
            "large": False,
            "unavailable": False,
            "joined_at": _iso(time.time()),
            "channels": [c.payload() for c in self.channels.values()],
            "threads": [],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }
        data["members"] = [m.payload() for m in self.members.values()] if members else []
        return data


# --------------------------------------------------------------------------- messages


@dataclass
class StoredAttachment:
    """A file the server holds: uploaded by a test (``add_attachment``) or by the bot."""

    id: int
    filename: str
    data: bytes
    url: str
    content_type: str | None = None
    description: str | None = None
    width: int | None = None
    height: int | None = None
    ephemeral: bool = False

    @property
    def size(self) -> int:
        return len(self.data)

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "filename": self.filename,
            "size": self.size,
            "url": self.url,
            "proxy_url": self.url,
        }
        if self.content_type:
            data["content_type"] = self.content_type
        if self.description:
            data["description"] = self.description
        if self.width is not None:
            data["width"] = self.width
            data["height"] = self.height
        if self.ephemeral:
            data["ephemeral"] = True
        return data


def walk_components(components: list[dict[str, Any]] | None) -> Iterator[dict[str, Any]]:
    """Every component, depth first (action rows, containers, sections, labels included)."""
    for comp in components or []:
        yield comp
        yield from walk_components(comp.get("components"))
        for key in ("accessory", "component"):
            inner = comp.get(key)
            if isinstance(inner, dict):
                yield from walk_components([inner])


# Component types that carry a custom_id the user can interact with.
INTERACTIVE_COMPONENT_TYPES = {2, 3, 5, 6, 7, 8}


@dataclass
class StoredMessage:
    """A message as the server holds it; ``payload()`` is what REST/gateway return."""

    id: int
    channel_id: int
    author: User
    guild_id: int | None = None
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[StoredAttachment] = field(default_factory=list)
    flags: int = 0
    tts: bool = False
    webhook_id: int | None = None
    application_id: int | None = None
    interaction_id: int | None = None
    interaction_metadata: dict[str, Any] | None = None
    message_reference: dict[str, Any] | None = None
    type: int = 0
    timestamp: float = field(default_factory=time.time)
    edited_timestamp: float | None = None
    created_at: float = field(default_factory=time.monotonic)
    changed_at: float = field(default_factory=time.monotonic)
    edits: int = 0
    deleted: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)
    reactions: dict[str, int] = field(default_factory=dict)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & FLAG_EPHEMERAL)

    @property
    def loading(self) -> bool:
        """True while this is a deferred ("thinking") response not yet edited."""
        return bool(self.flags & FLAG_LOADING)

    def iter_components(self) -> Iterator[dict[str, Any]]:
        return walk_components(self.components)

    def custom_ids(self) -> list[str]:
        """custom_ids of buttons/selects on the message, in display order."""
        return [
            c["custom_id"]
            for c in self.iter_components()
            if c.get("type") in INTERACTIVE_COMPONENT_TYPES and c.get("custom_id")
        ]

    def buttons(self) -> list[dict[str, Any]]:
        return [c for c in self.iter_components() if c.get("type") == 2]

    def component(self, custom_id: str) -> dict[str, Any] | None:
        for c in self.iter_components():
            if c.get("custom_id") == custom_id:
                return c
        return None

    def button(self, label: str) -> dict[str, Any]:
        """The first button whose label is (or contains) ``label``."""
        buttons = self.buttons()
        for b in buttons:
            if b.get("label") == label:
                return b
        for b in buttons:
            if label in (b.get("label") or ""):
                return b
        raise KeyError(f"no button labelled {label!r}; labels: {[b.get('label') for b in buttons]}")

    def attachment(self, filename: str | None = None) -> StoredAttachment:
        for a in self.attachments:
            if filename is None or a.filename == filename:
                return a
        raise KeyError(f"no attachment {filename!r}; have {[a.filename for a in self.attachments]}")

    @property
    def text(self) -> str:
        """Content plus embed titles/descriptions/fields, handy for assertions."""
        parts = [self.content]
        for e in self.embeds:
            for key in ("title", "description"):
                if e.get(key):
                    parts.append(str(e[key]))
            for f in e.get("fields", []) or []:
                parts.append(f"{f.get('name', '')}: {f.get('value', '')}")
            footer = e.get("footer") or {}
            if footer.get("text"):
                parts.append(str(footer["text"]))
            author = e.get("author") or {}
            if author.get("name"):
                parts.append(str(author["name"]))
        return "\n".join(p for p in parts if p)

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "channel_id": str(self.channel_id),
            "type": self.type,
            "content": self.content,
            "author": self.author.payload(),
            "embeds": list(self.embeds),
            "attachments": [a.payload() for a in self.attachments],
            "components": list(self.components),
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": self.tts,
            "timestamp": _iso(self.timestamp),
            "edited_timestamp": _iso(self.edited_timestamp) if self.edited_timestamp else None,
            "flags": self.flags,
        }
        if self.webhook_id is not None:
            data["webhook_id"] = str(self.webhook_id)
        if self.application_id is not None:
            data["application_id"] = str(self.application_id)
        if self.interaction_metadata is not None:
            data["interaction_metadata"] = self.interaction_metadata
        if self.message_reference is not None:
            data["message_reference"] = self.message_reference
        if self.reactions:
            data["reactions"] = [
                {"count": n, "me": True, "emoji": {"id": None, "name": name}}
                for name, n in self.reactions.items()
            ]
        return data

    def snapshot(self) -> dict[str, Any]:
        return {
            "content": self.content,
            "embeds": list(self.embeds),
            "components": list(self.components),
            "attachments": [a.filename for a in self.attachments],
            "flags": self.flags,
        }


# --------------------------------------------------------------------------- records


@dataclass
class UploadedFile:
    field: str
    filename: str
    data: bytes
    content_type: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class Call:
    """One REST request the server received."""

    method: str
    path: str  # relative to /api/v10 for API routes, else the raw path
    query: dict[str, str]
    json: Any
    files: list[UploadedFile]
    time: float  # time.monotonic() on arrival
    headers: dict[str, str]
    status: int | None = None
    response: Any = None
    injected: str | None = None  # "429" / "500" ... when a fault answered it
    index: int = 0

    @property
    def route(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def file_sizes(self) -> dict[str, int]:
        return {f.filename: f.size for f in self.files}

    def __repr__(self) -> str:
        extra = f" files={self.file_sizes}" if self.files else ""
        inj = f" injected={self.injected}" if self.injected else ""
        return f"<Call #{self.index} {self.route} -> {self.status}{inj}{extra}>"


@dataclass
class GatewayFrame:
    """One gateway frame: ``direction`` is "send" (server -> bot) or "recv" (bot -> server)."""

    direction: str
    op: int | None
    t: str | None
    s: int | None
    d: Any
    time: float
    connection: int
    close_code: int | None = None

    def __repr__(self) -> str:
        name = self.t or {0: "DISPATCH", 1: "HEARTBEAT", 2: "IDENTIFY", 3: "PRESENCE", 6: "RESUME"}.get(
            self.op or -1, f"op{self.op}"
        )
        return f"<Frame {self.direction} #{self.connection} {name} s={self.s}>"


@dataclass
class CallbackRecord:
    """An interaction callback (POST /interactions/{id}/{token}/callback) that was accepted."""

    type: int
    data: dict[str, Any] | None
    elapsed: float  # seconds since the interaction was sent on the gateway
    files: list[UploadedFile]
    call: Call


_counter = itertools.count(1)


def next_connection_id() -> int:
    return next(_counter)
