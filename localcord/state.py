"""The world the server holds: users, guilds (roles, members, channels), synced commands,
messages, attachments and injected interactions, with the lookups the other parts share.

Plain data and lookups only: sending events and answering HTTP happen elsewhere, and whoever
changes something here calls ``Changes.notify()``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .models import (
    ADMINISTRATOR,
    ATTACH_FILES,
    DEFAULT_BOT_PERMISSIONS,
    DEFAULT_EVERYONE_PERMISSIONS,
    DM,
    EMBED_LINKS,
    GUILD_TEXT,
    MANAGE_GUILD,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    Channel,
    Guild,
    Member,
    Role,
    SnowflakeGenerator,
    StoredAttachment,
    StoredMessage,
    User,
)

if TYPE_CHECKING:
    from .interactions import InjectedInteraction

# What a bot may do in a DM (no guild roles there).
DM_BOT_PERMISSIONS = SEND_MESSAGES | ATTACH_FILES | EMBED_LINKS | READ_MESSAGE_HISTORY | VIEW_CHANNEL


class State:
    def __init__(self, bot_name: str) -> None:
        self.snowflake = SnowflakeGenerator()
        self.users: dict[int, User] = {}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, StoredMessage] = {}
        self.attachments: dict[int, StoredAttachment] = {}
        self.app_commands: dict[int | None, list[dict[str, Any]]] = {}  # scope (guild id, None) -> synced
        self.interactions: dict[int, InjectedInteraction] = {}
        self.interactions_by_token: dict[str, InjectedInteraction] = {}

        self.bot_user = self.add_user(bot_name, bot=True)
        self.application_id = self.bot_user.id
        self.application_flags = 0
        self.application_name = bot_name
        self.owner = self.add_user("owner")
        # The defaults of the injection helpers: the first guild, its first text channel, alice.
        self.guild: Guild | None = None
        self.channel: Channel | None = None
        self.default_user: User | None = None

    # ------------------------------------------------------------------ building the world

    def build_default_world(self) -> None:
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
        """The DM channel with ``user`` (opened on first use)."""
        for ch in self.channels.values():
            if ch.type == DM and ch.recipients and ch.recipients[0].id == user.id:
                return ch
        ch = Channel(id=self.snowflake(), name=user.username, type=DM, recipients=[user])
        self.channels[ch.id] = ch
        return ch

    # ------------------------------------------------------------------ lookups

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
        """A channel by object, id, or name in ``guild`` (default: the default guild)."""
        if isinstance(ref, Channel):
            return ref
        if isinstance(ref, int):
            return self.channels[ref]
        return (guild or self.guild).channel(ref)  # type: ignore[union-attr]

    def get_guild(self, ref: Guild | int | str) -> Guild:
        """A guild by object, id or name."""
        if isinstance(ref, Guild):
            return ref
        return next(g for g in self.guilds.values() if g.id == ref or g.name == ref)

    def bot_permissions(self, channel: Channel) -> int:
        if channel.guild_id is None:
            return DM_BOT_PERMISSIONS
        return self.guilds[channel.guild_id].permissions_for(self.bot_user.id)

    # ------------------------------------------------------------------ the bot's account

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

    def set_commands(self, scope: int | None, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Replace the synced commands of a scope (``None`` = global), keeping ids by (type, name)."""
        previous = {(c["type"], c["name"]): c for c in self.app_commands.get(scope, [])}
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
            if scope is not None:
                entry["guild_id"] = str(scope)
            stored.append(entry)
        self.app_commands[scope] = stored
        return stored

    def commands(self, scope: int | None = None) -> list[dict[str, Any]]:
        """Synced commands of a scope: global (``None``) or a guild's id."""
        return list(self.app_commands.get(scope, []))

    def command_by_id(self, scope: int | None, command_id: str) -> dict[str, Any] | None:
        return next((c for c in self.app_commands.get(scope, []) if c["id"] == command_id), None)

    def remove_command(self, scope: int | None, command: dict[str, Any]) -> None:
        self.app_commands[scope].remove(command)

    def find_command(self, name: str, guild_id: int | None, ctype: int = 1) -> dict[str, Any]:
        """The command a user in ``guild_id`` (None: a DM) sees as ``name``: the guild's, else global."""
        for scope in ([guild_id] if guild_id is not None else []) + [None]:
            for cmd in self.app_commands.get(scope, []):
                if cmd["name"] == name and cmd["type"] == ctype:
                    return cmd
        synced = sorted({c["name"] for cmds in self.app_commands.values() for c in cmds})
        raise LookupError(f"command {name!r} (type {ctype}) was never synced; synced: {synced}")

    # ------------------------------------------------------------------ messages

    def add_message(self, msg: StoredMessage) -> None:
        self.messages[msg.id] = msg
        self.channels[msg.channel_id].last_message_id = msg.id

    def live_message(self, message_id: int | None) -> StoredMessage | None:
        """The message, unless it is unknown or deleted."""
        msg = self.messages.get(message_id or 0)
        return None if msg is None or msg.deleted else msg

    def message(self, ref: StoredMessage | int) -> StoredMessage:
        return ref if isinstance(ref, StoredMessage) else self.messages[int(ref)]

    def channel_messages(self, channel: Channel | int | str | None = None) -> list[StoredMessage]:
        """Live (not deleted) messages of a channel, oldest first (``None``: every channel)."""
        ch = None if channel is None else self.get_channel(channel)
        return [m for m in self.messages.values() if not m.deleted and (ch is None or m.channel_id == ch.id)]

    def find_message(
        self,
        predicate: Callable[[StoredMessage], Any] | None = None,
        *,
        since: float | None = None,
        channel: Channel | int | str | None = None,
    ) -> StoredMessage | None:
        """The first live message (oldest first) satisfying ``predicate`` that was created or
        changed at or after ``since`` (None: any time)."""
        for m in self.channel_messages(channel):
            if since is not None and m.changed_at < since and m.created_at < since:
                continue
            if predicate is None or predicate(m):
                return m
        return None

    def newest_message_with(self, custom_id: str) -> StoredMessage | None:
        """The newest live message showing a component with ``custom_id``."""
        candidates = [m for m in self.messages.values() if not m.deleted and custom_id in m.custom_ids()]
        return candidates[-1] if candidates else None

    # ------------------------------------------------------------------ interactions

    def add_interaction(self, ix: InjectedInteraction) -> None:
        self.interactions[ix.id] = ix
        self.interactions_by_token[ix.token] = ix
