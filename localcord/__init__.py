"""localcord: a local Discord-compatible server (REST API v10 + gateway) on 127.0.0.1 for
running an unmodified discord.py 2.7 bot in tests and in the offline demo.

No pytest imports here: the bot's ``python -m bot demo`` uses it too.

    server.py        LocalDiscord, the facade tests use: it wires the parts below
    config.py        settings and limits (changeable while running), the server's URLs
    state.py         the world: users, guilds, channels, commands, messages, interactions; lookups
    changes.py       the change notification waiters wait on (``wait_for``)
    recorder.py      REST calls and gateway frames as recorded, localcord's own errors, faults
    messages.py      creating, editing, deleting messages; their gateway events
    attachments.py   stored files and a message's attachment list
    interactions.py  InjectedInteraction, and the Injector: slash, autocomplete, click, modal
    options.py       slash command options as Discord's client builds and checks them
    gateway.py       the websocket: HELLO, IDENTIFY/READY, heartbeats, RESUME, dispatch
    rest/            the HTTP API: app.py (record, fault, route), one module per resource
    validation.py    Discord's payload limits (messages, commands, modals, files)
    errors.py        Discord's JSON error codes and ApiError
    models.py        the data classes and their JSON payloads
    client.py        pointing discord.py at the server, running a client against it
"""

from .client import point_discord_at, pointed_at, running
from .errors import ApiError
from .interactions import DEFAULT, InjectedInteraction
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
from .recorder import Fault
from .server import LocalDiscord

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
