"""Per-server safety: banned words (config plus each server's list) and spoilered results."""

from __future__ import annotations

import re

import discord

from bot.settings import DiscordSettings
from generation.jobs.service import JobService

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
