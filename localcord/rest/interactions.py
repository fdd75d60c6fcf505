"""Answering interactions: the callback (POST /interactions/{id}/{token}/callback) and the
interaction webhook (followups, and getting, editing, deleting the original and followups).
Both authenticate by the interaction's token, not the bot's."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import errors
from ..changes import Changes
from ..config import Config
from ..errors import ApiError, field_error, form_error
from ..messages import Messages
from ..models import FLAG_EPHEMERAL, FLAG_LOADING, FLAG_SUPPRESS_EMBEDS, StoredMessage
from ..state import State
from ..validation import check_files, validate_modal
from .http import Ctx, Reply, Router, snowflake_param

if TYPE_CHECKING:
    from ..interactions import InjectedInteraction

# Callback (interaction response) types.
PONG = 1
CHANNEL_MESSAGE = 4
DEFERRED_CHANNEL_MESSAGE = 5  # "thinking..."
DEFERRED_UPDATE_MESSAGE = 6
UPDATE_MESSAGE = 7
AUTOCOMPLETE_RESULT = 8
MODAL = 9
CALLBACK_TYPES = (1, 4, 5, 6, 7, 8, 9, 10, 12)

# Interaction types the callback types depend on.
MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 3, 4, 5


class InteractionRoutes:
    def __init__(self, state: State, messages: Messages, changes: Changes, config: Config) -> None:
        self.state = state
        self.messages = messages
        self.changes = changes
        self.config = config

    def register(self, router: Router) -> None:
        a = router.add
        a("POST", "/interactions/{interaction_id}/{token}/callback", self.callback, auth=False)
        a("POST", "/webhooks/{app_id}/{token}", self.followup, auth=False)
        a("GET", "/webhooks/{app_id}/{token}", self.get_webhook, auth=False)
        message = "/webhooks/{app_id}/{token}/messages/{message_id}"
        a("GET", message, self.get_message, auth=False)
        a("PATCH", message, self.edit_message, auth=False)
        a("DELETE", message, self.delete_message, auth=False)

    def _check_files(self, ctx: Ctx, ix: InjectedInteraction) -> None:
        check_files(ctx.files, ix.attachment_size_limit, self.config.request_size_limit)

    # ------------------------------------------------------------------ the callback

    async def callback(self, ctx: Ctx, interaction_id: str, token: str) -> Reply:
        ix = self.state.interactions.get(snowflake_param(interaction_id))
        if ix is None or ix.token != token or ix.callback_expired(ctx.call.time):
            raise ApiError(404, errors.UNKNOWN_INTERACTION, "Unknown interaction")
        if ix.acknowledged:
            raise ApiError(
                400, errors.INTERACTION_ALREADY_ACKNOWLEDGED, "Interaction has already been acknowledged."
            )
        body = ctx.json or {}
        rtype = body.get("type")
        data = body.get("data") or {}
        self._check_type(rtype, ix.type)
        message = await self._respond(ctx, ix, rtype, data)
        ix.record_callback(rtype, data, ctx.files, ctx.call)
        self.changes.notify()
        if "with_response" not in ctx.query or ctx.query.get("with_response") in ("0", "false"):
            return Reply(204)
        result: dict[str, Any] = {
            "interaction": {
                "id": str(ix.id),
                "type": ix.type,
                "activity_instance_id": None,
                "response_message_id": str(message.id) if message else None,
                "response_message_loading": bool(message and message.loading),
                "response_message_ephemeral": bool(message and message.ephemeral),
            }
        }
        if message is not None and rtype in (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, UPDATE_MESSAGE):
            result["resource"] = {"type": rtype, "message": message.payload()}
        return Reply(200, result)

    @staticmethod
    def _check_type(rtype: Any, itype: int) -> None:
        """Which answers fit which interaction (an autocomplete gets choices and nothing else)."""
        if rtype not in CALLBACK_TYPES:
            raise form_error(
                field_error(
                    "type", "BASE_TYPE_CHOICES", f"Value must be one of (1, 4, 5, 6, 7, 8, 9). {rtype}"
                )
            )
        if rtype in (DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE) and itype not in (
            MESSAGE_COMPONENT,
            MODAL_SUBMIT,
        ):
            raise errors.invalid_response_type()
        if rtype == AUTOCOMPLETE_RESULT and itype != AUTOCOMPLETE:
            raise errors.invalid_response_type()
        if itype == AUTOCOMPLETE and rtype != AUTOCOMPLETE_RESULT:
            raise errors.invalid_response_type()

    async def _respond(
        self, ctx: Ctx, ix: InjectedInteraction, rtype: int, data: dict[str, Any]
    ) -> StoredMessage | None:
        """Apply the callback; the message it made or updated, if any."""
        channel = self.state.channels[ix.channel_id]
        bot = self.state.bot_user
        message: StoredMessage | None = None
        if rtype == CHANNEL_MESSAGE:
            self._check_files(ctx, ix)
            flags = int(data.get("flags") or 0) & (FLAG_EPHEMERAL | FLAG_SUPPRESS_EMBEDS)
            message = await self.messages.create(channel, bot, data, ctx.files, interaction=ix, flags=flags)
            ix.original_message_id = message.id
        elif rtype == DEFERRED_CHANNEL_MESSAGE:
            flags = FLAG_LOADING | (int(data.get("flags") or 0) & FLAG_EPHEMERAL)
            message = await self.messages.create(
                channel, bot, {"content": ""}, [], interaction=ix, flags=flags, validate=False
            )
            ix.original_message_id = message.id
        elif rtype in (DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE):
            message = self.state.live_message(ix.message_id)
            if message is None:
                raise errors.not_found(errors.UNKNOWN_MESSAGE, "Message")
            ix.original_message_id = message.id
            if rtype == UPDATE_MESSAGE:
                self._check_files(ctx, ix)
                await self.messages.edit(message, data, ctx.files)
        elif rtype == AUTOCOMPLETE_RESULT:
            choices = data.get("choices") or []
            if len(choices) > 25:
                raise form_error(
                    field_error("data.choices", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
                )
            ix.autocomplete_choices = list(choices)
        elif rtype == MODAL:
            validate_modal(data)
            ix.modal = data
        return message

    # ------------------------------------------------------------------ the webhook

    def _interaction(self, app_id: str, token: str, at: float) -> InjectedInteraction:
        if snowflake_param(app_id) != self.state.application_id:
            raise errors.not_found(errors.UNKNOWN_WEBHOOK, "Webhook")
        ix = self.state.interactions_by_token.get(token)
        if ix is None or ix.token_expired(at):
            raise ApiError(401, errors.INVALID_WEBHOOK_TOKEN, "Invalid Webhook Token")
        return ix

    def _message(self, ix: InjectedInteraction, message_id: str) -> StoredMessage:
        """``@original`` or a followup's id; only this interaction's messages."""
        mid = ix.original_message_id if message_id == "@original" else snowflake_param(message_id)
        msg = self.state.live_message(mid)
        if msg is None or mid not in ix.message_ids():
            raise errors.not_found(errors.UNKNOWN_MESSAGE, "Message")
        return msg

    async def get_webhook(self, ctx: Ctx, app_id: str, token: str) -> dict[str, Any]:
        ix = self._interaction(app_id, token, ctx.call.time)
        return {
            "id": str(self.state.application_id),
            "type": 3,  # application webhook
            "name": self.state.bot_user.username,
            "avatar": None,
            "channel_id": str(ix.channel_id),
            "guild_id": str(ix.guild_id) if ix.guild_id else None,
            "application_id": str(self.state.application_id),
            "token": token,
        }

    async def followup(self, ctx: Ctx, app_id: str, token: str) -> Reply:
        ix = self._interaction(app_id, token, ctx.call.time)
        if not ix.acknowledged:
            raise errors.not_found(errors.UNKNOWN_WEBHOOK, "Webhook")
        self._check_files(ctx, ix)
        data = ctx.json or {}
        original = self.state.live_message(ix.original_message_id)
        if original is not None and original.loading and not ix.followup_ids:
            # Discord: the first followup after a deferred (type 5) response edits the "thinking" message.
            await self.messages.edit(original, data, ctx.files, replace_attachments=True)
            msg = original
        else:
            flags = int(data.get("flags") or 0) & (FLAG_EPHEMERAL | FLAG_SUPPRESS_EMBEDS)
            channel = self.state.channels[ix.channel_id]
            msg = await self.messages.create(
                channel, self.state.bot_user, data, ctx.files, interaction=ix, flags=flags
            )
        ix.followup_ids.append(msg.id)
        if ctx.query.get("wait") in ("true", "1", "True"):
            return Reply(200, msg.payload())
        return Reply(204)

    async def get_message(self, ctx: Ctx, app_id: str, token: str, message_id: str) -> dict[str, Any]:
        ix = self._interaction(app_id, token, ctx.call.time)
        return self._message(ix, message_id).payload()

    async def edit_message(self, ctx: Ctx, app_id: str, token: str, message_id: str) -> dict[str, Any]:
        ix = self._interaction(app_id, token, ctx.call.time)
        msg = self._message(ix, message_id)
        self._check_files(ctx, ix)
        await self.messages.edit(msg, ctx.json or {}, ctx.files)
        return msg.payload()

    async def delete_message(self, ctx: Ctx, app_id: str, token: str, message_id: str) -> Reply:
        ix = self._interaction(app_id, token, ctx.call.time)
        await self.messages.delete(self._message(ix, message_id))
        return Reply(204)
