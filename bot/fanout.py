"""Several jobs from one interaction (`--permute`, `--repeat`): one message each.

The first job is the interaction's own (its deferred response), submitted as any other. Each
further one gets a follow-up message first, whose id goes into the job's meta: delivery then
edits that message (through the interaction's token while it works, then through the channel),
adopting the job from its `queued` event like a job resumed after a restart. A refusal part-way
(the quota ran out) is written into that job's message and stops the rest; nothing already
queued is undone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

import discord

from bot import submit
from bot.meta import DeliveryMeta
from bot.replies import fail
from bot.safety import interaction_check_meta, wants_spoiler
from bot.ui import text
from generation.jobs.service import SubmitRefused
from generation.jobs.types import Job
from generation.requests.request import GenerationRequest

if TYPE_CHECKING:
    from bot.app import ImagineBot


def queue_room(bot: ImagineBot, user_id: int) -> int:
    """How many more jobs the user may queue now (the per-user waiting limit)."""
    waiting = sum(1 for job in bot.service.queue() if job.owner.user_id == user_id)
    return max(0, bot.settings.queue.per_user - waiting)


async def submit_all(
    interaction: discord.Interaction, requests: Sequence[GenerationRequest], *, parent_id: str | None = None
) -> list[Job]:
    """Queue the requests, one job and one message each; the jobs queued (the user is told why
    any were not)."""
    if len(requests) == 1:
        job = await submit.submit(interaction, requests[0], parent_id=parent_id)
        return [] if job is None else [job]
    bot: ImagineBot = interaction.client  # type: ignore[assignment]
    room = queue_room(bot, interaction.user.id)
    if len(requests) > room:  # refuse the lot before queueing part of it
        await fail(interaction, text.no_room_for_jobs(len(requests), room, bot.settings.queue.per_user))
        return []
    # The deferred "thinking" message becomes job 1's before any follow-up is sent: Discord turns
    # the first follow-up after a defer into that message otherwise. (Editing it after submitting
    # could overwrite a result delivered meanwhile.)
    await interaction.edit_original_response(
        content=text.another_job_queued(requests[0], interaction.user.id, 1, len(requests))
    )
    first = await submit.submit(interaction, requests[0], parent_id=parent_id)
    if first is None:
        return []
    jobs = [first]
    for number, request in enumerate(requests[1:], start=2):
        message = await interaction.followup.send(
            text.another_job_queued(request, interaction.user.id, number, len(requests)), wait=True
        )
        job = await _submit_into(bot, interaction, request, message, parent_id)
        if job is None:
            break
        jobs.append(job)
    return jobs


async def _submit_into(
    bot: ImagineBot,
    interaction: discord.Interaction,
    request: GenerationRequest,
    message: discord.WebhookMessage,
    parent_id: str | None,
) -> Job | None:
    """Check and queue one more request, its job delivered into `message`."""
    try:
        request = await submit.check_request(bot, interaction, request)
        spoiler = await wants_spoiler(interaction, bot.service, bot.discord_settings)
        meta = dataclasses.replace(
            DeliveryMeta.for_interaction(interaction, spoiler=spoiler), message_id=message.id
        )
        return await bot.service.submit(
            request,
            submit.owner_of(interaction),
            parent_id=parent_id,
            meta=meta.to_dict() | await interaction_check_meta(interaction),
        )
    except submit.Refused as exc:
        await message.edit(content=str(exc))
    except SubmitRefused as exc:
        await message.edit(content=text.describe(exc))
    return None
