"""Registering the slash commands with Discord only when they changed.

discord.py advises against syncing at every start: the endpoint is rate limited, and a start
that changes nothing has nothing to send. So the bot hashes what `tree.sync` would send, the
commands' `to_dict()` in each synced scope (global, or each of `[discord] guild_ids`), and keeps the
hash in the job service's key/value state; a start syncs only when the hash differs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import discord
from discord import app_commands

STATE_KEY = "discord.command_hash"  # the hash of the command payload last synced


@dataclass(frozen=True)
class SyncResult:
    changed: bool  # the commands differ from those last synced
    synced: bool  # they were sent to Discord
    commands: int  # how many commands a scope holds (the largest scope)


def scopes(guild_ids: Sequence[str]) -> list[discord.Object | None]:
    """Where the commands go: these guilds (at once, for testing servers), else global (None)."""
    return [discord.Object(int(g)) for g in guild_ids] or [None]


def scope_payload(tree: app_commands.CommandTree, scope: discord.Object | None) -> list[dict[str, Any]]:
    """What `tree.sync(guild=scope)` sends, in a stable order (Discord does not care for it)."""
    payload = [command.to_dict(tree) for command in tree.get_commands(guild=scope)]
    return sorted(payload, key=lambda c: (c.get("type", 1), c["name"]))


def tree_payload(
    tree: app_commands.CommandTree, targets: Sequence[discord.Object | None]
) -> dict[str, list[dict[str, Any]]]:
    """Every synced scope's payload, by scope ("global" or the guild id)."""
    return {str(s.id) if s else "global": scope_payload(tree, s) for s in targets}


def payload_hash(payload: dict[str, list[dict[str, Any]]], application_id: int | None) -> str:
    """One hash for every scope's payload; another application (a new token) hashes differently."""
    data = json.dumps(
        {"application_id": application_id, "scopes": payload},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(data.encode()).hexdigest()
