"""Answering interactions: defer first, then reply or fail in the place that fits."""

from __future__ import annotations

import logging

import discord

log = logging.getLogger(__name__)


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
            content, ephemeral=interaction.extras.get("ephemeral", False), **kwargs
        )
        return
    await interaction.edit_original_response(content=content, **kwargs)


async def fail(interaction: discord.Interaction, message: str) -> None:
    """Show an error to the user alone where Discord lets us."""
    if not interaction.response.is_done():
        await interaction.response.send_message(message, ephemeral=True)
        return
    if interaction.extras.get("ephemeral", False):
        await interaction.edit_original_response(content=message, attachments=[], view=None)
        return
    # The public "thinking" message goes; the error comes as a message only the user sees.
    try:
        await interaction.delete_original_response()
    except discord.HTTPException:
        await interaction.edit_original_response(content=message, attachments=[], view=None)
        return
    await interaction.followup.send(message, ephemeral=True)
