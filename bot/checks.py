"""Who may do what: admin rights are checked here, not just hidden in the client."""

from __future__ import annotations

import discord

from bot.settings import DiscordSettings


def role_ids(user: discord.abc.User) -> tuple[int, ...]:
    """The user's role ids in this server (none in DMs).

    Interactions carry the member's role ids even when the guild is not cached; `Member.roles`
    would then be empty, so read the ids themselves.
    """
    ids = getattr(user, "_roles", None)
    if ids is None:
        return ()
    return tuple(int(i) for i in ids)


def is_admin(interaction: discord.Interaction, settings: DiscordSettings) -> bool:
    """Manage Server in this server, or a configured admin user or role."""
    user = interaction.user
    if str(user.id) in settings.admin_users:
        return True
    if interaction.guild_id is None:
        return False
    if interaction.permissions.manage_guild or interaction.permissions.administrator:
        return True
    admin_roles = {int(r) for r in settings.admin_roles}
    return any(r in admin_roles for r in role_ids(user))
