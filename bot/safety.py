"""Per-server safety: banned words (config plus each server's list), spoilered results, and which
image check a job gets (the server's mode, a channel's override, NSFW channels exempt).

The image check itself runs in the job service (generation.safety): the bot hands it the mode in
the job's meta when the job is submitted, and posts the result as the recorded check says
(bot.image_check).
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import discord

from bot.settings import DiscordSettings
from generation.jobs.service import JobService
from generation.safety.check import SafetyMode, meta_for, mode_of
from generation.settings import SafetySettings

if TYPE_CHECKING:
    from bot.app import ImagineBot

BANNED_WORDS = "banned_words"  # guild setting: list of words and phrases
SPOILER = "spoiler"  # guild setting: spoiler results outside NSFW channels (bool)


def normalize_word(word: str) -> str:
    return " ".join(word.lower().split())


def find_banned(text: str, words: list[str] | tuple[str, ...]) -> str | None:
    """The first banned word or phrase found as a whole word in `text`, else None."""
    lowered = " ".join(text.lower().split())
    for word in words:
        word = normalize_word(word)
        if not word:
            continue
        # Whole words only: banning "ass" must not refuse "glass".
        if re.search(rf"(?<!\w){re.escape(word)}(?!\w)", lowered):
            return word
    return None


async def server_words(service: JobService, guild_id: int | None) -> list[str]:
    if guild_id is None:
        return []
    words = await service.guild_setting(guild_id, BANNED_WORDS, [])
    return list(words or [])


async def banned_word_in(
    text: str, service: JobService, settings: DiscordSettings, guild_id: int | None
) -> str | None:
    words = [*settings.banned_words, *await server_words(service, guild_id)]
    return find_banned(text, words)


def channel_is_nsfw(channel: object) -> bool:
    is_nsfw = getattr(channel, "is_nsfw", None)
    return bool(is_nsfw()) if callable(is_nsfw) else False


async def wants_spoiler(
    interaction: discord.Interaction, service: JobService, settings: DiscordSettings
) -> bool:
    """Spoiler results outside NSFW channels when the server (or the config default) says so."""
    if interaction.guild_id is None or channel_is_nsfw(interaction.channel):
        return False
    value = await service.guild_setting(interaction.guild_id, SPOILER, None)
    return settings.spoiler_outside_nsfw if value is None else bool(value)


# -- the image check (generation.safety) ----------------------------------------------------------

IMAGE_SAFETY = "image_safety"  # guild setting: the server's image check (ServerImageSafety.to_dict)


@dataclass(frozen=True)
class ServerImageSafety:
    """A server's choice for the image check; what it leaves out, the config's [safety] decides."""

    mode: SafetyMode | None = None  # None: the config's `images`
    exempt_nsfw: bool | None = None  # None: the config's `exempt_nsfw`
    channels: Mapping[int, SafetyMode] = field(default_factory=dict)  # overrides, over everything else

    @classmethod
    def from_dict(cls, data: Any) -> ServerImageSafety:
        """A stored setting back; values this version does not know are left out."""
        data = data if isinstance(data, dict) else {}
        channels = {}
        for key, value in dict(data.get("channels") or {}).items():
            with contextlib.suppress(ValueError, TypeError):
                channels[int(key)] = SafetyMode(value)
        mode = data.get("mode")
        exempt = data.get("exempt_nsfw")
        return cls(
            mode=SafetyMode(mode) if mode in set(SafetyMode) else None,
            exempt_nsfw=exempt if isinstance(exempt, bool) else None,
            channels=channels,
        )

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.mode is not None:
            data["mode"] = self.mode.value
        if self.exempt_nsfw is not None:
            data["exempt_nsfw"] = self.exempt_nsfw
        if self.channels:
            data["channels"] = {str(k): v.value for k, v in self.channels.items()}
        return data

    def with_channel(self, channel_id: int, mode: SafetyMode | None) -> ServerImageSafety:
        """With the channel's own mode (None: the channel follows the server again)."""
        channels = {k: v for k, v in self.channels.items() if k != channel_id}
        if mode is not None:
            channels[channel_id] = mode
        return dataclasses.replace(self, channels=channels)

    def mode_for(self, defaults: SafetySettings, channel_ids: Sequence[int | None], nsfw: bool) -> SafetyMode:
        """The mode for a channel (`channel_ids`: the channel, then its parent for a thread): its
        override, else none for an exempt NSFW channel, else the server's, else the config's."""
        for channel_id in channel_ids:
            if channel_id is not None and channel_id in self.channels:
                return self.channels[channel_id]
        exempt = defaults.exempt_nsfw if self.exempt_nsfw is None else self.exempt_nsfw
        if nsfw and exempt:
            return SafetyMode.OFF
        return self.mode if self.mode is not None else SafetyMode(defaults.images)


async def server_image_safety(service: JobService, guild_id: int) -> ServerImageSafety:
    return ServerImageSafety.from_dict(await service.guild_setting(guild_id, IMAGE_SAFETY, None))


async def image_check_mode(
    service: JobService,
    defaults: SafetySettings,
    guild_id: int | None,
    channel_id: int | None,
    channel: object = None,
) -> SafetyMode:
    """The image check a job asked for here gets: the server's rules for the channel (in a DM,
    the config's `images`). `channel`: the channel object when known, for its NSFW flag."""
    if guild_id is None:
        return SafetyMode(defaults.images)
    server = await server_image_safety(service, guild_id)
    parent = getattr(channel, "parent_id", None)  # a thread follows its channel's override
    return server.mode_for(defaults, (channel_id, parent), channel_is_nsfw(channel))


async def image_check_meta(bot: ImagineBot, guild_id: int | None, channel_id: int | None) -> dict[str, str]:
    """The job-meta entry asking the service to check the images of a job posted in this channel
    (generation.safety.meta_for). The channel's NSFW flag comes from the bot's cache; a channel the
    cache does not hold counts as not NSFW (checked: the safe side)."""
    channel = bot.get_channel(channel_id) if channel_id is not None else None
    mode = await image_check_mode(bot.service, bot.settings.safety, guild_id, channel_id, channel)
    return meta_for(mode)


async def interaction_check_meta(
    interaction: discord.Interaction, parent_id: str | None = None
) -> dict[str, str]:
    """`image_check_meta` for a job an interaction asks for (its channel object at hand). A
    follow-up clicked in a DM (on a result sent there) keeps the check its server job had: the
    server's rules, not the config's default for DMs, decide what is made from its images."""
    bot: ImagineBot = interaction.client  # type: ignore[assignment]
    if interaction.guild_id is None and parent_id is not None:
        parent = await bot.service.get_job(parent_id)
        if parent is not None and parent.owner.guild_id is not None:
            return meta_for(mode_of(parent.meta))
    mode = await image_check_mode(
        bot.service, bot.settings.safety, interaction.guild_id, interaction.channel_id, interaction.channel
    )
    return meta_for(mode)
