"""Slash command options, as Discord's client sends them: the subcommand path, each value typed
by its option's schema (users, channels, roles and attachments also ``resolved``), and the checks
the client makes before sending (required options, choices, ranges, where a command is offered)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .attachments import Attachments
from .models import Channel, Guild, Member, Role, StoredAttachment, User
from .state import State

# Option types (https://discord.com/developers/docs/interactions/application-commands).
SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = 3, 4, 5, 6, 7, 8, 9, 10, 11
SUBCOMMAND_TYPES = (SUB_COMMAND, SUB_COMMAND_GROUP)


@dataclass
class Where:
    """Who acts where: the user, the guild (None: a DM), the channel, and the permissions sent."""

    user: User
    guild: Guild | None
    channel: Channel
    member: Member | None
    perms: int  # the user's, as ``member.permissions``
    bot_perms: int  # the bot's, as ``app_permissions``


def check_offered(cmd: dict[str, Any], where: Where) -> None:
    """Discord only offers a command where its ``contexts`` / ``dm_permission`` allow it.
    (``default_member_permissions`` is not enforced: server admins can override it, so
    the bot must check permissions itself.)"""
    context = 0 if where.guild is not None else 1
    contexts = cmd.get("contexts")
    if contexts is not None and context not in contexts:
        raise ValueError(f"/{cmd['name']} is not available in {'guilds' if context == 0 else 'DMs'}")
    if context == 1 and cmd.get("dm_permission") is False:
        raise ValueError(f"/{cmd['name']} is not available in DMs")


class OptionBuilder:
    """Turns ``{"name": python value}`` into a command's ``options`` and ``resolved``."""

    def __init__(self, state: State, attachments: Attachments) -> None:
        self.state = state
        self.attachments = attachments

    def build(
        self,
        cmd: dict[str, Any],
        values: dict[str, Any],
        subcommand: str | None,
        where: Where,
        *,
        focused: str | None,
        validate: bool,
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        schema: list[dict[str, Any]] = cmd.get("options") or []
        path: list[dict[str, Any]] = []
        for part in (subcommand or "").split():
            node = next(
                (o for o in schema if o.get("name") == part and o.get("type") in SUBCOMMAND_TYPES), None
            )
            if node is None:
                names = [o.get("name") for o in schema if o.get("type") in SUBCOMMAND_TYPES]
                raise LookupError(f"/{cmd['name']} has no subcommand {part!r}; it has {names}")
            path.append(node)
            schema = node.get("options") or []
        if any(o.get("type") in SUBCOMMAND_TYPES for o in schema):
            names = [o.get("name") for o in schema]
            raise LookupError(f"/{cmd['name']} {subcommand or ''} needs a subcommand: one of {names}")
        resolved: dict[str, dict[str, Any]] = {}
        out: list[dict[str, Any]] = []
        by_name = {o["name"]: o for o in schema}
        for key, value in values.items():
            spec = by_name.get(key)
            if spec is None:
                raise LookupError(f"/{cmd['name']} has no option {key!r}; it has {list(by_name)}")
            if value is None:
                continue
            opt = self._value(spec, value, where, resolved, focused=key == focused, validate=validate)
            if key == focused:
                opt["focused"] = True
            out.append(opt)
        if validate:
            missing = [o["name"] for o in schema if o.get("required") and o["name"] not in values]
            if missing:
                raise ValueError(f"/{cmd['name']}: required options missing: {missing}")
        for node in reversed(path):
            out = [{"type": node["type"], "name": node["name"], "options": out}]
        return out, {k: v for k, v in resolved.items() if v}

    def _value(
        self,
        spec: dict[str, Any],
        value: Any,
        where: Where,
        resolved: dict[str, dict[str, Any]],
        *,
        focused: bool,
        validate: bool,
    ) -> dict[str, Any]:
        t = spec.get("type")
        name = spec["name"]
        if focused:  # what the user has typed so far, always a string
            return {"type": t, "name": name, "value": value if isinstance(value, str) else str(value)}
        if t == STRING:
            v: Any = str(value)
        elif t == INTEGER:
            v = int(value)
        elif t == BOOLEAN:
            v = bool(value)
        elif t == NUMBER:
            v = float(value)
        elif t in (USER, MENTIONABLE) and not isinstance(value, Role):
            u = self.state.get_user(value)
            v = str(u.id)
            resolved.setdefault("users", {})[v] = u.payload()
            if where.guild is not None and u.id in where.guild.members:
                m = where.guild.members[u.id]
                resolved.setdefault("members", {})[v] = m.payload(
                    with_user=False, permissions=where.guild.permissions_for(u.id)
                )
        elif t == CHANNEL:
            ch = self.state.get_channel(value, where.guild)
            v = str(ch.id)
            resolved.setdefault("channels", {})[v] = ch.interaction_payload(where.perms)
        elif t in (ROLE, MENTIONABLE):
            role = value if isinstance(value, Role) else where.guild.role(value)  # type: ignore[union-attr]
            v = str(role.id)
            resolved.setdefault("roles", {})[v] = role.payload()
        elif t == ATTACHMENT:
            if isinstance(value, (bytes, bytearray)):
                att = self.attachments.add(bytes(value), "upload.png")
            elif isinstance(value, StoredAttachment):
                att = value.payload()
            elif isinstance(value, tuple):
                att = self.attachments.add(bytes(value[1]), value[0])
            else:
                att = dict(value)
            v = str(att["id"])
            resolved.setdefault("attachments", {})[v] = att
        else:
            v = value
        if validate:
            check_value(spec, v)
        return {"type": t, "name": name, "value": v}


def check_value(spec: dict[str, Any], v: Any) -> None:
    """What Discord's client refuses to send: a value outside the choices, range or length."""
    t, name = spec.get("type"), spec["name"]
    choices = spec.get("choices")
    if choices and v not in [c["value"] for c in choices]:
        raise ValueError(f"option {name}={v!r} is not one of its choices {[c['value'] for c in choices]}")
    if t in (INTEGER, NUMBER):
        lo, hi = spec.get("min_value"), spec.get("max_value")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise ValueError(f"option {name}={v!r} is outside [{lo}, {hi}]")
    if t == STRING:
        lo, hi = spec.get("min_length"), spec.get("max_length")
        if (lo is not None and len(v) < lo) or (hi is not None and len(v) > hi):
            raise ValueError(f"option {name} length {len(v)} is outside [{lo}, {hi}]")
