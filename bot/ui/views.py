"""The buttons under job messages: the result's (U1-U4, V1-V4, reroll, info, delete; under an
upscale also vary subtle/strong and the edit buttons of bot/edit_buttons.py) and the cancel button
while a job waits or runs.

The buttons are `bot.buttons.ResultButton`s, which work on any message that carries them.
"""

from __future__ import annotations

import discord

from bot.buttons import CANCEL, DELETE, INFO, REROLL, STRONG, SUBTLE, UPSCALE, VARY, ResultButton
from bot.edit_buttons import edit_buttons
from bot.meta import DeliveryMeta
from bot.settings import DiscordSettings
from bot.ui import text
from generation.jobs.types import Job
from generation.requests.request import Mode


def result_view(job: Job, settings: DiscordSettings) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    if job.request.mode is Mode.UPSCALE:
        view.add_item(ResultButton(SUBTLE, job.id, 0, label=text.VARY_SUBTLE_LABEL, emoji="🪄", row=0))
        view.add_item(ResultButton(STRONG, job.id, 0, label=text.VARY_STRONG_LABEL, emoji="🪄", row=0))
        if DeliveryMeta.of(job).depth < settings.max_upscale_depth:
            view.add_item(ResultButton(UPSCALE, job.id, 0, label=text.UPSCALE_AGAIN_LABEL, emoji="🔍", row=0))
        for button in edit_buttons(job):  # Vary (Region), Zoom Out, Pan: rows 1 and 3
            view.add_item(button)
    else:
        for image in job.images[:5]:
            label = text.upscale_label(image.index + 1)
            view.add_item(ResultButton(UPSCALE, job.id, image.index, label=label, row=0))
        for image in job.images[:5]:
            label = text.vary_label(image.index + 1)
            view.add_item(ResultButton(VARY, job.id, image.index, label=label, row=1))
        view.add_item(ResultButton(REROLL, job.id, 0, emoji="🔄", row=2))
    view.add_item(ResultButton(INFO, job.id, 0, emoji="ℹ️", row=2))
    view.add_item(ResultButton(DELETE, job.id, 0, emoji="🗑️", row=2))
    return view


def progress_view(job_id: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(
        ResultButton(CANCEL, job_id, 0, label=text.CANCEL_LABEL, style=discord.ButtonStyle.secondary)
    )
    return view
