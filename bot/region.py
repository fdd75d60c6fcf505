"""Vary (Region) without leaving Discord: an ephemeral reply shows the image under a numbered grid
(bot/ui/region_grid.py) and a multi-select of its cells; picking cells opens a form for the prompt;
submitting it queues the edit with exactly those cells (bot/edits.py). With the mask editor page
enabled (bot/web/), the reply also links to it, for a region painted by hand.

The select carries the job and image (`rg:<job>:<index>`) and the form the chosen cells as bits
(`rgf:<job>:<index>:<hex>`), so both work after a restart.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

import discord

from bot import forms
from bot.access import visible_job
from bot.edits import (
    GRID,
    EditInput,
    EditKind,
    EditSource,
    bits_to_cells,
    cells_to_bits,
    edit_text,
    submit_edit,
)
from bot.prefs import results_by_dm
from bot.replies import defer, fail, reply
from bot.ui import text
from bot.ui.region_grid import grid_overlay
from bot.ui.uploads import Upload
from bot.web import mask_page_link
from generation.jobs.types import Job
from generation.requests.followups import NoSuchImage, image_of

if TYPE_CHECKING:
    from bot.app import ImagineBot

SELECT_ID = r"rg:(?P<job>[A-Za-z0-9_-]{1,64}):(?P<index>\d{1,2})"
FORM_ID = r"rgf:(?P<job>[A-Za-z0-9_-]{1,64}):(?P<index>\d{1,2}):(?P<bits>[0-9a-f]{1,4})"


def region_select(job_id: str, index: int, grid: int = GRID) -> discord.ui.Select:
    return discord.ui.Select(
        custom_id=f"rg:{job_id}:{index}",
        placeholder=text.REGION_PLACEHOLDER,
        min_values=1,
        max_values=grid * grid,
        options=[
            discord.SelectOption(label=text.region_cell_label(n, grid), value=str(n))
            for n in range(1, grid * grid + 1)
        ],
    )


def region_view(job_id: str, index: int, link: str | None) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(RegionSelect(region_select(job_id, index), job_id, index))
    if link is not None:
        view.add_item(discord.ui.Button(style=discord.ButtonStyle.link, url=link, label=text.MASK_PAGE_LABEL))
    return view


async def open_region_picker(interaction: discord.Interaction, job: Job, index: int) -> None:
    """Reply (deferred, ephemeral) with the gridded image, the cell select and the page's link."""
    bot: ImagineBot = interaction.client  # type: ignore[assignment]
    try:
        image = image_of(job, index)
    except NoSuchImage as exc:
        await fail(interaction, text.describe(exc))
        return
    overlay = await asyncio.to_thread(grid_overlay, await bot.service.read_artifact(image.key), GRID)
    link = await mask_page_link(bot, interaction, job, index)
    await reply(
        interaction,
        text.region_picker(GRID, link is not None),
        attachments=[Upload(overlay, "region.png").file()],
        view=region_view(job.id, index, link),
    )


def region_form(job: Job, index: int, cells: tuple[int, ...], bot: ImagineBot) -> discord.ui.Modal:
    shown = edit_text(EditSource.of_job(job, index), EditKind.REGION, bot.settings)
    return forms.form(
        text.region_form_title(cells),
        f"rgf:{job.id}:{index}:{cells_to_bits(cells):x}",
        [
            forms.text_input(
                "prompt",
                text.REGION_PROMPT_LABEL,
                default=shown,
                long=True,
                required=True,
                max_length=4000,
            )
        ],
    )


class RegionSelect(discord.ui.DynamicItem[discord.ui.Select], template=SELECT_ID):
    def __init__(self, item: discord.ui.Select, job_id: str, index: int) -> None:
        super().__init__(item)
        self.job_id = job_id
        self.index = index

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Select, match: re.Match[str], /
    ) -> RegionSelect:
        return cls(item, match["job"], int(match["index"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        bot: ImagineBot = interaction.client  # type: ignore[assignment]
        values = (interaction.data or {}).get("values") or []
        cells = tuple(sorted({int(v) for v in values if str(v).isdigit() and 1 <= int(v) <= GRID * GRID}))
        job = await visible_job(interaction, self.job_id)
        if job is None:
            await fail(interaction, text.job_gone(self.job_id))
            return
        if not cells:
            await fail(interaction, text.REGION_NO_CELLS)
            return
        try:
            modal = region_form(job, self.index, cells, bot)
        except NoSuchImage as exc:
            await fail(interaction, text.describe(exc))
            return
        await forms.send_form(interaction, modal)


@forms.form_handler(FORM_ID)
async def submit_region(
    interaction: discord.Interaction, match: re.Match[str], values: dict[str, str]
) -> None:
    await defer(interaction, ephemeral=await results_by_dm(interaction))
    job = await visible_job(interaction, match["job"])
    if job is None:
        await fail(interaction, text.job_gone(match["job"]))
        return
    cells = bits_to_cells(int(match["bits"], 16))
    if not cells:
        await fail(interaction, text.REGION_NO_CELLS)
        return
    try:
        source = EditSource.of_job(job, int(match["index"]))
    except NoSuchImage as exc:
        await fail(interaction, text.describe(exc))
        return
    edit = EditInput(EditKind.REGION, prompt=values.get("prompt", ""), cells=cells)
    await submit_edit(interaction, source, edit)


REGION_ITEMS = (RegionSelect,)
