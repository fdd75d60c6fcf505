"""Remix mode (a user's /settings): the follow-up buttons (Vary, reroll, Zoom Out, Pan) open a form
with the prompt and its flags to edit before the job is queued; what the form holds is what runs.

The form shows the follow-up's own request as `prompt --flags` (`remix_text`), and the edited text
is parsed back into that follow-up (`remixed`): flags the user removed go back to the server's
defaults, the mode and source image stay the follow-up's.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import discord

from bot import forms, strengths, submit
from bot.access import visible_job
from bot.meta import DeliveryMeta
from bot.prefs import load_prefs, results_by_dm
from bot.replies import defer, fail
from bot.ui import text
from bot.ui.text import message_for
from generation.jobs.types import Job
from generation.requests import followups
from generation.requests.followups import NoSuchImage, with_enough_steps
from generation.requests.prompt import PromptError, format_flags, parse_prompt
from generation.requests.request import GenerationRequest, Mode
from generation.requests.validation import EDIT_MODES
from generation.settings import DefaultSettings, Settings

if TYPE_CHECKING:
    from bot.app import ImagineBot

MAX_TEXT = 4000  # a text input holds at most 4000 characters
# The result buttons that remix (bot/buttons.py's action letters): vary, subtle, strong, reroll.
REMIXABLE = ("v", "s", "t", "r")
FORM_ID = r"rmx:(?P<action>[vstr]):(?P<job>[A-Za-z0-9_-]{1,64}):(?P<index>\d{1,2})"


def remix_text(request: GenerationRequest, defaults: DefaultSettings) -> str:
    """`prompt --flags`: the request as its user would type it."""
    flags = format_flags(request, defaults)
    return f"{request.prompt} {flags}".strip() if flags else request.prompt


def remixed(base: GenerationRequest, typed: str, defaults: DefaultSettings) -> GenerationRequest:
    """The follow-up `base` with the edited text's prompt and flags (raises PromptError)."""
    parsed = parse_prompt(typed, defaults)
    request = parsed.replace(
        mode=base.mode, source_image=base.source_image, upscale_factor=base.upscale_factor
    )
    if base.mode is Mode.UPSCALE:
        request = request.replace(count=1, hires=None)
    if base.mode in EDIT_MODES:  # a reroll of an edit: its mask (or zoom, pan) and canvas stay
        request = request.replace(edit=base.edit, width=base.width, height=base.height)
    return with_enough_steps(request) if request.mode is not Mode.TXT2IMG else request


def followup_of(job: Job, action: str, index: int, settings: Settings) -> GenerationRequest:
    """The request the result button `action` makes (as bot/buttons.py does); NoSuchImage."""
    if action == "r":
        return followups.reroll_of(job.request)
    strength = {"s": strengths.SUBTLE, "t": strengths.STRONG}.get(action)
    return followups.variation_of_image(job, index, settings, strength=strength)


async def remix_on(interaction: discord.Interaction) -> bool:
    service = interaction.client.service  # type: ignore[attr-defined]
    return (await load_prefs(service, interaction.user.id)).remix


def remix_form(custom_id: str, request: GenerationRequest, defaults: DefaultSettings) -> discord.ui.Modal:
    return forms.form(
        text.REMIX_TITLE,
        custom_id,
        [
            forms.text_input(
                "prompt",
                text.REMIX_PROMPT_LABEL,
                default=remix_text(request, defaults),
                long=True,
                required=True,
                max_length=MAX_TEXT,
            )
        ],
    )


async def open_remix(interaction: discord.Interaction, action: str, job_id: str, index: int) -> None:
    """Answer a result button with the remix form (the job is read first, to fill it in)."""
    bot: ImagineBot = interaction.client  # type: ignore[assignment]
    job = await visible_job(interaction, job_id)
    if job is None:
        await fail(interaction, text.job_gone(job_id))
        return
    try:
        request = followup_of(job, action, index, bot.settings)
    except NoSuchImage as exc:
        await fail(interaction, text.describe(exc))
        return
    custom_id = f"rmx:{action}:{job.id}:{index}"
    await forms.send_form(interaction, remix_form(custom_id, request, bot.settings.defaults))


@forms.form_handler(FORM_ID)
async def submit_remix(
    interaction: discord.Interaction, match: re.Match[str], values: dict[str, str]
) -> None:
    await defer(interaction, ephemeral=await results_by_dm(interaction))
    bot: ImagineBot = interaction.client  # type: ignore[assignment]
    action, job_id, index = match["action"], match["job"], int(match["index"])
    job = await visible_job(interaction, job_id)
    if job is None:
        await fail(interaction, text.job_gone(job_id))
        return
    try:
        request = remixed(
            followup_of(job, action, index, bot.settings), values.get("prompt", ""), bot.settings.defaults
        )
    except (PromptError, NoSuchImage) as exc:
        await fail(interaction, message_for(exc))
        return
    depth = DeliveryMeta.of(job).depth if action == "r" else 0  # as the buttons count upscales
    await submit.submit(interaction, request, parent_id=job.id, depth=depth)
