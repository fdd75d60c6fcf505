"""Slash commands are sent to Discord at start only when they changed; admins can /sync."""

from __future__ import annotations

import dataclasses

import discord
from discord import app_commands

from bot.app import ImagineBot
from localcord import FLAG_EPHEMERAL
from tests.helpers.bot_env import FakeRunner, bot_running, fake_runner


def command_puts(server, since: float | None = None) -> list:
    return server.calls_matching(lambda c: c.method == "PUT" and c.path.endswith("/commands"), since=since)


def names(server) -> set[str]:
    return {c["name"] for c in server.commands()}


@app_commands.command(name="ping", description="A command the shipped bot does not have")
async def ping(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("pong")


class WithPing(ImagineBot):
    """The bot with one more command: a changed tree."""

    async def setup_hook(self) -> None:
        self.tree.add_command(ping)
        await super().setup_hook()


async def test_commands_sync_at_start_only_when_they_changed(tmp_path):
    async with bot_running(tmp_path, runner=fake_runner) as env:
        server = env.server
        assert len(command_puts(server)) == 1 and {"imagine", "sync"} <= names(server)

        since = server.now()
        await env.restart(FakeRunner())  # the same tree on the same database
        assert not command_puts(server, since)

        since = server.now()
        env.bot_class = WithPing
        await env.restart(FakeRunner())
        assert len(command_puts(server, since)) == 1 and "ping" in names(server)

        since = server.now()
        await env.restart(FakeRunner())  # that tree again: nothing to send
        assert not command_puts(server, since)

        env.bot_class = ImagineBot
        await env.restart(FakeRunner())
        assert "ping" not in names(server)


async def test_no_sync_at_start_when_the_config_says_so(tmp_path):
    async with bot_running(tmp_path, runner=fake_runner, sync_commands=False) as env:
        assert not command_puts(env.server) and not env.server.commands()


async def test_sync_command_is_for_admins_and_says_whether_anything_changed(tmp_path):
    async with bot_running(tmp_path, runner=fake_runner) as env:
        server = env.server
        since = server.now()
        refused = await server.slash("sync")  # alice, no Manage Server
        message = await refused.wait_original(lambda m: not m.loading)
        assert "Only admins" in message.content and message.flags & FLAG_EPHEMERAL
        assert not command_puts(server, since)

        same = await server.slash("sync", user="mod")
        message = await same.wait_original(lambda m: not m.loading)
        assert "nothing had changed" in message.content and message.flags & FLAG_EPHEMERAL
        assert len(command_puts(server, since)) == 1  # asked for, so sent all the same

        env.bot.tree.add_command(ping)
        changed = await server.slash("sync", user="admin")
        message = await changed.wait_original(lambda m: not m.loading)
        assert "they had changed" in message.content and "ping" in names(server)
        assert len(command_puts(server, since)) == 2


async def test_guild_scoped_commands_sync_when_the_guilds_change(tmp_path):
    async with bot_running(tmp_path, runner=fake_runner) as env:
        server = env.server
        guild = server.guild.id
        since = server.now()
        env.discord_settings = dataclasses.replace(env.discord_settings, guild_ids=(str(guild),))
        await env.restart(FakeRunner())
        puts = command_puts(server, since)
        assert [c.path for c in puts] == [f"/applications/{server.application_id}/guilds/{guild}/commands"]
        assert "imagine" in {c["name"] for c in server.commands(guild)}

        since = server.now()
        await env.restart(FakeRunner())
        assert not command_puts(server, since)
