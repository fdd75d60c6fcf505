"""/style add|remove|list|import: a server's own styles (admins), used with `--style NAME` or the
style option of /imagine. `import` takes a web UI styles.csv as it is."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.autocomplete import matching
from bot.checks import is_admin
from bot.replies import defer, fail, reply
from bot.styles import MAX_SERVER_STYLES, everywhere, save_server_styles, server_styles
from bot.ui import text
from generation.requests.styles import StyleError, check_style, read_styles_csv

if TYPE_CHECKING:
    from bot.app import ImagineBot

MAX_CSV_BYTES = 1024 * 1024


class Styles(commands.Cog):
    style = app_commands.Group(
        name="style",
        description="This server's styles, used with --style NAME",
        default_permissions=discord.Permissions(manage_guild=True),
        guild_only=True,
    )

    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        await defer(interaction, ephemeral=True)
        if is_admin(interaction, self.bot.discord_settings):
            return True
        await fail(interaction, text.ADMIN_ONLY)
        return False

    @style.command(name="add", description="Add a style (or replace the one of that name)")
    @app_commands.describe(
        name="What --style calls it",
        prompt="The style's prompt; {prompt} is where the user's prompt goes (else it is appended)",
        negative="The style's negative prompt ({prompt} works here too)",
    )
    async def add(
        self,
        interaction: discord.Interaction,
        name: app_commands.Range[str, 1, 100],
        prompt: str,
        negative: str | None = None,
    ) -> None:
        assert interaction.guild_id is not None
        limit = self.bot.settings.limits.max_prompt_length
        try:
            style = check_style(name, prompt, negative or "", max_length=limit)
        except StyleError as exc:
            await fail(interaction, text.describe(exc))
            return
        styles = await server_styles(self.bot.service, interaction.guild_id)
        replaced = style.name in styles
        if not replaced and len(styles) >= MAX_SERVER_STYLES:
            await fail(interaction, text.too_many_styles(MAX_SERVER_STYLES))
            return
        styles[style.name] = style
        await save_server_styles(self.bot.service, interaction.guild_id, styles)
        await reply(interaction, text.style_added(style, replaced))

    @style.command(name="remove", description="Remove one of this server's styles")
    async def remove(self, interaction: discord.Interaction, name: str) -> None:
        assert interaction.guild_id is not None
        styles = await server_styles(self.bot.service, interaction.guild_id)
        found = next((n for n in styles if n.casefold() == name.strip().casefold()), None)
        if found is None:
            await fail(interaction, text.style_not_on_server(name.strip()))
            return
        del styles[found]
        await save_server_styles(self.bot.service, interaction.guild_id, styles)
        await reply(interaction, text.style_removed(found))

    @remove.autocomplete("name")
    async def remove_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if not is_admin(interaction, self.bot.discord_settings):
            return []  # interaction_check does not run for autocomplete
        return matching(current, await server_styles(self.bot.service, interaction.guild_id))

    @style.command(name="list", description="This server's styles and the ones every server has")
    async def list_styles(self, interaction: discord.Interaction) -> None:
        own = await server_styles(self.bot.service, interaction.guild_id)
        await reply(interaction, text.style_list(list(own.values()), list(everywhere(self.bot).values())))

    @style.command(name="import", description="Add the styles of a web UI styles.csv")
    @app_commands.describe(file="A styles.csv (name,prompt,negative_prompt) as the web UI writes it")
    async def import_csv(self, interaction: discord.Interaction, file: discord.Attachment) -> None:
        assert interaction.guild_id is not None
        if file.size > MAX_CSV_BYTES:
            await fail(interaction, text.styles_file_too_big(file.size, MAX_CSV_BYTES))
            return
        try:
            found = read_styles_csv((await file.read()).decode("utf-8", errors="replace"))
        except StyleError as exc:
            await fail(interaction, text.describe(exc))
            return
        except discord.HTTPException:
            await fail(interaction, text.UPLOAD_NOT_DOWNLOADED)
            return
        styles = await server_styles(self.bot.service, interaction.guild_id)
        limit = self.bot.settings.limits.max_prompt_length
        added = replaced = 0
        skipped: list[str] = []
        for name, style in found.items():
            try:
                style = check_style(name, style.prompt, style.negative_prompt, max_length=limit)
            except StyleError:
                skipped.append(name)
                continue
            if style.name not in styles and len(styles) >= MAX_SERVER_STYLES:
                skipped.append(name)
                continue
            replaced += style.name in styles
            added += style.name not in styles
            styles[style.name] = style
        await save_server_styles(self.bot.service, interaction.guild_id, styles)
        await reply(interaction, text.styles_imported(added, replaced, skipped))


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(Styles(bot))
