"""Guilds: the guild, its channels, roles and members (list, search, one)."""

from __future__ import annotations

from typing import Any

from .. import errors
from ..models import Guild
from ..state import State
from .http import Ctx, Router, snowflake_param


class GuildRoutes:
    def __init__(self, state: State) -> None:
        self.state = state

    def register(self, router: Router) -> None:
        a = router.add
        a("GET", "/guilds/{guild_id}", self.get_guild)
        a("GET", "/guilds/{guild_id}/channels", self.get_channels)
        a("GET", "/guilds/{guild_id}/roles", self.get_roles)
        a("GET", "/guilds/{guild_id}/members", self.list_members)
        a("GET", "/guilds/{guild_id}/members/search", self.search_members)
        a("GET", "/guilds/{guild_id}/members/{user_id}", self.get_member)

    def _guild(self, guild_id: str) -> Guild:
        guild = self.state.guilds.get(snowflake_param(guild_id))
        if guild is None:
            raise errors.not_found(errors.UNKNOWN_GUILD, "Guild")
        return guild

    async def get_guild(self, ctx: Ctx, guild_id: str) -> dict[str, Any]:
        guild = self._guild(guild_id)
        data = guild.payload(members=False)
        # GUILD_CREATE carries these; GET /guilds/{id} does not.
        for key in ("channels", "members", "threads", "voice_states", "presences", "joined_at", "large"):
            data.pop(key, None)
        if ctx.query.get("with_counts") in ("true", "1"):
            data["approximate_member_count"] = len(guild.members)
            data["approximate_presence_count"] = len(guild.members)
        return data

    async def get_channels(self, ctx: Ctx, guild_id: str) -> list[dict[str, Any]]:
        return [c.payload() for c in self._guild(guild_id).channels.values()]

    async def get_roles(self, ctx: Ctx, guild_id: str) -> list[dict[str, Any]]:
        return [r.payload() for r in self._guild(guild_id).roles.values()]

    async def list_members(self, ctx: Ctx, guild_id: str) -> list[dict[str, Any]]:
        guild = self._guild(guild_id)
        after = int(ctx.query.get("after", 0))
        limit = max(1, min(1000, int(ctx.query.get("limit", 1))))
        members = sorted((m for m in guild.members.values() if m.user.id > after), key=lambda m: m.user.id)
        return [m.payload() for m in members[:limit]]

    async def search_members(self, ctx: Ctx, guild_id: str) -> list[dict[str, Any]]:
        guild = self._guild(guild_id)
        query = ctx.query.get("query", "").lower()
        limit = max(1, min(1000, int(ctx.query.get("limit", 1))))
        found = [
            m
            for m in guild.members.values()
            if m.user.username.lower().startswith(query) or (m.nick or "").lower().startswith(query)
        ]
        return [m.payload() for m in found[:limit]]

    async def get_member(self, ctx: Ctx, guild_id: str, user_id: str) -> dict[str, Any]:
        member = self._guild(guild_id).members.get(snowflake_param(user_id))
        if member is None:
            raise errors.not_found(errors.UNKNOWN_MEMBER, "Member")
        return member.payload()
