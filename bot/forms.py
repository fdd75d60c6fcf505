"""Modals ("forms") whose submits are handled from their custom_id alone.

discord.py matches a submitted modal to the `Modal` object that sent it, which a restart loses.
Here every form's state lives in its custom_id (like the DynamicItem buttons), each kind of form
registers a handler for a custom_id pattern, and one listener (bot/cogs/forms.py) hands each
submit to its handler. `send_form` sends a modal and drops discord.py's copy, so a submit is
handled exactly once, by its handler, before or after a restart.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import discord

log = logging.getLogger(__name__)

FormHandler = Callable[[discord.Interaction, re.Match[str], dict[str, str]], Awaitable[None]]
_HANDLERS: list[tuple[re.Pattern[str], FormHandler]] = []


def form_handler(pattern: str) -> Callable[[FormHandler], FormHandler]:
    """Register `handler(interaction, match, values)` for submitted forms whose custom_id matches."""

    def register(handler: FormHandler) -> FormHandler:
        _HANDLERS.append((re.compile(pattern), handler))
        return handler

    return register


def text_input(
    custom_id: str,
    label: str,
    *,
    default: str = "",
    long: bool = False,
    required: bool = False,
    max_length: int = 4000,
    placeholder: str | None = None,
) -> discord.ui.TextInput:
    return discord.ui.TextInput(
        custom_id=custom_id,
        label=label,
        default=default[:max_length] or None,
        style=discord.TextStyle.paragraph if long else discord.TextStyle.short,
        required=required,
        max_length=max_length,
        placeholder=placeholder,
    )


def form(title: str, custom_id: str, inputs: Iterable[discord.ui.TextInput]) -> discord.ui.Modal:
    modal = discord.ui.Modal(title=title[:45], custom_id=custom_id, timeout=None)
    for item in inputs:
        modal.add_item(item)
    return modal


async def send_form(interaction: discord.Interaction, modal: discord.ui.Modal) -> None:
    """Open the form (the interaction's first and only response)."""
    await interaction.response.send_modal(modal)
    modal.stop()  # discord.py keeps no copy: the submit goes to the registered handler alone


def submitted_values(data: dict[str, Any] | None) -> dict[str, str]:
    """A modal submit's text inputs by custom_id (inside action rows or labels)."""
    values: dict[str, str] = {}

    def walk(components: Iterable[dict[str, Any]]) -> None:
        for component in components:
            if "components" in component:
                walk(component["components"])
            if "component" in component:
                walk([component["component"]])
            if component.get("type") == 4 and component.get("custom_id"):
                values[component["custom_id"]] = str(component.get("value") or "")

    walk((data or {}).get("components") or [])
    return values


async def dispatch(interaction: discord.Interaction) -> bool:
    """Hand a modal submit to its handler; False when no handler knows its custom_id."""
    if interaction.type is not discord.InteractionType.modal_submit or interaction.data is None:
        return False
    custom_id = str(interaction.data.get("custom_id", ""))
    for pattern, handler in _HANDLERS:
        match = pattern.fullmatch(custom_id)
        if match is not None:
            await handler(interaction, match, submitted_values(dict(interaction.data)))
            return True
    return False
