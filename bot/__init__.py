"""The Discord front end: slash commands and buttons driving `generation.service`.

Nothing here imports torch. The bot only talks to the service's async API; the service
loads torch lazily in its worker thread.
"""

from bot.bot import ImagineBot, point_discord

__all__ = ["ImagineBot", "point_discord"]
