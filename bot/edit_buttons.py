"""The edit buttons under an upscaled result: Vary (Region), Zoom Out 2x and 1.5x, Custom Zoom,
and the four Pan arrows.

Each is an `EditButton`, a DynamicItem whose custom_id holds the action, the job and the image
(`ed:z:<job>:<i>`), so it works on any message that carries it, after restarts too. Whoever clicks
owns, and is charged for, the job it starts. With Remix on (the user's /settings) zooms and pans
open a form with the prompt first; Custom Zoom always asks for its factor.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

import discord

from bot import forms
from bot.access import visible_job
from bot.edits import MAX_ZOOM, PANS, ZOOMS, EditInput, EditKind, EditSource, edit_text, submit_edit
from bot.prefs import load_prefs, results_by_dm
from bot.region import open_region_picker
from bot.replies import defer, fail
from bot.ui import text
from generation.jobs.types import Job
from generation.requests.followups import NoSuchImage

if TYPE_CHECKING:
    from bot.app import ImagineBot

# Action letters live in stored custom_ids: never reuse one for something else.
REGION, CUSTOM_ZOOM = "g", "k"
FORM_ACTIONS = f"{CUSTOM_ZOOM}{''.join(ZOOMS)}{''.join(PANS)}"  # the edits a form can ask about
_JOB_AND_INDEX = r"(?P<job>[A-Za-z0-9_-]{1,64}):(?P<index>\d{1,2})"
CUSTOM_ID = rf"ed:(?P<action>[{REGION}{FORM_ACTIONS}]):{_JOB_AND_INDEX}"
FORM_ID = rf"edf:(?P<action>[{FORM_ACTIONS}]):{_JOB_AND_INDEX}"
PAN_EMOJI = {"l": "⬅️", "r": "➡️", "u": "⬆️", "d": "⬇️"}


def custom_id(action: str, job_id: str, index: int = 0) -> str:
    return f"ed:{action}:{job_id}:{index}"


class EditButton(discord.ui.DynamicItem[discord.ui.Button], template=CUSTOM_ID):
    def __init__(
        self,
        action: str,
        job_id: str,
        index: int = 0,
        *,
        label: str | None = None,
        emoji: str | None = None,
        row: int | None = None,
    ) -> None:
        button = discord.ui.Button(
            label=label,
            emoji=emoji,
            style=discord.ButtonStyle.secondary,
            row=row,
            custom_id=custom_id(action, job_id, index),
        )
        super().__init__(button)
        self.action = action
        self.job_id = job_id
        self.index = index

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> EditButton:
        return cls(match["action"], match["job"], int(match["index"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await handle_edit(interaction, self.action, self.job_id, self.index)


def edit_buttons(job: Job, index: int = 0) -> list[EditButton]:
    """The edit buttons of an upscaled result: region and zooms on row 1, the pans on row 3."""
    buttons = [
        EditButton(REGION, job.id, index, label=text.VARY_REGION_LABEL, emoji="🖌️", row=1),
        *(
            EditButton(action, job.id, index, label=text.zoom_label(factor), emoji="🔎", row=1)
            for action, factor in ZOOMS.items()
        ),
        EditButton(CUSTOM_ZOOM, job.id, index, label=text.CUSTOM_ZOOM_LABEL, emoji="🔎", row=1),
    ]
    buttons += [EditButton(action, job.id, index, emoji=PAN_EMOJI[action], row=3) for action in PANS]
    return buttons


def edit_of(action: str, prompt: str | None = None, factor: float | None = None) -> EditInput:
    if action in PANS:
        return EditInput(EditKind.PAN, prompt=prompt, direction=PANS[action])
    return EditInput(EditKind.ZOOM, prompt=prompt, factor=factor if factor is not None else ZOOMS[action])


async def handle_edit(interaction: discord.Interaction, action: str, job_id: str, index: int) -> None:
    bot: ImagineBot = interaction.client  # type: ignore[assignment]
    if action == REGION:
        await defer(interaction, ephemeral=True)  # the grid is for the clicker alone
        job = await visible_job(interaction, job_id)
        if job is None:
            await fail(interaction, text.job_gone(job_id))
            return
        await open_region_picker(interaction, job, index)
        return
    remix = (await load_prefs(bot.service, interaction.user.id)).remix
    if action == CUSTOM_ZOOM or remix:
        # A form is the first answer: read the job to fill it in.
        job = await visible_job(interaction, job_id)
        if job is None:
            await fail(interaction, text.job_gone(job_id))
            return
        try:
            modal = edit_form(bot, job, action, index, remix=remix)
        except NoSuchImage as exc:
            await fail(interaction, text.describe(exc))
            return
        await forms.send_form(interaction, modal)
        return
    await defer(interaction, ephemeral=await results_by_dm(interaction))
    job = await visible_job(interaction, job_id)
    if job is None:
        await fail(interaction, text.job_gone(job_id))
        return
    try:
        source = EditSource.of_job(job, index)
    except NoSuchImage as exc:
        await fail(interaction, text.describe(exc))
        return
    await submit_edit(interaction, source, edit_of(action))


def edit_form(bot: ImagineBot, job: Job, action: str, index: int, *, remix: bool) -> discord.ui.Modal:
    """Custom Zoom's factor, and with Remix the prompt and flags."""
    inputs = []
    if action == CUSTOM_ZOOM:
        inputs.append(
            forms.text_input(
                "factor",
                text.ZOOM_FACTOR_LABEL,
                default="1.5",
                required=True,
                max_length=5,
                placeholder="1.5",
            )
        )
    if remix:
        kind = EditKind.PAN if action in PANS else EditKind.ZOOM
        inputs.append(
            forms.text_input(
                "prompt",
                text.REMIX_PROMPT_LABEL,
                default=edit_text(EditSource.of_job(job, index), kind, bot.settings),
                long=True,
                required=True,
            )
        )
    title = text.CUSTOM_ZOOM_LABEL if action == CUSTOM_ZOOM else text.REMIX_TITLE
    return forms.form(title, f"edf:{action}:{job.id}:{index}", inputs)


def parse_factor(typed: str) -> float:
    """A zoom factor typed in the form ("1.5", "1.5x"); ValueError with the user's message."""
    cleaned = typed.strip().lower().removesuffix("x").strip()
    try:
        factor = float(cleaned)
    except ValueError:
        raise ValueError(text.zoom_factor_invalid(typed, MAX_ZOOM)) from None
    if not (math.isfinite(factor) and 1.0 < factor <= MAX_ZOOM):
        raise ValueError(text.zoom_factor_invalid(typed, MAX_ZOOM))
    return factor


@forms.form_handler(FORM_ID)
async def submit_edit_form(
    interaction: discord.Interaction, match: re.Match[str], values: dict[str, str]
) -> None:
    await defer(interaction, ephemeral=await results_by_dm(interaction))
    action, job_id, index = match["action"], match["job"], int(match["index"])
    job = await visible_job(interaction, job_id)
    if job is None:
        await fail(interaction, text.job_gone(job_id))
        return
    try:
        factor = parse_factor(values.get("factor", "")) if action == CUSTOM_ZOOM else None
        source = EditSource.of_job(job, index)
    except ValueError as exc:
        await fail(interaction, str(exc))
        return
    except NoSuchImage as exc:
        await fail(interaction, text.describe(exc))
        return
    prompt = values.get("prompt")  # present when the form was a remix
    await submit_edit(interaction, source, edit_of(action, prompt, factor))


EDIT_ITEMS = (EditButton,)
