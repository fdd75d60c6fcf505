"""The bot's own settings: config.toml's `[discord]` table, typed and checked here.

`generation.settings` loads the whole file but carries `[discord]` as read (`Settings.front_ends`);
`DiscordSettings.from_settings` types it with generation's own rules, so a mistake is refused at
start with the same kind of message that names the key (`discord.admin_roles must be a list ...`).
The token and the URL overrides come from the environment, never from the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from generation.settings import ConfigError, Settings, build_section

SECTION = "discord"

# Environment variables that point the bot at a REST proxy or a local Discord-compatible server.
ENV_OVERRIDES = {
    "DISCORD_API_BASE": "api_base",
    "DISCORD_GATEWAY_URL": "gateway_url",
}


@dataclass(frozen=True)
class DiscordSettings:
    api_base: str = "https://discord.com/api/v10"
    gateway_url: str = "wss://gateway.discord.gg"
    admin_roles: tuple[str, ...] = ()
    admin_users: tuple[str, ...] = ()
    guild_ids: tuple[str, ...] = ()  # sync commands to these guilds at once; empty: global
    progress_interval: float = 2.0  # seconds between edits of one message
    spoiler_outside_nsfw: bool = False
    banned_words: tuple[str, ...] = ()
    max_upscale_depth: int = 2  # how often an upscaled image may be upscaled again
    sync_commands: bool = True  # may register the slash commands at start (only when they changed)
    live_preview: bool = True  # show a small preview while generating (the worker decodes one every step)

    def __post_init__(self) -> None:
        _at_least("progress_interval", self.progress_interval, 0.1)
        _at_least("max_upscale_depth", self.max_upscale_depth, 0)

    @classmethod
    def from_settings(cls, settings: Settings, *, env: bool = False) -> DiscordSettings:
        """The `[discord]` table of these settings; `env`: DISCORD_API_BASE and DISCORD_GATEWAY_URL
        override the URLs (what `python -m bot` serves with). Raises ConfigError naming the key."""
        table = dict(settings.front_ends.get(SECTION, {}))
        if env:
            for var, key in ENV_OVERRIDES.items():
                if os.environ.get(var):
                    table[key] = os.environ[var]
        base_dir = settings.source.parent if settings.source is not None else Path.cwd()
        return build_section(SECTION, cls, table, base_dir)


def discord_token() -> str | None:
    """The bot token (DISCORD_TOKEN); None when unset, which makes `python -m bot` play the demo."""
    return os.environ.get("DISCORD_TOKEN") or None


def _at_least(key: str, value: float, minimum: float) -> None:
    if value < minimum:
        raise ConfigError(f"{SECTION}.{key} must be at least {minimum}, not {value}")
