"""Discord's message limits, applied to everything the bot sends.

Discord answers a message over its limits with 400 Invalid Form Body (50035) and shows nothing,
so a reply that echoed too much would leave the user with silence. `fitted` is the one function
every reply, follow-up, edit and channel message goes through: content cut to 2,000 characters
(an open code block closed again), embeds to their field limits and 6,000 characters in all,
views to five rows of five with labels of 80 characters, and no pings unless a caller allows one.
"""

from __future__ import annotations

from typing import Any

import discord
from discord.utils import MISSING

MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TOTAL = 6000
EMBED_LIMITS = {"title": 256, "description": 4096, "footer": 2048, "author": 256}
MAX_FIELDS, MAX_FIELD_NAME, MAX_FIELD_VALUE = 25, 256, 1024
MAX_ROWS, MAX_ROW_ITEMS, MAX_LABEL = 5, 5, 80
ELLIPSIS = "…"
FENCE = "```"

# Users' text can hold @everyone or <@id>: nothing the bot sends pings anyone it does not name.
NO_PINGS = discord.AllowedMentions.none()


def cut(text: str, limit: int) -> str:
    """`text` within `limit` characters, ending in "…" when something was cut; a code block left
    open by the cut is closed, so the rest of the message does not turn into code."""
    if len(text) <= limit:
        return text
    head = text[: limit - len(ELLIPSIS)]
    if head.count(FENCE) % 2:
        head = head[: limit - len(ELLIPSIS) - len(FENCE) - 1] + "\n" + FENCE
    return head + ELLIPSIS


def fit_content(content: str | None) -> str | None:
    return None if content is None else cut(str(content), MAX_CONTENT)


def fit_embed(embed: discord.Embed) -> discord.Embed:
    """A copy within every field's limit and 6,000 characters in all (the description gives way)."""
    data = embed.to_dict()
    for key in ("title", "description"):
        if key in data:
            data[key] = cut(str(data[key]), EMBED_LIMITS[key])
    if "footer" in data and "text" in data["footer"]:
        data["footer"]["text"] = cut(str(data["footer"]["text"]), EMBED_LIMITS["footer"])
    if "author" in data and "name" in data["author"]:
        data["author"]["name"] = cut(str(data["author"]["name"]), EMBED_LIMITS["author"])
    fields = data.get("fields", [])[:MAX_FIELDS]
    for field in fields:
        field["name"] = cut(str(field["name"]), MAX_FIELD_NAME) or "-"
        field["value"] = cut(str(field["value"]), MAX_FIELD_VALUE) or "-"
    if fields:
        data["fields"] = fields
    over = embed_size(data) - MAX_EMBED_TOTAL
    if over > 0 and "description" in data:
        data["description"] = cut(data["description"], max(1, len(data["description"]) - over))
    while embed_size(data) > MAX_EMBED_TOTAL and data.get("fields"):
        data["fields"].pop()
    return discord.Embed.from_dict(data)


def embed_size(data: dict[str, Any]) -> int:
    """The characters Discord counts towards an embed's 6,000."""
    size = len(data.get("title", "")) + len(data.get("description", ""))
    size += len(data.get("footer", {}).get("text", "")) + len(data.get("author", {}).get("name", ""))
    return size + sum(len(f["name"]) + len(f["value"]) for f in data.get("fields", []))


def fit_embeds(embeds: list[discord.Embed]) -> list[discord.Embed]:
    """At most ten embeds, each fitted, all of them within 6,000 characters together."""
    fitted, total = [], 0
    for embed in embeds[:MAX_EMBEDS]:
        embed = fit_embed(embed)
        size = embed_size(embed.to_dict())
        if total + size > MAX_EMBED_TOTAL:
            break
        fitted.append(embed)
        total += size
    return fitted


def fit_view(view: discord.ui.View) -> discord.ui.View:
    """Labels within 80 characters; items past five rows of five are dropped (the bot's own views
    never get there, but a bug must cost a button, not the whole message)."""
    for kept, item in enumerate(list(view.children), 1):
        label = getattr(item, "label", None)
        if isinstance(label, str) and len(label) > MAX_LABEL:
            item.label = cut(label, MAX_LABEL)  # type: ignore[attr-defined]
        if kept > MAX_ROWS * MAX_ROW_ITEMS:
            view.remove_item(item)
    return view


def fitted(
    content: str | None = MISSING,
    *,
    embed: discord.Embed | None = MISSING,
    embeds: list[discord.Embed] = MISSING,
    view: discord.ui.View | None = MISSING,
    allowed_mentions: discord.AllowedMentions | None = None,
    **rest: Any,
) -> dict[str, Any]:
    """The keyword arguments of one send or edit, within Discord's limits.

    Takes what discord.py's `send` and `edit` take; what is left out stays out (an edit leaves
    it as it is), and None is passed on (an edit removes it)."""
    out: dict[str, Any] = dict(rest)
    if content is not MISSING:
        out["content"] = fit_content(content)
    if embed is not MISSING:
        out["embed"] = None if embed is None else fit_embed(embed)
    if embeds is not MISSING:
        out["embeds"] = fit_embeds(embeds)
    if view is not MISSING:
        out["view"] = None if view is None else fit_view(view)
    out["allowed_mentions"] = allowed_mentions or NO_PINGS
    return out
