"""Submitting a job for an interaction: checks, the job's meta, and handing it to delivery.

Every caller has deferred the interaction already: nothing here runs before Discord has its
acknowledgement.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from bot.checks import role_ids
from bot.meta import DeliveryMeta
from bot.replies import fail
from bot.safety import banned_word_in, wants_spoiler
from bot.ui import text
from generation.jobs.service import SubmitRefused
from generation.jobs.types import Job, JobOwner
from generation.requests.prompt import PromptError
from generation.requests.request import GenerationRequest
from generation.requests.validation import ValidationError, validate

if TYPE_CHECKING:
    from bot.app import ImagineBot


class Refused(Exception):
    """The request cannot be run; str(exc) is the message for the user."""


def owner_of(interaction: discord.Interaction) -> JobOwner:
    """Whoever started the interaction owns (and is charged for) the job."""
    return JobOwner(
        user_id=interaction.user.id,
        guild_id=interaction.guild_id,
        channel_id=interaction.channel_id,
        role_ids=role_ids(interaction.user),
    )


async def check_request(
    bot: ImagineBot, interaction: discord.Interaction, request: GenerationRequest
) -> GenerationRequest:
    """Server safety rules, then the generation limits; raises Refused with the reason."""
    word = await banned_word_in(request.prompt, bot.service, bot.discord_settings, interaction.guild_id)
    if word is not None:
        raise Refused(text.banned_word(word))
    try:
        return validate(request, bot.settings)
    except (ValidationError, PromptError) as exc:
        raise Refused(text.describe(exc)) from None


async def submit(
    interaction: discord.Interaction,
    request: GenerationRequest,
    *,
    parent_id: str | None = None,
    depth: int = 0,
) -> Job | None:
    """Check and queue the request; its message is the interaction's (deferred) response.

    Returns the job, or None after telling the user why it was refused.
    """
    bot: ImagineBot = interaction.client  # type: ignore[assignment]
    try:
        request = await check_request(bot, interaction, request)
        spoiler = await wants_spoiler(interaction, bot.service, bot.discord_settings)
        meta = DeliveryMeta.for_interaction(interaction, spoiler=spoiler, depth=depth)
        job = await bot.service.submit(
            request,
            owner_of(interaction),
            parent_id=parent_id,
            meta=meta.to_dict(),
            key=f"interaction:{interaction.id}",  # one job per interaction, however often it is sent
        )
    except Refused as exc:
        await fail(interaction, str(exc))
        return None
    except SubmitRefused as exc:
        await fail(interaction, text.describe(exc))
        return None
    bot.delivery.track(job, interaction)
    return job
