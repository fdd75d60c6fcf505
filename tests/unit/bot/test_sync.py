"""The hash of the command payload: the same tree hashes the same; any change shows."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.sync import payload_hash, scope_payload, scopes


def tree_with(*commands: app_commands.Command) -> app_commands.CommandTree:
    tree = app_commands.CommandTree(discord.Client(intents=discord.Intents.none()))
    for command in commands:
        tree.add_command(command)
    return tree


def command(name: str, description: str = "does a thing") -> app_commands.Command:
    async def callback(interaction: discord.Interaction, text: str) -> None:
        pass

    return app_commands.Command(name=name, description=description, callback=callback)


def test_the_hash_follows_the_payload():
    targets = scopes(())
    assert targets == [None]
    one = payload_hash(tree_with(command("a"), command("b")), targets, 1)
    assert one == payload_hash(tree_with(command("b"), command("a")), targets, 1)  # order does not count
    assert one != payload_hash(tree_with(command("a"), command("b", "does another")), targets, 1)
    assert one != payload_hash(tree_with(command("a")), targets, 1)
    assert one != payload_hash(tree_with(command("a"), command("b")), targets, 2)  # another application
    guilds = scopes(("5", "6"))
    assert [g.id for g in guilds] == [5, 6]
    assert one != payload_hash(tree_with(command("a"), command("b")), guilds, 1)
    payload = scope_payload(tree_with(command("b"), command("a")), None)
    assert [c["name"] for c in payload] == ["a", "b"] and payload[0]["options"][0]["name"] == "text"
