"""The Discord front end: slash commands and buttons driving `generation.scheduler`.

Nothing here imports torch. The bot only talks to the scheduler's async API; the scheduler
loads torch lazily in its worker thread.
"""

from bot.bot import ImagineBot, point_discord

__all__ = ["ImagineBot", "point_discord"]
