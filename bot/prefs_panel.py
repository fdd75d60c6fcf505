"""The `/settings` panel: an ephemeral message of select menus and toggle buttons that edits itself
in place as the user changes their defaults (bot/prefs.py).

Every component is a DynamicItem whose custom_id names the setting and the user
(`prf:sampler:<user>`), and the form for steps, CFG and style is handled from its custom_id
(bot/forms.py), so an open panel keeps working after a restart. Each change is saved at once.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import discord

from bot import forms
from bot.prefs import (
    ASPECTS,
    PrefsError,
    UserPrefs,
    checked_cfg,
    checked_sampler,
    checked_steps,
    checked_style,
    load_prefs,
    save_prefs,
)
from bot.replies import answers_errors
from bot.ui import text
from bot.ui.fit import fitted
from generation.requests.numbers import format_number
from generation.requests.samplers import SAMPLER_NAMES

if TYPE_CHECKING:
    from bot.app import ImagineBot

DEFAULT = "-"  # the select option that goes back to the server's default
MAX_OPTIONS = 25
SELECTS = ("model", "sampler", "aspect", "count")
BUTTONS = ("remix", "private", "more", "reset")
FORM_ID = r"prf:form:(?P<user>\d{1,20})"


def custom_id(field: str, user_id: int) -> str:
    return f"prf:{field}:{user_id}"


# -- rendering -----------------------------------------------------------------------------------


def _options(values: list[str], current: str | None, default_label: str) -> list[discord.SelectOption]:
    options = [discord.SelectOption(label=default_label[:100], value=DEFAULT, default=current is None)]
    for value in values[: MAX_OPTIONS - 1]:
        options.append(discord.SelectOption(label=value[:100], value=value[:100], default=value == current))
    return options


def panel_view(bot: ImagineBot, user_id: int, prefs: UserPrefs) -> discord.ui.View:
    defaults = bot.settings.defaults
    models = bot.service.model_names()
    choices = {
        "model": (models, prefs.model, text.prefs_default_model(bot.service.active_model)),
        "sampler": (list(SAMPLER_NAMES), prefs.sampler, text.prefs_default_value(defaults.sampler)),
        "aspect": (list(ASPECTS), prefs.aspect, text.prefs_default_value("1:1")),
        "count": (
            [str(n) for n in range(1, bot.settings.limits.max_count + 1)],
            None if prefs.count is None else str(prefs.count),
            text.prefs_default_value(str(defaults.count)),
        ),
    }
    view = discord.ui.View(timeout=None)
    for row, field in enumerate(SELECTS):
        values, current, default_label = choices[field]
        select = discord.ui.Select(
            custom_id=custom_id(field, user_id),
            placeholder=text.PREFS_PLACEHOLDERS[field],
            options=_options(values, current, default_label),
            row=row,
        )
        view.add_item(PrefSelect(select, field, user_id))
    toggles = {"remix": prefs.remix, "private": prefs.private}
    for field in BUTTONS:
        on = toggles.get(field)
        style = discord.ButtonStyle.success if on else discord.ButtonStyle.secondary
        if field == "reset":
            style = discord.ButtonStyle.danger
        button = discord.ui.Button(
            custom_id=custom_id(field, user_id), label=text.prefs_button_label(field, on), style=style, row=4
        )
        view.add_item(PrefButton(button, field, user_id))
    return view


def panel_text(bot: ImagineBot, prefs: UserPrefs) -> str:
    return text.prefs_panel(prefs, bot.settings.defaults, bot.service.active_model)


async def show_panel(interaction: discord.Interaction, prefs: UserPrefs, *, edit: bool) -> None:
    """Answer with the panel: a new message, or the one the component sits on (edit in place)."""
    bot: ImagineBot = interaction.client  # type: ignore[assignment]
    content, view = panel_text(bot, prefs), panel_view(bot, interaction.user.id, prefs)
    if edit:
        await interaction.response.edit_message(**fitted(content, view=view))
    elif interaction.response.is_done():
        await interaction.edit_original_response(**fitted(content, view=view))
    else:
        await interaction.response.send_message(**fitted(content, view=view, ephemeral=True))


async def _not_yours(interaction: discord.Interaction, user_id: int) -> bool:
    if interaction.user.id == user_id:
        return False
    await interaction.response.send_message(**fitted(text.PREFS_NOT_YOURS, ephemeral=True))
    return True


# -- the components ---------------------------------------------------------------------------------


class PrefSelect(
    discord.ui.DynamicItem[discord.ui.Select],
    template=r"prf:(?P<field>model|sampler|aspect|count):(?P<user>\d{1,20})",
):
    def __init__(self, item: discord.ui.Select, field: str, user_id: int) -> None:
        super().__init__(item)
        self.field = field
        self.user_id = user_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Select, match: re.Match[str], /
    ) -> PrefSelect:
        return cls(item, match["field"], int(match["user"]))

    @answers_errors
    async def callback(self, interaction: discord.Interaction) -> None:
        if await _not_yours(interaction, self.user_id):
            return
        bot: ImagineBot = interaction.client  # type: ignore[assignment]
        values = (interaction.data or {}).get("values") or [DEFAULT]
        value = None if values[0] == DEFAULT else str(values[0])
        prefs = await load_prefs(bot.service, self.user_id)
        if self.field == "model":
            prefs = prefs.replace(model=value if value in bot.service.model_names() else None)
        elif self.field == "sampler":
            prefs = prefs.replace(sampler=None if value is None else checked_sampler(value))
        elif self.field == "aspect":
            prefs = prefs.replace(aspect=value if value in ASPECTS else None)
        else:
            count = int(value) if value and value.isdigit() else None
            valid = count is not None and 1 <= count <= bot.settings.limits.max_count
            prefs = prefs.replace(count=count if valid else None)
        await save_prefs(bot.service, self.user_id, prefs)
        await show_panel(interaction, prefs, edit=True)


class PrefButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"prf:(?P<field>remix|private|more|reset):(?P<user>\d{1,20})",
):
    def __init__(self, item: discord.ui.Button, field: str, user_id: int) -> None:
        super().__init__(item)
        self.field = field
        self.user_id = user_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> PrefButton:
        return cls(item, match["field"], int(match["user"]))

    @answers_errors
    async def callback(self, interaction: discord.Interaction) -> None:
        if await _not_yours(interaction, self.user_id):
            return
        bot: ImagineBot = interaction.client  # type: ignore[assignment]
        prefs = await load_prefs(bot.service, self.user_id)
        if self.field == "more":
            await forms.send_form(interaction, prefs_form(self.user_id, prefs))
            return
        if self.field == "remix":
            prefs = prefs.replace(remix=not prefs.remix)
        elif self.field == "private":
            prefs = prefs.replace(private=not prefs.private)
        else:
            prefs = UserPrefs()
        await save_prefs(bot.service, self.user_id, prefs)
        await show_panel(interaction, prefs, edit=True)


PANEL_ITEMS = (PrefSelect, PrefButton)


# -- the form: steps, CFG, style -------------------------------------------------------------------


def prefs_form(user_id: int, prefs: UserPrefs) -> discord.ui.Modal:
    return forms.form(
        text.PREFS_FORM_TITLE,
        f"prf:form:{user_id}",
        [
            forms.text_input(
                "steps",
                text.PREFS_STEPS_LABEL,
                default="" if prefs.steps is None else str(prefs.steps),
                max_length=4,
                placeholder=text.PREFS_EMPTY_IS_DEFAULT,
            ),
            forms.text_input(
                "cfg",
                text.PREFS_CFG_LABEL,
                default="" if prefs.cfg is None else format_number(prefs.cfg),
                max_length=6,
                placeholder=text.PREFS_EMPTY_IS_DEFAULT,
            ),
            forms.text_input(
                "style",
                text.PREFS_STYLE_LABEL,
                default=prefs.style or "",
                max_length=100,
                placeholder=text.PREFS_EMPTY_IS_DEFAULT,
            ),
        ],
    )


@forms.form_handler(FORM_ID)
async def submit_prefs_form(
    interaction: discord.Interaction, match: re.Match[str], values: dict[str, str]
) -> None:
    user_id = int(match["user"])
    if await _not_yours(interaction, user_id):
        return
    bot: ImagineBot = interaction.client  # type: ignore[assignment]
    limits = bot.settings.limits
    prefs = await load_prefs(bot.service, user_id)
    try:
        prefs = prefs.replace(
            steps=checked_steps(values.get("steps", ""), limits),
            cfg=checked_cfg(values.get("cfg", ""), limits),
            style=checked_style(values.get("style", "")),
        )
    except PrefsError as exc:
        message = text.prefs_invalid(exc.field, limits)
        await interaction.response.send_message(**fitted(message, ephemeral=True))
        return
    await save_prefs(bot.service, user_id, prefs)
    # A form opened from the panel's button edits the panel; one without a message answers anew.
    await show_panel(interaction, prefs, edit=interaction.message is not None)
