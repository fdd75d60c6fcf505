"""Users, the bot's own account and DMs, and where its gateway is."""

from __future__ import annotations

from typing import Any

from .. import errors
from ..config import Config
from ..errors import field_error, form_error
from ..state import State
from .http import Ctx, Router, snowflake_param


class UserRoutes:
    def __init__(self, state: State, config: Config) -> None:
        self.state = state
        self.config = config

    def register(self, router: Router) -> None:
        a = router.add
        a("GET", "/users/@me", self.get_me)
        a("PATCH", "/users/@me", self.get_me)  # accepted, nothing changes
        a("GET", "/users/@me/guilds", self.get_my_guilds)
        a("POST", "/users/@me/channels", self.create_dm)
        a("GET", "/users/{user_id}", self.get_user)
        a("GET", "/gateway", self.get_gateway, auth=False)
        a("GET", "/gateway/bot", self.get_gateway_bot)

    async def get_me(self, ctx: Ctx) -> dict[str, Any]:
        return self.state.bot_user_payload()

    async def get_my_guilds(self, ctx: Ctx) -> list[dict[str, Any]]:
        bot_id = self.state.bot_user.id
        return [
            {
                "id": str(g.id),
                "name": g.name,
                "icon": None,
                "banner": None,
                "owner": False,
                "permissions": str(g.permissions_for(bot_id)),
                "features": list(g.features),
            }
            for g in self.state.guilds.values()
        ]

    async def get_user(self, ctx: Ctx, user_id: str) -> dict[str, Any]:
        user = self.state.users.get(snowflake_param(user_id))
        if user is None:
            raise errors.not_found(errors.UNKNOWN_USER, "User")
        return user.payload()

    async def create_dm(self, ctx: Ctx) -> dict[str, Any]:
        user = self.state.users.get(snowflake_param((ctx.json or {}).get("recipient_id")))
        if user is None:
            raise form_error(field_error("recipient_id", "NUMBER_TYPE_COERCE", "Value is not snowflake."))
        return self.state.dm_channel(user).payload()

    async def get_gateway(self, ctx: Ctx) -> dict[str, Any]:
        return {"url": self.config.gateway_url}

    async def get_gateway_bot(self, ctx: Ctx) -> dict[str, Any]:
        return {
            "url": self.config.gateway_url,
            "shards": 1,
            "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1},
        }
