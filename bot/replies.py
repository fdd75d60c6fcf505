"""Answering interactions: defer first, then reply or fail in the place that fits.

Everything goes out through `bot.ui.fit.fitted`, so no answer is refused by Discord for its size.
A failure replaces the public "thinking" message with one only the user sees; the public one is
deleted only after its replacement was accepted, so the user never ends up with nothing.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import discord

from bot.ui import text
from bot.ui.fit import fitted
from generation.problems import Problem

log = logging.getLogger(__name__)

Item = TypeVar("Item")


async def defer(interaction: discord.Interaction, *, ephemeral: bool = False) -> None:
    """Acknowledge at once (Discord allows 3 s); all real work happens after this."""
    if interaction.response.is_done():
        return
    interaction.extras["ephemeral"] = ephemeral
    await interaction.response.defer(thinking=True, ephemeral=ephemeral)


async def reply(interaction: discord.Interaction, content: str | None = None, **kwargs) -> None:
    """Replace the deferred "thinking" message (or answer, if nothing was sent yet)."""
    if not interaction.response.is_done():
        await interaction.response.send_message(
            **fitted(content, ephemeral=interaction.extras.get("ephemeral", False), **kwargs)
        )
        return
    await interaction.edit_original_response(**fitted(content, **kwargs))


async def fail(interaction: discord.Interaction, message: str) -> None:
    """Show an error to the user alone where Discord lets us."""
    if not interaction.response.is_done():
        await interaction.response.send_message(**fitted(message, ephemeral=True))
        return
    if interaction.extras.get("ephemeral", False):
        await interaction.edit_original_response(**fitted(message, attachments=[], view=None))
        return
    # The first follow-up of a deferred response would take over the public "thinking" message,
    # so that message stops thinking first; the private answer follows, then the public one goes.
    try:
        await interaction.edit_original_response(**fitted(text.ANSWERED_PRIVATELY, attachments=[], view=None))
    except discord.HTTPException as exc:  # the token may be gone: a follow-up is the last chance
        log.warning("could not replace the thinking message (%s)", exc)
        await interaction.followup.send(**fitted(message, ephemeral=True))
        return
    try:
        await interaction.followup.send(**fitted(message, ephemeral=True))
    except discord.HTTPException as exc:
        log.warning("a private answer was refused (%s); answering in public", exc)
        await interaction.edit_original_response(**fitted(message))
        return
    try:
        await interaction.delete_original_response()
    except discord.HTTPException as exc:  # the private answer is there; the note may stay
        log.info("could not delete the public note: %s", exc)


async def answer_error(interaction: discord.Interaction, error: BaseException, where: str) -> None:
    """Answer for an error no handler caught, so nobody is left with "This interaction failed" or a
    message thinking forever: a Problem (a full disk) in its own words, anything else as a bug."""
    if isinstance(error, Problem):
        log.warning("%s: %s", where, error)
        message = text.describe(error)
    else:
        log.error("%s failed", where, exc_info=error)
        message = text.UNKNOWN_PROBLEM
    with contextlib.suppress(discord.HTTPException):
        await fail(interaction, message)


def answers_errors(
    callback: Callable[[Item, discord.Interaction], Awaitable[None]],
) -> Callable[[Item, discord.Interaction], Awaitable[None]]:
    """For a component's callback: discord.py only logs what a `DynamicItem`'s callback raises."""

    @functools.wraps(callback)
    async def run(item: Item, interaction: discord.Interaction) -> None:
        try:
            await callback(item, interaction)
        except Exception as error:
            custom_id: Any = (interaction.data or {}).get("custom_id")
            await answer_error(interaction, error, f"the component {custom_id}")

    return run
