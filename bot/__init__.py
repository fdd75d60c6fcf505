"""The Discord front end: slash commands and buttons driving `generation.jobs.service`.

Nothing here imports torch. The bot only talks to the service's async API; the service
loads torch lazily in its worker thread.
"""

from bot.app import ImagineBot, point_discord
from bot.settings import DiscordSettings

__all__ = ["DiscordSettings", "ImagineBot", "point_discord"]
