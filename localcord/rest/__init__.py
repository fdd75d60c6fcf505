"""The REST half of the local server: the routes discord.py 2.7 calls under ``/api/v10``,
split by resource (users, applications and commands, interactions and webhooks, channels and
messages, guilds), and the entry point that records and answers them (``app.RestApi``)."""

from .app import RestApi
from .http import Reply, json_response

__all__ = ["Reply", "RestApi", "json_response"]
