"""Channels and their messages as the bot sees them (ephemeral messages are not in a channel),
with Discord's permission checks for the bot."""

from __future__ import annotations

from typing import Any

from .. import errors
from ..config import Config
from ..errors import ApiError
from ..messages import Messages
from ..models import (
    ATTACH_FILES,
    FLAG_SUPPRESS_EMBEDS,
    MANAGE_MESSAGES,
    SEND_MESSAGES,
    Channel,
    StoredMessage,
)
from ..state import State
from ..validation import check_files
from .http import Ctx, Reply, Router, snowflake_param


class ChannelRoutes:
    def __init__(self, state: State, messages: Messages, config: Config) -> None:
        self.state = state
        self.messages = messages
        self.config = config

    def register(self, router: Router) -> None:
        a = router.add
        a("GET", "/channels/{channel_id}", self.get_channel)
        a("GET", "/channels/{channel_id}/messages", self.list_messages)
        a("POST", "/channels/{channel_id}/messages", self.create_message)
        a("POST", "/channels/{channel_id}/messages/bulk-delete", self.bulk_delete)
        # Before ".../messages/{message_id}", which would take "pins" for an id.
        a("GET", "/channels/{channel_id}/messages/pins", self.empty_pins)
        a("GET", "/channels/{channel_id}/pins", self.empty_list)
        a("GET", "/channels/{channel_id}/messages/{message_id}", self.get_message)
        a("PATCH", "/channels/{channel_id}/messages/{message_id}", self.edit_message)
        a("DELETE", "/channels/{channel_id}/messages/{message_id}", self.delete_message)
        a("POST", "/channels/{channel_id}/typing", self.no_content)
        reactions = "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}"
        a("PUT", reactions + "/@me", self.add_reaction)
        a("DELETE", reactions + "/@me", self.remove_reaction)

    def _channel(self, channel_id: str) -> Channel:
        ch = self.state.channels.get(snowflake_param(channel_id))
        if ch is None:
            raise errors.not_found(errors.UNKNOWN_CHANNEL, "Channel")
        return ch

    def _message(self, channel: Channel, message_id: str) -> StoredMessage:
        msg = self.state.live_message(snowflake_param(message_id))
        if msg is None or msg.channel_id != channel.id or msg.ephemeral:
            raise errors.not_found(errors.UNKNOWN_MESSAGE, "Message")
        return msg

    def _check_files(self, ctx: Ctx) -> None:
        check_files(ctx.files, self.config.upload_limit, self.config.request_size_limit)

    async def no_content(self, ctx: Ctx, **_: str) -> Reply:
        return Reply(204)

    async def empty_list(self, ctx: Ctx, **_: str) -> list[Any]:
        return []

    async def empty_pins(self, ctx: Ctx, **_: str) -> dict[str, Any]:
        return {"items": [], "has_more": False}

    async def get_channel(self, ctx: Ctx, channel_id: str) -> dict[str, Any]:
        return self._channel(channel_id).payload()

    async def list_messages(self, ctx: Ctx, channel_id: str) -> list[dict[str, Any]]:
        """Newest first, ``limit`` (1-100, default 50) around/before/after a message id."""
        ch = self._channel(channel_id)
        msgs = [
            m
            for m in self.state.messages.values()
            if m.channel_id == ch.id and not m.deleted and not m.ephemeral
        ]
        msgs.sort(key=lambda m: m.id, reverse=True)
        q = ctx.query
        limit = max(1, min(100, int(q.get("limit", 50))))
        if "before" in q:
            msgs = [m for m in msgs if m.id < int(q["before"])]
        if "after" in q:
            msgs = [m for m in msgs if m.id > int(q["after"])]
            msgs = sorted(msgs, key=lambda m: m.id)[:limit][::-1]
        if "around" in q:
            pivot = int(q["around"])
            older = [m for m in msgs if m.id <= pivot][: (limit + 1) // 2]
            newer = sorted((m for m in msgs if m.id > pivot), key=lambda m: m.id)[: limit // 2][::-1]
            msgs = newer + older
        return [m.payload() for m in msgs[:limit]]

    async def create_message(self, ctx: Ctx, channel_id: str) -> dict[str, Any]:
        ch = self._channel(channel_id)
        perms = self.state.bot_permissions(ch)
        if not perms & SEND_MESSAGES or (ctx.files and not perms & ATTACH_FILES):
            raise errors.missing_permissions()
        self._check_files(ctx)
        data = ctx.json or {}
        flags = int(data.get("flags") or 0) & FLAG_SUPPRESS_EMBEDS
        msg = await self.messages.create(ch, self.state.bot_user, data, ctx.files, flags=flags)
        return msg.payload()

    async def get_message(self, ctx: Ctx, channel_id: str, message_id: str) -> dict[str, Any]:
        return self._message(self._channel(channel_id), message_id).payload()

    async def edit_message(self, ctx: Ctx, channel_id: str, message_id: str) -> dict[str, Any]:
        msg = self._message(self._channel(channel_id), message_id)
        if msg.author.id != self.state.bot_user.id:
            raise ApiError(
                403, errors.CANNOT_EDIT_OTHERS_MESSAGE, "Cannot edit a message authored by another user"
            )
        self._check_files(ctx)
        await self.messages.edit(msg, ctx.json or {}, ctx.files)
        return msg.payload()

    async def delete_message(self, ctx: Ctx, channel_id: str, message_id: str) -> Reply:
        ch = self._channel(channel_id)
        msg = self._message(ch, message_id)
        if msg.author.id != self.state.bot_user.id and not self.state.bot_permissions(ch) & MANAGE_MESSAGES:
            raise errors.missing_permissions()
        await self.messages.delete(msg)
        return Reply(204)

    async def bulk_delete(self, ctx: Ctx, channel_id: str) -> Reply:
        ch = self._channel(channel_id)
        for mid in (ctx.json or {}).get("messages", []):
            msg = self.state.live_message(snowflake_param(mid))
            if msg is not None and msg.channel_id == ch.id:
                await self.messages.delete(msg)
        return Reply(204)

    async def add_reaction(self, ctx: Ctx, channel_id: str, message_id: str, emoji: str) -> Reply:
        msg = self._message(self._channel(channel_id), message_id)
        msg.reactions[emoji] = msg.reactions.get(emoji, 0) + 1
        return Reply(204)

    async def remove_reaction(self, ctx: Ctx, channel_id: str, message_id: str, emoji: str) -> Reply:
        msg = self._message(self._channel(channel_id), message_id)
        msg.reactions.pop(emoji, None)
        return Reply(204)
