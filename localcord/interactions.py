"""What users do, injected into the bot: slash commands, autocomplete, button and select
clicks, modal submits (each an INTERACTION_CREATE, kept as an ``InjectedInteraction`` with
everything the bot answered to it), and plain channel messages."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

from .attachments import Attachments
from .changes import Changes
from .config import Config
from .gateway import Gateway
from .messages import Messages
from .models import (
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    DEFAULT_BOT_PERMISSIONS,
    Call,
    CallbackRecord,
    Guild,
    StoredMessage,
    UploadedFile,
    User,
)
from .options import OptionBuilder, Where, check_offered
from .state import State

# Interaction types.
APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
AUTOCOMPLETE = 4
MODAL_SUBMIT = 5

BUTTON = 2  # component type
MESSAGE_COMMAND = 3  # application command type: a message's context menu


class _Default:
    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT: Any = _Default()
"""Sentinel: "the default guild" (``guild=None`` means a DM)."""


class InjectedInteraction:
    """An interaction the server sent to the bot, and everything the bot answered to it."""

    def __init__(
        self,
        payload: dict[str, Any],
        *,
        user: User,
        guild_id: int | None,
        channel_id: int,
        message_id: int | None = None,
        state: State,
        changes: Changes,
        config: Config,
    ):
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
        self._state = state
        self._changes = changes
        self._config = config

    def __repr__(self) -> str:
        name = self.data.get("name") or self.data.get("custom_id")
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
        return self._state.live_message(self.original_message_id)

    @property
    def followups(self) -> list[StoredMessage]:
        """Followup messages (the first one after a defer *is* the original, edited)."""
        live = (self._state.live_message(mid) for mid in self.followup_ids)
        return [msg for msg in live if msg is not None]

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
        return self.expired or at - self.sent_at > self._config.token_ttl

    def callback_expired(self, at: float | None = None) -> bool:
        at = time.monotonic() if at is None else at
        deadline = self._config.callback_deadline
        return self.token_expired(at) or (deadline is not None and at - self.sent_at > deadline)

    def expire(self) -> None:
        """From now on: callbacks answer 404/10062, webhook calls 401/50027."""
        self.expired = True

    # -- waiting

    async def wait_response(self, timeout: float = 5.0) -> CallbackRecord:
        """The interaction's callback (defer, message, update, autocomplete, modal)."""
        return await self._changes.wait_for(lambda: self.response, timeout, f"a callback to {self!r}")

    async def wait_original(
        self, predicate: Callable[[StoredMessage], Any] | None = None, timeout: float = 5.0
    ) -> StoredMessage:
        """The original response message once ``predicate(message)`` holds (default: exists)."""

        def check() -> StoredMessage | None:
            msg = self.original
            if msg is not None and (predicate is None or predicate(msg)):
                return msg
            return None

        return await self._changes.wait_for(check, timeout, f"the original response of {self!r}")

    async def wait_followup(
        self, predicate: Callable[[StoredMessage], Any] | None = None, timeout: float = 5.0
    ) -> StoredMessage:
        """The first followup message satisfying ``predicate`` (default: any)."""

        def check() -> StoredMessage | None:
            for msg in self.followups:
                if predicate is None or predicate(msg):
                    return msg
            return None

        return await self._changes.wait_for(check, timeout, f"a followup of {self!r}")


