"""Admin rights: Manage Server, or a role or user from the config."""

from __future__ import annotations

from types import SimpleNamespace

import discord

from bot.checks import is_admin
from bot.settings import DiscordSettings


def test_admins_are_manage_server_or_configured_roles_and_users():
    def interaction(user_id: int, roles=(), perms=None, guild_id=5):
        user = SimpleNamespace(id=user_id, _roles=list(roles))
        return SimpleNamespace(user=user, guild_id=guild_id, permissions=perms or discord.Permissions.none())

    settings = DiscordSettings(admin_roles=("77",), admin_users=("42",))
    assert not is_admin(interaction(1), settings)
    assert is_admin(interaction(1, perms=discord.Permissions(manage_guild=True)), settings)
    assert is_admin(interaction(1, roles=[77]), settings)
    assert is_admin(interaction(42, guild_id=None), settings)  # configured users, even in DMs
    assert not is_admin(interaction(1, roles=[77], guild_id=None), settings)
