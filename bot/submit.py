"""Submitting a job for an interaction: checks, the job's meta, and handing it to delivery.

Every caller has deferred the interaction already: nothing here runs before Discord has its
acknowledgement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import discord

from bot.checks import role_ids
from bot.meta import DeliveryMeta
from bot.replies import fail
from bot.safety import banned_word_in, interaction_check_meta, wants_spoiler
from bot.ui import text
from generation.jobs.service import SubmitRefused
from generation.jobs.types import Job, JobOwner
from generation.problems import Problem
from generation.requests.prompt import PromptError
from generation.requests.request import GenerationRequest
from generation.requests.validation import ValidationError, validate
from generation.requests.wildcards import VariantError, Wildcards, with_image_prompts

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
    """Each image's prompt variant drawn from its seed, server safety rules over every prompt
    an image is made with, then the generation limits; raises Refused with the reason."""
    return await check_for_guild(bot, interaction.guild_id, request)


async def check_for_guild(
    bot: ImagineBot, guild_id: int | None, request: GenerationRequest
) -> GenerationRequest:
    """`check_request` for a server (or a DM: None), without an interaction (the mask editor page)."""
    request = draw_variants(bot, request)
    prompts = "\n".join((request.prompt, *request.image_prompts))  # a variant must not slip a word past
    word = await banned_word_in(prompts, bot.service, bot.discord_settings, guild_id)
    if word is not None:
        raise Refused(text.banned_word(word))
    try:
        return validate(request, bot.settings)
    except (ValidationError, PromptError) as exc:
        raise Refused(text.describe(exc)) from None


def draw_variants(bot: ImagineBot, request: GenerationRequest) -> GenerationRequest:
    """The request with its seed drawn and each image's {a|b} / __wildcard__ variant resolved
    from its own seed (again for a reroll; a follow-up of one image keeps that image's prompt)."""
    try:
        return with_image_prompts(
            request.resolve_seed(),
            Wildcards.of(bot.settings.variants.wildcards_dir),
            max_length=bot.settings.limits.max_prompt_length,
        )
    except VariantError as exc:
        raise Refused(text.describe(exc)) from None


async def submit(
    interaction: discord.Interaction,
    request: GenerationRequest,
    *,
    parent_id: str | None = None,
    depth: int = 0,
    private: bool | None = None,
    extra_meta: dict[str, Any] | None = None,
    notes: Sequence[Problem] = (),
) -> Job | None:
    """Check and queue the request; its message is the interaction's (deferred) response, with
    `notes` (what the bot changed about the request) under it.

    Returns the job, or None after telling the user why it was refused. `private`: the result
    goes by DM (the user's /settings); by default, when the interaction was answered for the user
    alone. `extra_meta`: more for the job's meta (an edit's inputs).
    """
    bot: ImagineBot = interaction.client  # type: ignore[assignment]
    if private is None:
        private = bool(interaction.extras.get("ephemeral")) and interaction.guild_id is not None
    try:
        request = await check_request(bot, interaction, request)
        spoiler = await wants_spoiler(interaction, bot.service, bot.discord_settings)
        note = " ".join(text.describe(n) for n in notes)
        meta = DeliveryMeta.for_interaction(
            interaction, spoiler=spoiler, depth=depth, private=private, note=note
        )
        job = await bot.service.submit(
            request,
            owner_of(interaction),
            parent_id=parent_id,
            meta=(extra_meta or {}) | meta.to_dict() | await interaction_check_meta(interaction, parent_id),
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