class Injector:
    """Sends what users do to the bot, as Discord's client would (and refuses what it would not)."""

    def __init__(
        self,
        state: State,
        attachments: Attachments,
        messages: Messages,
        gateway: Gateway,
        changes: Changes,
        config: Config,
    ) -> None:
        self.state = state
        self.messages = messages
        self.gateway = gateway
        self.changes = changes
        self.config = config
        self.options = OptionBuilder(state, attachments)

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
        """``LocalDiscord.slash``: an APPLICATION_COMMAND interaction; returns once sent."""
        where = self.where(user, guild, channel, permissions)
        cmd = self.state.find_command(name, where.guild.id if where.guild else None)
        if validate:
            check_offered(cmd, where)
        opts, resolved = self.options.build(
            cmd, options or {}, subcommand, where, focused=None, validate=validate
        )
        data: dict[str, Any] = {"id": cmd["id"], "name": cmd["name"], "type": 1}
        if opts:
            data["options"] = opts
        if resolved:
            data["resolved"] = resolved
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        payload = self._payload(
            APPLICATION_COMMAND, data, where, size_limit=attachment_size_limit, locale=locale
        )
        return await self._send(payload, where)

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
        """``LocalDiscord.autocomplete``: the choices the bot answered."""
        where = self.where(user, guild, channel, None)
        cmd = self.state.find_command(name, where.guild.id if where.guild else None)
        values = dict(options or {})
        values.setdefault(focused, "")
        opts, resolved = self.options.build(cmd, values, subcommand, where, focused=focused, validate=False)
        data: dict[str, Any] = {"id": cmd["id"], "name": cmd["name"], "type": 1, "options": opts}
        if resolved:
            data["resolved"] = resolved
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        payload = self._payload(AUTOCOMPLETE, data, where, size_limit=None, locale="en-US")
        ix = await self._send(payload, where)
        await self.changes.wait_for(
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
        """``LocalDiscord.click``: a MESSAGE_COMPONENT interaction on ``message``."""
        if message is None:
            msg = self.state.newest_message_with(custom_id)
            if msg is None:
                raise LookupError(f"no message has a component with custom_id {custom_id!r}")
        else:
            msg = self.state.message(message)
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
        ctype = comp.get("type", BUTTON) if comp else BUTTON
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": ctype}
        if ctype != BUTTON:
            data["values"] = list(values or [])
        where = self.where(user, DEFAULT, msg.channel_id, permissions)
        payload = self._payload(MESSAGE_COMPONENT, data, where, size_limit=None, locale="en-US")
        payload["message"] = msg.payload()
        return await self._send(payload, where, message_id=msg.id)

    async def submit_modal(
        self, source: InjectedInteraction, values: dict[str, str], *, user: Any = None
    ) -> InjectedInteraction:
        """``LocalDiscord.submit_modal``: a MODAL_SUBMIT with the text inputs filled."""
        modal = source.modal
        if modal is None:
            raise LookupError(f"{source!r} got no modal")

        def fill(comp: dict[str, Any]) -> dict[str, Any]:
            if comp.get("type") == 1:  # action row
                return {"type": 1, "components": [fill(c) for c in comp.get("components", [])]}
            if comp.get("type") == 18:  # label
                return {"type": 18, "component": fill(comp.get("component", {}))}
            out = {"type": comp.get("type"), "custom_id": comp.get("custom_id")}
            if comp.get("type") == 4:  # text input
                out["value"] = values.get(comp.get("custom_id", ""), comp.get("value") or "")
            else:
                out["values"] = values.get(comp.get("custom_id", ""), [])
            return out

        data = {"custom_id": modal["custom_id"], "components": [fill(c) for c in modal.get("components", [])]}
        where = self.where(user or source.user, DEFAULT, source.channel_id, None)
        payload = self._payload(MODAL_SUBMIT, data, where, size_limit=None, locale="en-US")
        if source.message_id is not None and source.message_id in self.state.messages:
            payload["message"] = self.state.messages[source.message_id].payload()
        return await self._send(payload, where, message_id=source.message_id)

    def expire(self, interaction: InjectedInteraction | str) -> None:
        """Expire an interaction token now (webhooks: 401/50027; callback: 404/10062)."""
        if not isinstance(interaction, InjectedInteraction):
            interaction = self.state.interactions_by_token[interaction]
        interaction.expire()

    async def send_user_message(
        self,
        content: str,
        *,
        user: User | int | str | None = None,
        channel: Any = None,
        files: dict[str, bytes] | None = None,
    ) -> StoredMessage:
        """A user posts a message (MESSAGE_CREATE reaches the bot, subject to intents)."""
        author = self.state.get_user(user)
        ch = self.state.get_channel(channel) if channel is not None else self.state.channel
        assert ch is not None
        uploads = [
            UploadedFile(field=f"files[{i}]", filename=name, data=data)
            for i, (name, data) in enumerate((files or {}).items())
        ]
        return await self.messages.create(ch, author, {"content": content}, uploads)

    async def message_command(
        self, name: str, message: StoredMessage | int, *, user: Any = None, permissions: int | None = None
    ) -> InjectedInteraction:
        """``LocalDiscord.message_command``: an APPLICATION_COMMAND of type 3 (a message context
        menu) targeting ``message``, which comes ``resolved`` as Discord sends it."""
        msg = self.state.message(message)
        where = self.where(user, DEFAULT, msg.channel_id, permissions)
        cmd = self.state.find_command(name, where.guild.id if where.guild else None, ctype=MESSAGE_COMMAND)
        check_offered(cmd, where)
        data: dict[str, Any] = {
            "id": cmd["id"],
            "name": cmd["name"],
            "type": MESSAGE_COMMAND,
            "target_id": str(msg.id),
            "resolved": {"messages": {str(msg.id): msg.payload()}},
        }
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        payload = self._payload(APPLICATION_COMMAND, data, where, size_limit=None, locale="en-US")
        return await self._send(payload, where)

    # ------------------------------------------------------------------ building and sending

    def where(self, user: Any, guild: Any, channel: Any, permissions: int | None) -> Where:
        """Who (default: alice) acts where: ``channel`` (object, id, or a name in ``guild``),
        else ``guild``'s first text channel, or a DM when ``guild`` is None."""
        u = self.state.get_user(user)
        g: Guild | None
        if channel is not None and not isinstance(channel, str):
            ch = self.state.get_channel(channel)
            g = self.state.guilds.get(ch.guild_id) if ch.guild_id is not None else None
        else:
            if guild is DEFAULT:
                g = self.state.guild
            elif guild is None:
                g = None
            else:
                g = self.state.get_guild(guild)
            if g is None:
                ch = self.state.dm_channel(u)
            elif channel is None:
                ch = g.text_channels[0]
            else:
                ch = g.channel(channel)
        if g is not None:
            member = g.members.get(u.id) or self.state.add_member(g, u)
            perms = g.permissions_for(u.id) if permissions is None else permissions
            bot_perms = g.permissions_for(self.state.bot_user.id)
        else:
            member = None
            perms = ALL_PERMISSIONS & ~ADMINISTRATOR if permissions is None else permissions
            bot_perms = DEFAULT_BOT_PERMISSIONS
        return Where(user=u, guild=g, channel=ch, member=member, perms=perms, bot_perms=bot_perms)

    def _payload(
        self,
        itype: int,
        data: dict[str, Any] | None,
        where: Where,
        *,
        size_limit: int | None,
        locale: str,
    ) -> dict[str, Any]:
        iid = self.state.snowflake()
        guild = where.guild
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(self.state.application_id),
            "type": itype,
            "token": f"lc{iid}.{secrets.token_urlsafe(32)}",
            "version": 1,
            "channel_id": str(where.channel.id),
            "channel": where.channel.interaction_payload(where.perms),
            "app_permissions": str(where.bot_perms),
            "locale": locale,
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild.id if guild else 0)},
            "attachment_size_limit": self.config.upload_limit if size_limit is None else size_limit,
        }
        if data is not None:
            payload["data"] = data
        if guild is not None:
            assert where.member is not None
            payload["guild_id"] = str(guild.id)
            payload["guild"] = {"id": str(guild.id), "locale": "en-US", "features": list(guild.features)}
            payload["guild_locale"] = "en-US"
            payload["member"] = where.member.payload(permissions=where.perms)
            payload["context"] = 0
        else:
            payload["user"] = where.user.payload()
            payload["context"] = 1
        return payload

    async def _send(
        self, payload: dict[str, Any], where: Where, message_id: int | None = None
    ) -> InjectedInteraction:
        ix = InjectedInteraction(
            payload,
            user=where.user,
            guild_id=where.guild.id if where.guild else None,
            channel_id=where.channel.id,
            message_id=message_id,
            state=self.state,
            changes=self.changes,
            config=self.config,
        )
        self.state.add_interaction(ix)
        ix.sent_at = time.monotonic()
        await self.gateway.dispatch("INTERACTION_CREATE", payload)
        self.changes.notify()
        return ix
