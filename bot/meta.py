"""What the bot keeps with each of its jobs (`Job.meta`): where the job's message lives.

Written when the job is submitted (the interaction's channel, token and when it was issued), then
completed by delivery (the message once it is known, whether the outcome was posted, where the
result went). It is stored as a plain dict; `from_dict` reads the dicts older versions of the bot
wrote too, whatever keys they lack.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import discord

from generation.jobs.types import Job
from generation.requests.request import Mode

TOKEN_LIFETIME = 15 * 60.0  # an interaction token works this long after the interaction
TOKEN_MARGIN = 20.0  # stop using a token a little early: an edit must not race its expiry


@dataclass(frozen=True)
class DeliveryMeta:
    user_id: int = 0  # who asked (mentioned when the result goes to the channel); 0: not recorded
    guild_id: int | None = None
    channel_id: int | None = None
    application_id: int | None = None
    token: str | None = None  # the interaction's, for editing its response
    token_time: float = 0.0  # when the interaction was created
    filesize_limit: int = discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES
    spoiler: bool = False
    depth: int = 0  # how many upscales this job's image has behind it
    message_id: int | None = None  # the job's message, once known
    delivered: bool = False  # the outcome was posted
    result_message_id: int | None = None
    result_channel_id: int | None = None
    private: bool = False  # the user's results go by DM (their /settings), not to the channel
    note: str = ""  # shown under the job's messages: what the bot changed (an upload scaled up)

    @classmethod
    def for_interaction(
        cls,
        interaction: discord.Interaction,
        *,
        spoiler: bool,
        depth: int = 0,
        private: bool = False,
        note: str = "",
    ) -> DeliveryMeta:
        """A job just submitted for this (deferred) interaction."""
        return cls(
            user_id=interaction.user.id,
            guild_id=interaction.guild_id,
            channel_id=interaction.channel_id,
            application_id=interaction.application_id,
            token=interaction.token,
            token_time=interaction.created_at.timestamp(),
            filesize_limit=interaction.filesize_limit,
            spoiler=spoiler,
            depth=depth,
            private=private,
            note=note,
        )

    @classmethod
    def of(cls, job: Job) -> DeliveryMeta:
        """The job's meta; the owner stands in for a user not recorded."""
        meta = cls.from_dict(job.meta)
        return meta if meta.user_id else dataclasses.replace(meta, user_id=job.owner.user_id)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> DeliveryMeta:
        """Read a stored meta dict; missing or empty values take the defaults, other keys are ignored."""
        data = data or {}
        default = cls()
        return cls(
            user_id=int(data.get("user_id") or 0),
            guild_id=_int_or_none(data.get("guild_id")),
            channel_id=_int_or_none(data.get("channel_id")),
            application_id=_int_or_none(data.get("application_id")),
            token=data.get("token") or None,
            token_time=float(data.get("token_time") or 0.0),
            filesize_limit=int(data.get("filesize_limit") or default.filesize_limit),
            spoiler=bool(data.get("spoiler", False)),
            depth=int(data.get("depth") or 0),
            message_id=_int_or_none(data.get("message_id")),
            delivered=bool(data.get("delivered", False)),
            result_message_id=_int_or_none(data.get("result_message_id")),
            result_channel_id=_int_or_none(data.get("result_channel_id")),
            private=bool(data.get("private", False)),
            note=str(data.get("note") or ""),
        )

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if not data["note"]:
            del data["note"]  # most jobs have none: their meta keeps the shape it always had
        return data

    @property
    def reachable(self) -> bool:
        """A job of the bot's: it has a channel or a token to answer through, or goes by DM (the
        command line's jobs have none of these)."""
        return self.channel_id is not None or bool(self.token) or (self.private and bool(self.user_id))

    def token_usable(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return bool(self.token) and now < self.token_time + TOKEN_LIFETIME - TOKEN_MARGIN


def upscale_depth(job: Job) -> int:
    """How many upscales an upscale of this job's image would have behind it."""
    depth = DeliveryMeta.of(job).depth
    return depth + 1 if job.request.mode is Mode.UPSCALE else 1


def _int_or_none(value: Any) -> int | None:
    return int(value) if value not in (None, "") else None
