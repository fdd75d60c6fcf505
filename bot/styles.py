"""A server's styles: its own (`/style`, kept in the service's guild settings) over the ones every
server has (the config's `[styles]` table and the web UI's styles.csv file)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from generation.requests.styles import Style, StyleBook, StyleError, global_styles

if TYPE_CHECKING:
    from bot.app import ImagineBot
    from generation.jobs.service import JobService

log = logging.getLogger(__name__)

STYLES = "styles"  # guild setting: {name: {"prompt": ..., "negative_prompt": ...}}
MAX_SERVER_STYLES = 200  # a server's own; the guild setting stays a small JSON value


async def server_styles(service: JobService, guild_id: int | None) -> dict[str, Style]:
    if guild_id is None:
        return {}
    stored = await service.guild_setting(guild_id, STYLES, {}) or {}
    return {name: Style.from_dict(name, data) for name, data in stored.items() if isinstance(data, dict)}


async def save_server_styles(service: JobService, guild_id: int, styles: Mapping[str, Style]) -> None:
    await service.set_guild_setting(guild_id, STYLES, {n: s.to_dict() for n, s in styles.items()} or None)


def everywhere(bot: ImagineBot) -> dict[str, Style]:
    """The styles every server has; a broken styles.csv is logged and left out, not every prompt
    refused."""
    try:
        return global_styles(bot.settings.styles)
    except (StyleError, OSError) as exc:
        log.warning("could not read the styles file %s: %s", bot.settings.styles.file, exc)
        named = bot.settings.styles.named
        return {name: Style.from_dict(name, data) for name, data in named.items()}


async def style_book(bot: ImagineBot, guild_id: int | None) -> StyleBook:
    """The styles `--style` finds here: the server's own first."""
    return StyleBook(await server_styles(bot.service, guild_id), everywhere(bot))
