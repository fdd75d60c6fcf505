"""Messages as Discord makes them: validated, stored with their files, and announced on the
gateway (MESSAGE_CREATE / UPDATE / DELETE, without content for a bot lacking the intent)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from . import errors
from .attachments import Attachments
from .changes import Changes
from .config import Config
from .gateway import INTENT_MESSAGE_CONTENT, Gateway
from .models import FLAG_EPHEMERAL, FLAG_SUPPRESS_EMBEDS, Channel, StoredMessage, UploadedFile, User
from .state import State
from .validation import validate_message

if TYPE_CHECKING:
    from .interactions import InjectedInteraction

APPLICATION_COMMAND_REPLY = 20  # message type of an interaction's first response to a slash command


class Messages:
    def __init__(
        self, state: State, attachments: Attachments, gateway: Gateway, changes: Changes, config: Config
    ) -> None:
        self.state = state
        self.attachments = attachments
        self.gateway = gateway
        self.changes = changes
        self.config = config

    async def create(
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
            id=self.state.snowflake(),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author=author,
            content=str(data.get("content") or ""),
            embeds=list(data.get("embeds") or []),
            components=list(data.get("components") or []),
            attachments=self.attachments.for_message(data.get("attachments"), files, []),
            flags=flags,
            tts=bool(data.get("tts")),
            message_reference=data.get("message_reference"),
        )
        if interaction is not None:
            self._mark_as_response(msg, interaction)
        msg.history.append(msg.snapshot())
        self.state.add_message(msg)
        self.changes.notify()
        await self._dispatch("MESSAGE_CREATE", msg)
        return msg

    def _mark_as_response(self, msg: StoredMessage, ix: InjectedInteraction) -> None:
        app_id = self.state.application_id
        msg.webhook_id = app_id
        msg.application_id = app_id
        msg.interaction_id = ix.id
        first_reply = ix.type == 2 and ix.original_message_id is None
        msg.type = APPLICATION_COMMAND_REPLY if first_reply else 0
        msg.interaction_metadata = {
            "id": str(ix.id),
            "type": ix.type,
            "user": ix.user.payload(),
            "authorizing_integration_owners": {"0": str(ix.guild_id or 0)},
            **({"name": ix.data["name"]} if ix.data.get("name") else {}),
            **({"interacted_message_id": str(ix.message_id)} if ix.message_id is not None else {}),
        }

    async def edit(
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
            attachments = self.attachments.for_message(data.get("attachments"), files, existing)
        if not (content or embeds or attachments or components):
            raise errors.empty_message()
        msg.content, msg.embeds, msg.components, msg.attachments = content, embeds, components, attachments
        keep = msg.flags & FLAG_EPHEMERAL
        suppress = msg.flags & FLAG_SUPPRESS_EMBEDS
        if "flags" in data and data["flags"] is not None:
            suppress = int(data["flags"]) & FLAG_SUPPRESS_EMBEDS
        was_loading = msg.loading
        msg.flags = keep | suppress
        if not was_loading:  # the edit that replaces "thinking..." is not shown as an edit
            msg.edited_timestamp = time.time()
        msg.edits += 1
        msg.changed_at = time.monotonic()
        msg.history.append(msg.snapshot())
        self.changes.notify()
        await self._dispatch("MESSAGE_UPDATE", msg)
        return msg

    async def delete(self, msg: StoredMessage) -> None:
        msg.deleted = True
        msg.changed_at = time.monotonic()
        self.changes.notify()
        if self.config.message_events and not msg.ephemeral:
            data: dict[str, Any] = {"id": str(msg.id), "channel_id": str(msg.channel_id)}
            if msg.guild_id is not None:
                data["guild_id"] = str(msg.guild_id)
            await self.gateway.broadcast("MESSAGE_DELETE", data)

    async def _dispatch(self, event: str, msg: StoredMessage) -> None:
        if not self.config.message_events or msg.ephemeral:
            return
        for session in self.gateway.valid_sessions():
            await self.gateway.dispatch(event, self._event_payload(msg, session.intents), session)

    def _event_payload(self, msg: StoredMessage, intents: int) -> dict[str, Any]:
        data = msg.payload()
        if msg.guild_id is not None:
            data["guild_id"] = str(msg.guild_id)
            member = self.state.guilds[msg.guild_id].members.get(msg.author.id)
            if member is not None and msg.webhook_id is None:
                data["member"] = member.payload(with_user=False)
            bot_id = self.state.bot_user.id
            mentioned = f"<@{bot_id}>" in msg.content
            if not (intents & INTENT_MESSAGE_CONTENT) and msg.author.id != bot_id and not mentioned:
                data.update(content="", embeds=[], attachments=[], components=[])
        return data
