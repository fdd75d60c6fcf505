"""localcord: a local Discord-compatible server (REST API v10 + gateway) on 127.0.0.1 for
running an unmodified discord.py 2.7 bot in tests and in the offline demo.

No pytest imports here: the bot's ``python -m bot demo`` uses it too.
"""

from .client import point_discord_at, pointed_at, running
from .faults import ApiError, Fault
from .models import (
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    ATTACH_FILES,
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    MANAGE_GUILD,
    SEND_MESSAGES,
    Call,
    CallbackRecord,
    Channel,
    GatewayFrame,
    Guild,
    Member,
    Role,
    StoredAttachment,
    StoredMessage,
    UploadedFile,
    User,
    snowflake_time,
)
from .server import DEFAULT, InjectedInteraction, LocalDiscord

__all__ = [
    "ADMINISTRATOR",
    "ALL_PERMISSIONS",
    "ATTACH_FILES",
    "DEFAULT",
    "FLAG_EPHEMERAL",
    "FLAG_LOADING",
    "MANAGE_GUILD",
    "SEND_MESSAGES",
    "ApiError",
    "Call",
    "CallbackRecord",
    "Channel",
    "Fault",
    "GatewayFrame",
    "Guild",
    "InjectedInteraction",
    "LocalDiscord",
    "Member",
    "Role",
    "StoredAttachment",
    "StoredMessage",
    "UploadedFile",
    "User",
    "point_discord_at",
    "pointed_at",
    "running",
    "snowflake_time",
]
