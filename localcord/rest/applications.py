"""The application and its commands (global and per guild): sync, list, create, edit, delete."""

from __future__ import annotations

from typing import Any

from .. import errors
from ..errors import ApiError
from ..state import State
from ..validation import validate_command, validate_commands
from .http import Ctx, Reply, Router, snowflake_param


class ApplicationRoutes:
    def __init__(self, state: State) -> None:
        self.state = state

    def register(self, router: Router) -> None:
        a = router.add
        a("GET", "/oauth2/applications/@me", self.get_application)
        a("GET", "/applications/@me", self.get_application)
        a("PATCH", "/applications/@me", self.get_application)  # accepted, nothing changes
        # Before ".../commands/{command_id}", which would take "permissions" for an id.
        a("GET", "/applications/{app_id}/guilds/{guild_id}/commands/permissions", self.empty_list)
        for prefix in ("/applications/{app_id}", "/applications/{app_id}/guilds/{guild_id}"):
            a("GET", prefix + "/commands", self.list_commands)
            a("PUT", prefix + "/commands", self.put_commands)
            a("POST", prefix + "/commands", self.post_command)
            a("GET", prefix + "/commands/{command_id}", self.get_command)
            a("PATCH", prefix + "/commands/{command_id}", self.patch_command)
            a("DELETE", prefix + "/commands/{command_id}", self.delete_command)
        a("GET", "/applications/{app_id}/entitlements", self.empty_list)
        a("GET", "/applications/{app_id}/skus", self.empty_list)
        a("GET", "/applications/{app_id}/emojis", self.empty_items)

    async def get_application(self, ctx: Ctx) -> dict[str, Any]:
        return self.state.application_payload()

    async def empty_list(self, ctx: Ctx, **_: str) -> list[Any]:
        return []

    async def empty_items(self, ctx: Ctx, **_: str) -> dict[str, Any]:
        return {"items": []}

    def _scope(self, app_id: str, guild_id: str | None) -> int | None:
        """The command scope (a guild id, None: global) of a path, if it is this application's."""
        if snowflake_param(app_id) != self.state.application_id:
            raise ApiError(403, errors.MISSING_ACCESS, "Missing Access")
        if guild_id is None:
            return None
        gid = snowflake_param(guild_id)
        if gid not in self.state.guilds:
            raise ApiError(403, errors.MISSING_ACCESS, "Missing Access")
        return gid

    def _command(self, scope: int | None, command_id: str) -> dict[str, Any]:
        cmd = self.state.command_by_id(scope, command_id)
        if cmd is None:
            raise errors.not_found(errors.UNKNOWN_APPLICATION_COMMAND, "application command")
        return cmd

    async def list_commands(self, ctx: Ctx, app_id: str, guild_id: str | None = None) -> list[dict[str, Any]]:
        return self.state.commands(self._scope(app_id, guild_id))

    async def put_commands(self, ctx: Ctx, app_id: str, guild_id: str | None = None) -> list[dict[str, Any]]:
        scope = self._scope(app_id, guild_id)
        validate_commands(ctx.json)
        self.state.set_commands(scope, ctx.json)
        return self.state.commands(scope)

    async def post_command(self, ctx: Ctx, app_id: str, guild_id: str | None = None) -> Reply:
        scope = self._scope(app_id, guild_id)
        cmd = ctx.json or {}
        validate_command(cmd)
        key = (cmd.get("type", 1), cmd.get("name"))
        others = [c for c in self.state.commands(scope) if (c["type"], c["name"]) != key]
        stored = self.state.set_commands(scope, [*others, cmd])
        return Reply(201, next(c for c in stored if (c["type"], c["name"]) == key))

    async def get_command(
        self, ctx: Ctx, app_id: str, command_id: str, guild_id: str | None = None
    ) -> dict[str, Any]:
        return self._command(self._scope(app_id, guild_id), command_id)

    async def patch_command(
        self, ctx: Ctx, app_id: str, command_id: str, guild_id: str | None = None
    ) -> dict[str, Any]:
        cmd = self._command(self._scope(app_id, guild_id), command_id)
        cmd.update({k: v for k, v in (ctx.json or {}).items() if k not in ("id", "application_id")})
        cmd["version"] = str(self.state.snowflake())
        return cmd

    async def delete_command(
        self, ctx: Ctx, app_id: str, command_id: str, guild_id: str | None = None
    ) -> Reply:
        scope = self._scope(app_id, guild_id)
        self.state.remove_command(scope, self._command(scope, command_id))
        return Reply(204)
